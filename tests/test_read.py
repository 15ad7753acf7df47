"""Tests for curation.read: discovery of every container, format detection errors, quarantine and counts.

Run: .venv/bin/pytest tests/test_read.py -q   (all data is generated into tmp_path; nothing is downloaded)
"""

from __future__ import annotations

import gzip
import json
import math
import os
import pickle

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.read import ChatRecordReader, InputError, InputSpec, detect_formats, discover_inputs, iter_rows
from curation.writers import KeptWriter
from mixlab.schema import stable_id

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROWS = [
    {"messages": [{"role": "user", "content": f"Question {i}?"},
                  {"role": "assistant", "content": f"Answer {i}."}], "topic": f"t{i}"}
    for i in range(3)
]


def write_jsonl(path, rows, opener=open):
    with opener(path, "wt", encoding="utf-8") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    return str(path)


def write_container(folder, container: str, rows=ROWS) -> str:
    """`rows` saved as <folder>/chat.<container> (or a save_to_disk folder); returns the path."""
    if container == "jsonl":
        return write_jsonl(folder / "chat.jsonl", rows)
    if container == "jsonl.gz":
        return write_jsonl(folder / "chat.jsonl.gz", rows, gzip.open)
    if container in ("json", "json.gz"):
        path = folder / f"chat.{container}"
        with (gzip.open if container == "json.gz" else open)(path, "wt", encoding="utf-8") as f:
            json.dump(rows, f, indent=2)
        return str(path)
    if container == "parquet":
        path = folder / "chat.parquet"
        pq.write_table(pa.Table.from_pylist(rows), path)
        return str(path)
    from datasets import Dataset

    Dataset.from_list(rows).save_to_disk(str(folder / "chat"))
    return str(folder / "chat")


def read_all(paths, tmp_path, spec=None, rank=0, world_size=1):
    """(documents, quarantine rows, counts) of one reader task over `paths`."""
    spec = spec or InputSpec()
    files = discover_inputs(paths)
    reader = ChatRecordReader(files, detect_formats(files, spec), spec, quarantine_dir=str(tmp_path / "q"),
                              counts_dir=str(tmp_path / "counts"))
    docs = list(reader.run(rank=rank, world_size=world_size))
    qfile = tmp_path / "q" / f"{rank:05d}.jsonl"
    quarantined = [json.loads(line) for line in qfile.read_text().splitlines()] if qfile.exists() else []
    counts = json.loads((tmp_path / "counts" / f"{rank:05d}.json").read_text())
    return docs, quarantined, counts


@pytest.mark.parametrize("container", ["jsonl", "jsonl.gz", "json", "json.gz", "parquet", "hf_disk"])
def test_every_container_reads_the_same_records(tmp_path, container):
    data = tmp_path / "data"
    data.mkdir()
    path = write_container(data, container)
    files = discover_inputs([path])
    assert [(f.container, f.source, f.index) for f in files] == [(container, "chat", 0)]
    docs, quarantined, counts = read_all([path], tmp_path)
    records = [d.metadata["record"] for d in docs]
    assert [r["messages"] for r in records] == [r["messages"] for r in ROWS]
    assert [r["meta"] for r in records] == [{"topic": f"t{i}"} for i in range(3)]
    assert [r["id"] for r in records] == [stable_id(files[0].relpath, n) for n in (1, 2, 3)]
    assert [d.metadata["order"] for d in docs] == [1, 2, 3]
    assert {d.metadata["source"] for d in docs} == {"chat"} and {d.metadata["kind"] for d in docs} == {"sft"}
    assert quarantined == [] and counts == {"chat": 3}


