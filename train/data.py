"""The training mix: curated folders (or raw inputs) with weights, sampled reproducibly into one TRL dataset.

    dataset, mix = build_mix([{"path": "runs/demo/curated", "weight": 1.0}], kind="sft", seed=0)   # or preference, rl

Each `datasets:` entry is {path, weight (default 1.0) | rows}: `weight` scales the entry's rows (0.5 = a seeded
half, 2.0 = every row twice), `rows` asks for an exact count (sampled without replacement up to the entry's size,
then whole repeats). A curated folder contributes DIR/data/<kind>/*.parquet; anything else is read as raw input
(files or folders `mixlab curate` accepts), normalised to canonical records, and unreadable rows are counted as
skipped. The returned `mix` (rows per entry and per source) is what gets logged and saved as mix.json.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from datasets import Dataset

from mixlab.recipe import RecipeError
from mixlab.schema import KEPT_SCHEMAS, Kind, encode_row

# rl: `verifier` stays JSON text (its keys differ per verifier; an Arrow struct would pad every row with the union
# of all keys), decoded per row by train/rewards.py
TRAIN_COLUMNS = {"sft": ["messages"], "preference": ["prompt", "chosen", "rejected"], "rl": ["prompt", "verifier"]}


@dataclass
class MixEntry:
    path: str
    weight: float = 1.0
    rows: int | None = None


@dataclass
class EntryReport:
    path: str
    weight: float
    rows_requested: int | None
    rows_available: int
    rows_taken: int
    rows_skipped: int = 0  # raw inputs only: rows that could not be normalised
    sources: dict = field(default_factory=dict)  # source -> {"available": n, "taken": n}


def parse_mix(datasets: list) -> list[MixEntry]:
    """`datasets:` from a recipe → entries; a bare string is a path with weight 1."""
    if not datasets:
        raise RecipeError("recipe field 'datasets': list at least one curated folder or input path")
    entries = []
    for i, item in enumerate(datasets):
        item = {"path": item} if isinstance(item, str) else item
        if not isinstance(item, dict) or "path" not in item:
            raise RecipeError(f"datasets[{i}]: expected a path or {{path, weight | rows}}, got {item!r}")
        unknown = set(item) - {"path", "weight", "rows"}
        if unknown:
            raise RecipeError(f"datasets[{i}]: unknown key(s) {sorted(unknown)} (valid: path, weight, rows)")
        entry = MixEntry(**item)
        if entry.weight < 0 or (entry.rows is not None and entry.rows < 0):
            raise RecipeError(f"datasets[{i}]: weight and rows must be >= 0")
        entries.append(entry)
    return entries


def is_curated_folder(path: Path) -> bool:
    return path.is_dir() and (path / "data").is_dir()


def read_curated(path: Path, kind: str) -> pa.Table:
    folder = path / "data" / kind
    files = sorted(folder.glob("*.parquet"))
    if not files:
        held = sorted(p.name for p in (path / "data").iterdir() if any(p.glob("*.parquet")))
        raise RecipeError(f"{path}: no {kind} records in data/{kind}/ (this folder holds: {', '.join(held) or 'none'})")
    columns = ["source", *TRAIN_COLUMNS[kind]]
    return pa.concat_tables([pq.read_table(f, columns=columns) for f in files])


def read_raw(path: Path, kind: str) -> tuple[pa.Table, int]:
    """Raw inputs normalised to canonical records of `kind`; (table, rows skipped). Files whose format cannot
    give `kind` (e.g. alpaca files when training DPO) are left out."""
    from curation.read import InputSpec, detect_formats, discover_inputs, iter_rows
    from mixlab.formats import FORMAT_KINDS, NormaliseError, normalise
    from mixlab.schema import stable_id

    files = discover_inputs([str(path)])
    formats = {p: f for p, f in detect_formats(files, InputSpec()).items() if kind in FORMAT_KINDS[f]}
    if not formats:
        raise RecipeError(f"{path}: no input file here holds {kind} records")
    rows, skipped = [], 0
    for f in (f for f in files if f.path in formats):
        for row_no, row, error, _ in iter_rows(f):
            try:
                if error:
                    raise NormaliseError(error)
                record = normalise(row, formats[f.path], source=f.source, row_id=stable_id(f.relpath, row_no),
                                   kind=kind)
            except (NormaliseError, ValueError):
                skipped += 1
                continue
            rows.append(encode_row(record, Kind(kind)))
    columns = ["source", *TRAIN_COLUMNS[kind]]
    return pa.Table.from_pylist(rows, schema=KEPT_SCHEMAS[Kind(kind)]).select(columns), skipped


def sample_indices(available: int, wanted: int, rng: np.random.Generator) -> np.ndarray:
    """`wanted` row indices: whole passes over all rows, then a seeded sample without replacement."""
    if available == 0 or wanted == 0:
        return np.zeros(0, dtype=np.int64)
    repeats, rest = divmod(wanted, available)
    parts = [np.arange(available)] * repeats + [np.sort(rng.choice(available, size=rest, replace=False))]
    return np.concatenate(parts)


def _entry_report(entry: MixEntry, table: pa.Table, taken: np.ndarray, skipped: int) -> EntryReport:
    sources = np.array(table.column("source").to_pylist(), dtype=object)
    names, available = np.unique(sources, return_counts=True) if len(sources) else ([], [])
    taken_names, taken_counts = np.unique(sources[taken], return_counts=True) if len(taken) else ([], [])
    taken_by = dict(zip(taken_names, taken_counts.tolist() if len(taken) else []))
    per_source = {str(n): {"available": int(a), "taken": int(taken_by.get(n, 0))} for n, a in zip(names, available)}
    return EntryReport(entry.path, entry.weight, entry.rows, table.num_rows, len(taken), skipped, per_source)


def build_mix(datasets: list, kind: str, seed: int) -> tuple[Dataset, dict]:
    """The shuffled training dataset (only the columns TRL reads) and the resolved mix report."""
    if kind not in TRAIN_COLUMNS:
        raise ValueError(f"unknown training data kind {kind!r} (sft, preference or rl)")
    tables, reports = [], []
    for i, entry in enumerate(parse_mix(datasets)):
        path = Path(entry.path)
        if not path.exists():
            raise RecipeError(f"datasets[{i}]: {entry.path} not found (run `mixlab curate` or `mixlab demo` first)")
        table, skipped = (read_curated(path, kind), 0) if is_curated_folder(path) else read_raw(path, kind)
        wanted = entry.rows if entry.rows is not None else round(table.num_rows * entry.weight)
        taken = sample_indices(table.num_rows, wanted, np.random.default_rng([seed, i]))
        tables.append(table.take(taken))
        reports.append(_entry_report(entry, table, taken, skipped))
    mixed = pa.concat_tables(tables)
    if mixed.num_rows == 0:
        raise RecipeError("the mix is empty: every datasets entry gave 0 rows")
    order = np.random.default_rng(seed).permutation(mixed.num_rows)
    dataset = Dataset(mixed.take(order).select(TRAIN_COLUMNS[kind]))
    return dataset, mix_report(kind, seed, reports)


def mix_report(kind: str, seed: int, reports: list[EntryReport]) -> dict:
    by_source: dict[str, int] = {}
    for report in reports:
        for name, counts in report.sources.items():
            by_source[name] = by_source.get(name, 0) + counts["taken"]
    return {"kind": kind, "seed": seed, "rows": sum(r.rows_taken for r in reports),
            "sources": dict(sorted(by_source.items())), "datasets": [asdict(r) for r in reports]}


def format_mix(mix: dict) -> str:
    """The mix as a few lines for the console / log."""
    lines = [f"mix ({mix['kind']}, seed {mix['seed']}): {mix['rows']} rows"]
    for entry in mix["datasets"]:
        how = f"rows={entry['rows_requested']}" if entry["rows_requested"] is not None else f"weight={entry['weight']}"
        skipped = f", {entry['rows_skipped']} unreadable skipped" if entry["rows_skipped"] else ""
        lines.append(f"  {entry['path']} ({how}): {entry['rows_taken']} of {entry['rows_available']}{skipped}")
        for name, counts in entry["sources"].items():
            lines.append(f"    {name:<24} {counts['taken']:>8} of {counts['available']}")
    return "\n".join(lines)
