"""`mixlab verify` end to end: jsonl and parquet round trips, exact output columns, errors naming the row.

    pytest -q tests/test_verify_cli.py
"""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mixlab.cli import main as cli_main

ROWS = [
    {"id": "a", "verifier": {"name": "math", "answer": "Half of 36 is 18.\n#### 18"}, "response": "\\boxed{18}"},
    {"id": "b", "verifier": {"name": "math", "answer": "#### 1,234"}, "response": "That makes 1,234 apples."},
    {"id": "c", "verifier": {"name": "math", "answer": "\\frac{1}{2}"}, "response": "<think>0.5</think>It is 2."},
    {"id": "d", "verifier": {"name": "format"}, "response": "<think>2 + 2</think>4"},
]
EXPECTED_SCORES = [1.0, 1.0, 0.0, 1.0]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_jsonl_round_trip(tmp_path):
    write_jsonl(tmp_path / "in.jsonl", ROWS)
    assert cli_main(["verify", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "out.jsonl")]) == 0
    out = read_jsonl(tmp_path / "out.jsonl")
    assert [list(row) for row in out] == [["id", "verifier", "response", "score", "details"]] * len(ROWS)
    assert [row["score"] for row in out] == EXPECTED_SCORES
    assert [{k: row[k] for k in ("id", "verifier", "response")} for row in out] == ROWS
    assert out[0]["details"] == {"extracted": "18", "gold": "18", "method": "boxed"}
    assert out[2]["details"]["extracted"] == "2"
    assert out[3]["details"] == {"reason": "ok"}


def test_parquet_round_trip_with_json_text_verifier(tmp_path):
    # mixlab's parquet stores `verifier` as JSON text
    table = pa.Table.from_pylist([{**row, "verifier": json.dumps(row["verifier"])} for row in ROWS])
    pq.write_table(table, tmp_path / "in.parquet")
    assert cli_main(["verify", str(tmp_path / "in.parquet"), "--output", str(tmp_path / "out.parquet")]) == 0
    out = pq.read_table(tmp_path / "out.parquet")
    assert out.column_names == ["id", "verifier", "response", "score", "details"]
    assert out.schema.field("score").type == pa.float64()
    assert out["score"].to_pylist() == EXPECTED_SCORES
    assert out.select(["id", "verifier", "response"]).equals(table)
    assert json.loads(out["details"][1].as_py()) == {"extracted": "1,234", "gold": "1,234", "method": "last_number"}


def test_parquet_to_jsonl_gives_objects(tmp_path):
    table = pa.Table.from_pylist([{**row, "verifier": json.dumps(row["verifier"])} for row in ROWS])
    pq.write_table(table, tmp_path / "in.parquet")
    assert cli_main(["verify", str(tmp_path / "in.parquet"), "--output", str(tmp_path / "out.jsonl")]) == 0
    out = read_jsonl(tmp_path / "out.jsonl")
    assert [row["score"] for row in out] == EXPECTED_SCORES
    assert out[3]["details"] == {"reason": "ok"}


def test_jsonl_to_parquet(tmp_path):
    write_jsonl(tmp_path / "in.jsonl", ROWS)
    assert cli_main(["verify", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "out.parquet")]) == 0
    out = pq.read_table(tmp_path / "out.parquet").to_pylist()
    assert [row["score"] for row in out] == EXPECTED_SCORES
    assert [json.loads(row["verifier"]) for row in out] == [row["verifier"] for row in ROWS]


@pytest.mark.parametrize(("bad_row", "message"), [
    ({"id": "x", "response": "18"}, "line 3: missing_field:verifier"),
    ({"id": "x", "verifier": {"name": "math", "answer": "1"}}, "line 3: missing_field:response"),
    ({"id": "x", "verifier": {"name": "sudoku"}, "response": "1"}, "line 3: field verifier: unknown verifier"),
    ({"id": "x", "verifier": {"name": "math"}, "response": "1"}, "line 3: field verifier: math verifier needs"),
])
def test_bad_row_names_file_row_and_field(tmp_path, capsys, bad_row, message):
    write_jsonl(tmp_path / "in.jsonl", [*ROWS[:2], bad_row])
    assert cli_main(["verify", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "out.jsonl")]) == 2
    err = capsys.readouterr().err
    assert f"in.jsonl: {message}" in err
    assert not (tmp_path / "out.jsonl").exists()


def test_parquet_without_verifier_column(tmp_path, capsys):
    pq.write_table(pa.Table.from_pylist([{"id": "a", "response": "18"}]), tmp_path / "in.parquet")
    assert cli_main(["verify", str(tmp_path / "in.parquet"), "--output", str(tmp_path / "out.jsonl")]) == 2
    assert "in.parquet: missing_field:verifier" in capsys.readouterr().err
