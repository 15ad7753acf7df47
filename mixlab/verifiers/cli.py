"""`mixlab verify INPUT --output OUT [--allow-code-exec]`: score each row's `response` with its row's `verifier`.

    mixlab verify rollouts.jsonl --output scored.parquet

INPUT and OUT are `.jsonl` or `.parquet` (by extension). Rows carry `verifier` (an object, or JSON text as
mixlab's parquet stores it) and `response` (a string); OUT holds the same rows plus `score` (float) and
`details` (an object in JSONL; JSON text in parquet, like `verifier`). A bad row stops the run with an error
naming the file, the row and the field.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from mixlab.verifiers import VerifierError, verify

SUFFIXES = (".jsonl", ".parquet")


class InputError(ValueError):
    """A verify input that cannot be scored; mixlab's CLI prints it as one line."""


def add_verify(sub) -> None:
    p = sub.add_parser("verify", help="score responses with their rows' verifiers (math, format, ...)",
                       description="Score each row's `response` with the verifier named in its `verifier` "
                       "column; write the rows plus `score` and `details`.")
    p.add_argument("input", help="rows with `verifier` and `response` (.jsonl or .parquet)")
    p.add_argument("--output", required=True, help="scored rows (.jsonl or .parquet)")
    p.add_argument("--allow-code-exec", action="store_true",
                   help="allow verifiers that execute generated code (off by default)")
    p.set_defaults(handler=run_verify)


def check_suffix(path: Path) -> None:
    if path.suffix not in SUFFIXES:
        raise InputError(f"{path}: expected a .jsonl or .parquet file")


def read_jsonl(path: Path) -> list[tuple[int, dict]]:
    """(line number, row) for every non-blank line."""
    rows = []
    with path.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise InputError(f"{path}: line {line_no}: malformed_json ({err.msg})") from None
            if not isinstance(row, dict):
                raise InputError(f"{path}: line {line_no}: expected a JSON object")
            rows.append((line_no, row))
    return rows


def row_verifier(row: dict, where: str) -> dict:
    """The row's verifier spec as a dict, decoding mixlab's JSON-text form."""
    if "verifier" not in row or row["verifier"] is None:
        raise InputError(f"{where}: missing_field:verifier")
    spec = row["verifier"]
    if isinstance(spec, str):
        try:
            spec = json.loads(spec)
        except json.JSONDecodeError:
            raise InputError(f"{where}: wrong_type:verifier (text that is not JSON)") from None
    if not isinstance(spec, dict):
        raise InputError(f"{where}: wrong_type:verifier (expected an object, got {type(spec).__name__})")
    return spec


def score_row(row: dict, where: str, allow_code_exec: bool) -> tuple[float, dict]:
    """(score, details) for one row; every problem becomes an InputError naming `where` and the field."""
    spec = row_verifier(row, where)
    if not isinstance(row.get("response"), str):
        problem = "missing_field" if row.get("response") is None else "wrong_type"
        raise InputError(f"{where}: {problem}:response (expected a string)")
    try:
        result = verify(spec, row["response"], allow_code_exec=allow_code_exec)
    except VerifierError as err:
        raise InputError(f"{where}: field verifier: {err}") from None
    return result.score, result.details


def score_rows(rows: list[tuple[str, dict]], allow_code_exec: bool) -> tuple[list[float], list[dict]]:
    scores, details = [], []
    for where, row in rows:
        score, detail = score_row(row, where, allow_code_exec)
        scores.append(score)
        details.append(detail)
    return scores, details


def verify_jsonl(path: Path, allow_code_exec: bool) -> list[dict]:
    rows = [(f"{path}: line {line_no}", row) for line_no, row in read_jsonl(path)]
    scores, details = score_rows(rows, allow_code_exec)
    return [{**row, "score": score, "details": detail} for (_, row), score, detail in zip(rows, scores, details)]


def verify_parquet(path: Path, allow_code_exec: bool) -> pa.Table:
    table = pq.read_table(path)
    for column in ("verifier", "response"):
        if column not in table.column_names:
            raise InputError(f"{path}: missing_field:{column} (no such column)")
    rows = [(f"{path}: row {index + 1}", row) for index, row in enumerate(table.to_pylist())]
    scores, details = score_rows(rows, allow_code_exec)
    table = table.drop_columns([c for c in ("score", "details") if c in table.column_names])
    table = table.append_column("score", pa.array(scores, pa.float64()))
    return table.append_column("details", pa.array([json.dumps(d, ensure_ascii=False) for d in details]))


def write_rows(rows, path: Path) -> None:
    """Write a list of dicts or an arrow table to `path`, converting between the two as its suffix needs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        if isinstance(rows, list):
            rows = [{**row, "details": json.dumps(row["details"], ensure_ascii=False),
                     "verifier": row["verifier"] if isinstance(row["verifier"], str) else json.dumps(row["verifier"])}
                    for row in rows]
            rows = pa.Table.from_pylist(rows)
        pq.write_table(rows, path)
        return
    if not isinstance(rows, list):
        rows = [{**row, "details": json.loads(row["details"])} for row in rows.to_pylist()]
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")


def sandbox_isolation() -> str:
    """The code sandbox's active isolation level and what it enforces (probing the host on first use)."""
    from mixlab.verifiers.sandbox import SandboxUnavailable, describe_isolation

    try:
        return describe_isolation()
    except SandboxUnavailable as err:
        raise InputError(f"--allow-code-exec: {err}") from None


def run_verify(args) -> int:
    source, target = Path(args.input), Path(args.output)
    check_suffix(source)
    check_suffix(target)
    if not source.is_file():
        raise FileNotFoundError(f"{source}: no such file")
    if args.allow_code_exec:
        print(f"code execution allowed, in the sandbox: {sandbox_isolation()}")
    reader = verify_parquet if source.suffix == ".parquet" else verify_jsonl
    scored = reader(source, args.allow_code_exec)
    write_rows(scored, target)
    scores = scored["score"].to_pylist() if isinstance(scored, pa.Table) else [row["score"] for row in scored]
    mean = sum(scores) / len(scores) if scores else 0.0
    print(f"verified {len(scores)} rows: mean score {mean:.4f} -> {target}")
    return 0
