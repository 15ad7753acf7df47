"""Renders the demo corpus' rows in their six input formats and writes the files (same seed, same bytes).

    info = write_demo_corpus("runs/demo/raw", seed=0, n_records=3000)
    info["files"], info["records"], info["planted"], info["by_file"], info["plants"]
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from curation.demo_corpus.build import FILES, Entry, build_rows

SHAREGPT_FROM = {"system": "system", "user": "human", "assistant": "gpt"}
HH_SPEAKER = {"user": "Human", "assistant": "Assistant"}
MATH_SCHEMA = pa.schema([("question", pa.string()), ("answer", pa.string()), ("gold", pa.int64())])


def hh_transcript(turns: list[dict]) -> str:
    return "".join(f"\n\n{HH_SPEAKER[m['role']]}: {m['content']}" for m in turns)


def render(name: str, entry: Entry) -> dict:
    """The row as file `name` stores it."""
    if name == "chat.jsonl":
        return {"messages": entry.messages}
    if name == "sharegpt.json":
        return {"conversations": [{"from": SHAREGPT_FROM[m["role"]], "value": m["content"]} for m in entry.messages]}
    if name == "alpaca.jsonl.gz":
        return {"instruction": entry.sample.user, "input": entry.sample.context,
                "output": entry.messages[-1]["content"]}
    if name == "prefs.jsonl":
        return {"prompt": entry.messages[0]["content"], "chosen": entry.chosen, "rejected": entry.rejected}
    if name == "hh.jsonl":
        return {"chosen": hh_transcript(entry.messages + [{"role": "assistant", "content": entry.chosen}]),
                "rejected": hh_transcript(entry.messages + [{"role": "assistant", "content": entry.rejected}])}
    raise ValueError(f"no renderer for {name}")


def file_bytes(name: str, entries: list[Entry]) -> bytes:
    if name == "sharegpt.json":
        return json.dumps([render(name, e) for e in entries], ensure_ascii=False, indent=1).encode() + b"\n"
    lines = [e.raw if e.kind == "raw" else json.dumps(render(name, e), ensure_ascii=False).encode()
             for e in entries]
    data = b"\n".join(lines) + b"\n"
    return gzip.compress(data, compresslevel=9, mtime=0) if name.endswith(".gz") else data


def write_file(path: Path, entries: list[Entry]) -> None:
    if path.name == "math.parquet":
        columns = {"question": [e.math.question for e in entries], "answer": [e.math.answer for e in entries],
                   "gold": [e.math.gold for e in entries]}
        pq.write_table(pa.table(columns, schema=MATH_SCHEMA), path, compression="snappy", row_group_size=4096)
    else:
        path.write_bytes(file_bytes(path.name, entries))


def write_demo_corpus(out_dir: str | Path, seed: int = 0, n_records: int = 3000) -> dict:
    """Writes the six demo files into `out_dir` and returns what was written and planted.

    Returns {"files": names, "records": rows written (malformed lines included), "planted": {problem: rows},
    "by_file": {name: rows}, "plants": [{"file", "row" (0-based position), "problem", "of": {"file", "row"}
    (duplicates only: the clean row copied)}]}.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows, planted = build_rows(seed, n_records)
    for name in FILES:
        write_file(out / name, rows[name])
    where = {id(e): {"file": name, "row": i} for name in FILES for i, e in enumerate(rows[name])}
    plants = [dict(where[id(e)], problem=e.problem, **({"of": where[id(e.of)]} if e.of else {}))
              for name in FILES for e in rows[name] if e.problem]
    by_file = {name: len(rows[name]) for name in FILES}
    return {"files": list(FILES), "records": sum(by_file.values()), "planted": planted, "by_file": by_file,
            "plants": plants}