def test_dataset_dict_splits_and_mixed_directory(tmp_path):
    from datasets import Dataset, DatasetDict

    mix = tmp_path / "mix"
    (mix / "sub").mkdir(parents=True)
    write_jsonl(mix / "b.jsonl", ROWS[:1])
    pq.write_table(pa.Table.from_pylist(ROWS[:2]), mix / "sub" / "a.parquet")
    (mix / "README.md").write_text("not data")
    DatasetDict({"train": Dataset.from_list(ROWS), "test": Dataset.from_list(ROWS[:1])}).save_to_disk(
        str(mix / "hf"))
    files = discover_inputs([str(mix)])
    assert [(f.relpath, f.container, f.source, f.index) for f in files] == [
        ("mix/b.jsonl", "jsonl", "mix", 0), ("mix/hf/test", "hf_disk", "mix", 1),
        ("mix/hf/train", "hf_disk", "mix", 2), ("mix/sub/a.parquet", "parquet", "mix", 3)]
    docs, quarantined, counts = read_all([str(mix)], tmp_path)
    assert counts == {"mix": 1 + 1 + 3 + 2} and len(docs) == 7 and not quarantined
    orders = [d.metadata["order"] for d in docs]
    assert orders == sorted(orders) and orders[0] == 1 and orders[-1] == 3_000_000_002


def test_json_file_holding_json_lines_is_read(tmp_path):
    from datasets import Dataset

    path = tmp_path / "export.json"
    Dataset.from_list(ROWS).to_json(str(path))  # datasets writes JSON lines to .json by default
    docs, quarantined, _ = read_all([str(path)], tmp_path)
    assert len(docs) == 3 and not quarantined


def test_bad_rows_are_quarantined_with_line_and_reason(tmp_path):
    good = json.dumps(ROWS[0]).encode()
    lines = [
        good,                                                                       # 1
        b'{"messages": [{"role": "user", "content": "unterminated"}',               # 2 malformed JSON
        b"",                                                                        # 3 blank: skipped
        b'{"messages": [{"role": "user", "content": "caf\xe9"}]}',                 # 4 invalid UTF-8
        json.dumps({"messages": "just a string", "source": "upstream"}).encode(),  # 5 wrong type
        json.dumps({"text": "no schema", "label": 3}).encode(),                    # 6 unknown schema
        b"[1, 2]",                                                                  # 7 not an object
        json.dumps({"messages": [{"role": "tool", "content": "x"}]}).encode(),     # 8 bad role
        good,                                                                       # 9
    ]
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    docs, quarantined, counts = read_all([str(path)], tmp_path)
    assert len(docs) == 2
    got = [(q["file"], q["line"], q["source"], q["error"].split(" ")[0]) for q in quarantined]
    assert got == [("bad.jsonl", 2, "bad", "malformed_json:"), ("bad.jsonl", 4, "bad", "invalid_utf8"),
                   ("bad.jsonl", 5, "upstream", "wrong_type:messages"),
                   ("bad.jsonl", 6, "bad", "unknown_schema"), ("bad.jsonl", 7, "bad", "wrong_type:row"),
                   ("bad.jsonl", 8, "bad", "bad_role:tool")]
    assert quarantined[1]["raw"] == '{"messages": [{"role": "user", "content": "caf\ufffd"}]}'
    assert quarantined[3]["error"] == "unknown_schema (fields: text, label)"
    assert quarantined[4]["error"] == "wrong_type:row (expected object, got list)"
    assert counts == {"bad": 7, "upstream": 1}  # every non-blank row counts once: 2 kept + 6 quarantined
    assert sum(counts.values()) == len(docs) + len(quarantined)


def test_row_source_field_spec_source_and_field_map(tmp_path):
    rows = [{"conv": r["messages"], "source": "from-row", "uid": f"u{i}"} for i, r in enumerate(ROWS)]
    path = write_jsonl(tmp_path / "mapped.jsonl", rows)
    spec = InputSpec(field_map={"messages": "conv", "id": "uid"})
    docs, _, counts = read_all([path], tmp_path, spec)
    assert [d.id for d in docs] == ["u0", "u1", "u2"] and counts == {"from-row": 3}
    assert docs[0].metadata["record"]["meta"] == {"source": "from-row"}
    forced = InputSpec(field_map={"messages": "conv"}, source="forced")
    docs, _, counts = read_all([path], tmp_path, forced)
    assert {d.metadata["source"] for d in docs} == {"forced"} and counts == {"forced": 3}


def test_question_answer_as_rl_and_forced_format(tmp_path):
    path = write_jsonl(tmp_path / "gsm.jsonl", [{"question": "1+1?", "answer": "1+1=2\n#### 2"}])
    docs, _, _ = read_all([path], tmp_path, InputSpec(kind="rl"))
    assert docs[0].metadata["kind"] == "rl"
    assert docs[0].metadata["record"]["verifier"] == {"name": "math", "answer": "1+1=2\n#### 2"}
    chat = write_jsonl(tmp_path / "chat.jsonl", ROWS)
    with pytest.raises(InputError, match="chat.jsonl: format 'messages' cannot produce 'rl'"):
        detect_formats(discover_inputs([chat]), InputSpec(kind="rl"))
    # a forced format reads every row as that format: rows without its fields are quarantined
    docs, quarantined, _ = read_all([chat], tmp_path, InputSpec(format="alpaca"))
    assert not docs and [q["error"].split(" ")[0] for q in quarantined] == ["unknown_schema"] * 3
    with pytest.raises(InputError, match="unknown input format 'chatml'"):
        detect_formats(discover_inputs([chat]), InputSpec(format="chatml"))


def test_unrecognisable_file_fails_before_reading(tmp_path):
    good = write_jsonl(tmp_path / "good.jsonl", ROWS)
    odd = write_jsonl(tmp_path / "odd.jsonl", [{"text": "hello", "score": 1}, {"text": "bye", "url": "x"}])
    files = discover_inputs([good, odd])
    with pytest.raises(InputError) as caught:
        detect_formats(files, InputSpec())
    message = str(caught.value)
    assert "odd.jsonl" in message and "fields: text, score, url" in message
    assert "messages:" in message and "sharegpt:" in message and "hh:" in message


def test_file_with_some_bad_lines_is_detected_from_good_ones(tmp_path):
    path = tmp_path / "mostly.jsonl"
    path.write_text("{not json\n[1]\n" + json.dumps({"instruction": "i", "output": "o"}) + "\n")
    assert detect_formats(discover_inputs([str(path)]), InputSpec()) == {str(path): "alpaca"}
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_text("{not json\n")
    with pytest.raises(InputError, match="garbage.jsonl: no readable rows.*malformed_json"):
        detect_formats(discover_inputs([str(garbage)]), InputSpec())


def test_empty_missing_and_unsupported_inputs(tmp_path):
    (tmp_path / "empty.jsonl").write_text("\n\n")
    (tmp_path / "empty.json").write_text("[]")
    with pytest.raises(InputError, match="empty input: no rows in empty.json, empty.jsonl"):
        detect_formats(discover_inputs([str(tmp_path / "empty.json"), str(tmp_path / "empty.jsonl")]),
                       InputSpec())
    with pytest.raises(InputError, match="input not found: .*nope.jsonl"):
        discover_inputs([str(tmp_path / "nope.jsonl")])
    (tmp_path / "table.csv").write_text("a,b\n")
    with pytest.raises(InputError, match="unsupported input file type: .*table.csv"):
        discover_inputs([str(tmp_path / "table.csv")])
    (tmp_path / "nothing").mkdir()
    with pytest.raises(InputError, match="no input files found"):
        discover_inputs([str(tmp_path / "nothing")])
    for parent in ("x", "y"):
        (tmp_path / parent).mkdir()
        (tmp_path / parent / "same.jsonl").write_text("{}\n")
    with pytest.raises(InputError, match="two inputs are both named 'same.jsonl'"):
        discover_inputs([str(tmp_path / "x" / "same.jsonl"), str(tmp_path / "y" / "same.jsonl")])
    (tmp_path / "broken.json").write_text('[{"messages": []},')
    with pytest.raises(InputError, match="broken.json: not a valid JSON array"):
        detect_formats(discover_inputs([str(tmp_path / "broken.json")]), InputSpec())


def test_parquet_null_columns_count_as_absent(tmp_path):
    rows = [{"instruction": "a", "input": None, "output": "b"},
            {"instruction": "c", "input": "d", "output": "e"}]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "alpaca.parquet")
    docs, _, _ = read_all([str(tmp_path / "alpaca.parquet")], tmp_path)
    assert [d.metadata["record"]["messages"][0]["content"] for d in docs] == ["a", "c\n\nd"]


def test_iter_rows_numbers_lines_and_keeps_raw(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"a": 1}\n\n' + b'{"b": "' + b"y" * 3000 + b'"\n')
    rows = list(iter_rows(discover_inputs([str(path)])[0]))
    assert [(n, row, error is None) for n, row, error, _ in rows[:1]] == [(1, {"a": 1}, True)]
    assert rows[1][0] == 3 and rows[1][2].startswith("malformed_json") and len(rows[1][3]()) == 2000


def test_ids_order_and_quarantine_are_identical_across_runs(tmp_path):
    data = tmp_path / "in"
    data.mkdir()
    write_jsonl(data / "a.jsonl", ROWS + [{"bogus": 1}])
    write_jsonl(data / "b.jsonl", ROWS)
    runs = []
    for run in ("one", "two"):
        (tmp_path / run).mkdir()
        docs, _, counts = read_all([str(data)], tmp_path / run)
        runs.append(([(d.id, d.metadata["order"], d.text) for d in docs], counts,
                     (tmp_path / run / "q" / "00000.jsonl").read_bytes()))
    assert runs[0] == runs[1]
    ids = [doc_id for doc_id, _, _ in runs[0][0]]
    assert len(set(ids)) == 6  # the same rows in two files still get distinct ids
    # rerunning a task in the same folder overwrites its quarantine file instead of appending
    docs, quarantined, _ = read_all([str(data)], tmp_path / "one")
    assert len(quarantined) == 1 and (tmp_path / "one" / "q" / "00000.jsonl").read_bytes() == runs[0][2]


def test_reader_in_local_executor_with_two_tasks(tmp_path):
    from datatrove.executor import LocalPipelineExecutor

    data = tmp_path / "in"
    data.mkdir()
    write_jsonl(data / "a.jsonl", ROWS + [{"nope": True}])
    write_jsonl(data / "b.jsonl", ROWS[:2])
    files = discover_inputs([str(data)])
    spec = InputSpec()
    reader = ChatRecordReader(files, detect_formats(files, spec), spec, quarantine_dir=str(tmp_path / "q"),
                              counts_dir=str(tmp_path / "counts"))
    assert pickle.loads(pickle.dumps(reader)).files == files  # datatrove ships steps to worker processes
    LocalPipelineExecutor(pipeline=[reader, KeptWriter(str(tmp_path / "data"))], tasks=2, workers=1,
                          logging_dir=str(tmp_path / "logs")).run()
    counts = [json.loads((tmp_path / "counts" / f"{r:05d}.json").read_text()) for r in (0, 1)]
    assert counts == [{"in": 4}, {"in": 2}]
    written = [pq.read_table(path) for path in sorted((tmp_path / "data" / "sft").glob("*.parquet"))]
    assert [t.num_rows for t in written] == [3, 2]
    assert written[0].column("messages").to_pylist() == [r["messages"] for r in ROWS]
    assert [json.loads(x)["line"] for x in (tmp_path / "q" / "00000.jsonl").read_text().splitlines()] == [4]
    assert not (tmp_path / "q" / "00001.jsonl").exists()
    stats = json.loads((tmp_path / "logs" / "stats.json").read_text())
    reader_stats = next(s for s in stats if "chat records" in s["name"])
    assert reader_stats["stats"]["rows_in"] == 6
    assert reader_stats["stats"]["quarantined"] == 1


def test_json_lines_keep_what_the_stdlib_json_reads(tmp_path):
    """A big integer stays exact (orjson, tried for speed, turns it into a float), NaN and a lone surrogate escape
    read; invalid UTF-8, broken JSON and a non-object keep their named errors; raw() gives the line's text."""
    path = tmp_path / "x.jsonl"
    lines = [b'{"a": 123456789012345678901234567890}', b'{"a": NaN}', b'{"a": "\\ud800"}', b'{"a": 1}',
             b'{"a": "\xff"}', b'{"a": ', b'[1]']
    path.write_bytes(b"\n".join(lines) + b"\n")
    rows = list(iter_rows(discover_inputs([str(path)])[0]))
    assert rows[0][1] == {"a": 123456789012345678901234567890}
    assert math.isnan(rows[1][1]["a"]) and rows[2][1] == {"a": "\ud800"} and rows[3][1] == {"a": 1}
    assert [error.split(":")[0] for _, _, error, _ in rows[4:]] == ["invalid_utf8", "malformed_json", "wrong_type"]
    assert rows[5][3]() == '{"a": '
