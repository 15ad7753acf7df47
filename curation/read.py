"""Find input files, detect their formats up front, and read them as canonical-record Documents (datatrove).

    files = discover_inputs(["data/chat.jsonl", "data/more/"])
    formats = detect_formats(files, InputSpec())          # raises InputError before any work starts
    reader = ChatRecordReader(files, formats, InputSpec(), quarantine_dir="OUT/quarantine",
                              counts_dir="OUT/work/counts")   # first step of a datatrove pipeline

Containers: .jsonl, .jsonl.gz, .json, .json.gz (a top-level array, or JSON lines as `Dataset.to_json`
writes), .parquet, and HF `save_to_disk` folders; a directory argument is searched recursively (other file
types inside it are skipped with a warning). Rows that cannot be read or normalised go to
quarantine/<rank>.jsonl with file, line and error; every row counts once for its source in counts/<rank>.json.
"""

from __future__ import annotations

import gzip
import json
import os
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from functools import partial

import pyarrow.parquet as pq
from datatrove.pipeline.base import PipelineStep
from datatrove.utils.logging import logger

from mixlab.formats import (
    FORMAT_KINDS,
    FORMATS,
    NormaliseError,
    apply_field_map,
    describe_formats,
    detect_format,
    normalise,
    type_name,
)
from mixlab.schema import record_to_document, stable_id

CONTAINERS = {".jsonl.gz": "jsonl.gz", ".json.gz": "json.gz", ".jsonl": "jsonl", ".json": "json",
              ".parquet": "parquet"}
HF_DATASET_MARKERS = ("state.json", "dataset_info.json")
DETECT_ROWS = 20  # parseable rows looked at to detect a file's format
MAX_DETECT_LINES = 1000  # ...and at most this many rows in all, unreadable ones included
RAW_CHARS = 2000
ORDER_STRIDE = 1_000_000_000  # a record's order = file index * stride + row number


class InputError(ValueError):
    """A user-facing problem with the inputs (names the file, and the line or field when relevant)."""


@dataclass(frozen=True)
class InputFile:
    path: str        # absolute path: a file, or an HF `save_to_disk` folder
    relpath: str     # relative to the CLI argument's parent: used in ids and quarantine rows
    source: str      # default source: the CLI argument's name without container suffix
    container: str   # "jsonl" | "jsonl.gz" | "json" | "json.gz" | "parquet" | "hf_disk"
    index: int       # position in the deterministic global order


@dataclass
class InputSpec:
    """The recipe's `input:` section."""

    format: str = "auto"
    field_map: dict = field(default_factory=dict)
    source: str | None = None
    kind: str | None = None


def container_of(name: str) -> str | None:
    return next((c for suffix, c in CONTAINERS.items() if name.endswith(suffix)), None)


def source_name(path: str) -> str:
    name = os.path.basename(path)
    suffix = next((s for s in CONTAINERS if name.endswith(s)), "")
    return name[: len(name) - len(suffix)]


def _hf_units(folder: str) -> list[str] | None:
    """The Dataset folders a `save_to_disk` folder holds (a DatasetDict: each split, sorted), else None."""
    if os.path.isfile(os.path.join(folder, "dataset_dict.json")):
        return sorted(os.path.join(folder, d) for d in os.listdir(folder)
                      if os.path.isdir(os.path.join(folder, d)) and _hf_units(os.path.join(folder, d)))
    names = os.listdir(folder)
    has_marker = any(m in names for m in HF_DATASET_MARKERS)
    return [folder] if has_marker and any(n.endswith(".arrow") for n in names) else None


def _walk(folder: str) -> Iterator[tuple[str, str]]:
    """(path, container) for every input under `folder`, sorted by name at every level."""
    units = _hf_units(folder)
    if units:
        yield from ((u, "hf_disk") for u in units)
        return
    for name in sorted(n for n in os.listdir(folder) if not n.startswith(".")):
        path = os.path.join(folder, name)
        if os.path.isdir(path):
            yield from _walk(path)
        elif container_of(name):
            yield path, container_of(name)
        else:
            logger.warning(f"skipping {path}: not a supported input file")


def discover_inputs(paths: list[str]) -> list[InputFile]:
    """Every input file the CLI arguments name, in a deterministic order (sorted within each argument)."""
    found, seen, relpaths = [], set(), set()
    for arg in paths:
        root = os.path.abspath(arg)
        if not os.path.exists(root):
            raise InputError(f"input not found: {arg}")
        if os.path.isdir(root):
            entries = list(_walk(root))
        elif container_of(root):
            entries = [(root, container_of(root))]
        else:
            raise InputError(f"unsupported input file type: {arg} (supported: {', '.join(CONTAINERS)}, "
                             "or a datasets save_to_disk folder)")
        for path, container in entries:
            if path in seen:
                raise InputError(f"input given twice: {path}")
            seen.add(path)
            relpath = os.path.relpath(path, os.path.dirname(root)).replace(os.sep, "/")
            if relpath in relpaths:  # ids and quarantine rows name inputs by relpath: it must be unique
                raise InputError(f"two inputs are both named {relpath!r} ({path}); rename one, or pass the "
                                 "folder that holds them")
            relpaths.add(relpath)
            found.append(InputFile(path, relpath, source_name(root), container, len(found)))
    if not found:
        raise InputError(f"no input files found in: {', '.join(paths)}")
    return found


RawText = Callable[[], str]


def _raw_text(data: bytes | str) -> str:
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    return text.rstrip("\r\n")[:RAW_CHARS]


def _raw_row(row) -> str:
    return json.dumps(row, ensure_ascii=False, default=str)[:RAW_CHARS]


def _parse_line(line: bytes) -> tuple[dict | None, str | None]:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return None, "invalid_utf8"
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        return None, f"malformed_json: {e}"
    if not isinstance(value, dict):
        return None, f"wrong_type:row (expected object, got {type_name(value)})"
    return value, None


def _open_bytes(f: InputFile):
    return gzip.open(f.path, "rb") if f.container.endswith(".gz") else open(f.path, "rb")


def _iter_json_lines(f: InputFile, handle) -> Iterator[tuple[int, dict | None, str | None, RawText]]:
    for row_no, line in enumerate(handle, start=1):
        if row_no == 1:
            line = line.removeprefix(b"\xef\xbb\xbf")
        if not line.strip():
            continue
        row, error = _parse_line(line)
        yield row_no, row, error, partial(_raw_text, line)


def _iter_json(f: InputFile) -> Iterator[tuple[int, dict | None, str | None, RawText]]:
    """A JSON array of objects; a .json file that does not start with '[' is read as JSON lines."""
    with _open_bytes(f) as handle:
        head = handle.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
        handle.seek(0)
        if not head.startswith(b"["):
            yield from _iter_json_lines(f, handle)
            return
        try:
            rows = json.loads(handle.read().decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise InputError(f"{f.relpath}: not a valid JSON array ({e})") from e
    for row_no, row in enumerate(rows, start=1):
        error = None if isinstance(row, dict) else f"wrong_type:row (expected object, got {type_name(row)})"
        yield row_no, row if error is None else None, error, partial(_raw_row, row)


def _iter_parquet(f: InputFile) -> Iterator[tuple[int, dict | None, str | None, RawText]]:
    try:
        table = pq.ParquetFile(f.path)
    except Exception as e:  # pyarrow raises several types for a file that is not parquet
        raise InputError(f"{f.relpath}: cannot read parquet ({e})") from e
    row_no = 0
    for batch in table.iter_batches(batch_size=1024):
        for row in batch.to_pylist():
            row_no += 1
            yield row_no, row, None, partial(_raw_row, row)


def _iter_hf_disk(f: InputFile) -> Iterator[tuple[int, dict | None, str | None, RawText]]:
    from datasets import DatasetDict, load_from_disk  # slow import: only when an HF folder is read

    loaded = load_from_disk(f.path)
    splits = [loaded[name] for name in sorted(loaded)] if isinstance(loaded, DatasetDict) else [loaded]
    row_no = 0
    for split in splits:
        for batch in split.iter(batch_size=1024):
            for values in zip(*batch.values(), strict=True):
                row_no += 1
                row = dict(zip(batch.keys(), values, strict=True))
                yield row_no, row, None, partial(_raw_row, row)


def iter_rows(f: InputFile) -> Iterator[tuple[int, dict | None, str | None, RawText]]:
    """(row_no, row, error, raw) for every row of `f`; row is None when error says why it is unreadable; raw() is
    the row's text for a quarantine line (made only when asked: most rows never need it).

    Row numbers are 1-based (JSON lines: the line number; blank lines are skipped but still numbered).
    """
    try:
        if f.container in ("jsonl", "jsonl.gz"):
            with _open_bytes(f) as handle:
                yield from _iter_json_lines(f, handle)
        elif f.container in ("json", "json.gz"):
            yield from _iter_json(f)
    except (OSError, EOFError) as e:  # e.g. a truncated or corrupt .gz
        raise InputError(f"{f.relpath}: cannot read ({e})") from e
    if f.container == "parquet":
        yield from _iter_parquet(f)
    elif f.container == "hf_disk":
        yield from _iter_hf_disk(f)
    elif f.container not in ("jsonl", "jsonl.gz", "json", "json.gz"):
        raise InputError(f"{f.relpath}: unknown container {f.container!r}")


def _detect_file_format(f: InputFile, spec: InputSpec) -> tuple[str | None, int]:
    """(format, rows seen) from the first parseable rows of `f`; (None, 0) for a file without rows."""
    seen_fields, first_error, rows_seen, parsed = {}, None, 0, 0
    with closing(iter_rows(f)) as rows:
        for row_no, row, error, _ in rows:
            rows_seen += 1
            if row is None:
                first_error = first_error or f"line {row_no}: {error}"
                if rows_seen >= MAX_DETECT_LINES:
                    break
                continue
            fmt = detect_format(row, spec.field_map)
            if fmt:
                return fmt, rows_seen
            seen_fields.update(dict.fromkeys(row))
            parsed += 1
            if parsed >= DETECT_ROWS:
                break
    if rows_seen == 0:
        return None, 0
    if not parsed:
        raise InputError(f"{f.relpath}: no readable rows to detect the format from "
                         f"(first error: {first_error})")
    raise InputError(f"{f.relpath}: unrecognised input format (fields: {', '.join(seen_fields)}); "
                     f"supported formats:\n{describe_formats()}\n"
                     "Set input.format and input.field_map in the recipe to read other field names.")


def _has_rows(f: InputFile) -> bool:
    with closing(iter_rows(f)) as rows:
        return next(rows, None) is not None


def _check_spec(spec: InputSpec) -> None:
    if spec.format != "auto" and spec.format not in FORMATS:
        raise InputError(f"unknown input format {spec.format!r}; supported formats:\n{describe_formats()}")
    if spec.kind is not None and spec.kind not in ("sft", "preference", "rl"):
        raise InputError(f"unknown input kind {spec.kind!r} (one of: sft, preference, rl)")


def detect_formats(files: list[InputFile], spec: InputSpec) -> dict[str, str]:
    """path → format for every input file with rows; raises InputError before any work is done.

    A forced `spec.format` applies to every file; files without rows are left out (nothing to read).
    """
    _check_spec(spec)
    formats = {}
    for f in files:
        if spec.format != "auto":
            fmt = spec.format if _has_rows(f) else None
        else:
            fmt, _ = _detect_file_format(f, spec)
        if fmt is None:
            continue
        if spec.kind is not None and spec.kind not in FORMAT_KINDS[fmt]:
            raise InputError(f"{f.relpath}: format {fmt!r} cannot produce {spec.kind!r} records "
                             f"(only {', '.join(FORMAT_KINDS[fmt])})")
        formats[f.path] = fmt
    if not formats:
        raise InputError(f"empty input: no rows in {', '.join(f.relpath for f in files)}")
    return formats


class QuarantineFile:
    """quarantine/<rank>.jsonl: a stale file from an earlier run is removed; created on the first bad row."""

    def __init__(self, path: str):
        self.path, self.handle = path, None
        if os.path.exists(path):
            os.remove(path)

    def write(self, entry: dict) -> None:
        if self.handle is None:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            self.handle = open(self.path, "w", encoding="utf-8")
        self.handle.write(json.dumps(entry, ensure_ascii=False) + "\n")

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()


class ChatRecordReader(PipelineStep):
    """Reads this task's inputs (files with index % world_size == rank) as canonical-record Documents."""

    type = "📖 - READER"
    name = "💬 chat records"

    def __init__(self, files: list[InputFile], formats: dict[str, str], spec: InputSpec,
                 quarantine_dir: str, counts_dir: str):
        super().__init__()
        self.files, self.formats, self.spec = files, formats, spec
        self.quarantine_dir, self.counts_dir = quarantine_dir, counts_dir

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        if data:
            yield from data
        counts = Counter()
        quarantine = QuarantineFile(os.path.join(self.quarantine_dir, f"{rank:05d}.jsonl"))
        try:
            for f in self.files:
                if f.index % world_size == rank and f.path in self.formats:
                    yield from self._read_file(f, counts, quarantine)
        finally:
            quarantine.close()
        os.makedirs(self.counts_dir, exist_ok=True)
        with open(os.path.join(self.counts_dir, f"{rank:05d}.json"), "w") as out:
            out.write(json.dumps(dict(counts), sort_keys=True))

    def row_source(self, f: InputFile, row: dict | None) -> str:
        if self.spec.source:
            return self.spec.source
        own = apply_field_map(row, self.spec.field_map).get("source") if row else None
        return own if isinstance(own, str) and own else f.source

    def _read_file(self, f: InputFile, counts: Counter, quarantine: QuarantineFile):
        logger.info(f"reading {f.relpath} as {self.formats[f.path]}")
        for row_no, row, error, raw in iter_rows(f):
            source = self.row_source(f, row)
            counts[source] += 1
            self.stat_update("rows_in")
            record = None
            if row is not None:
                record, error = self._normalise(f, row_no, row, source)
            if record is None:
                self.stat_update("quarantined", f"quarantined:{error.split(' ')[0].rstrip(':')}")
                quarantine.write({"file": f.relpath, "line": row_no, "source": source, "error": error,
                                  "raw": raw()})
                continue
            doc = record_to_document(record, order=f.index * ORDER_STRIDE + row_no)
            self.update_doc_stats(doc)
            yield doc

    def _normalise(self, f: InputFile, row_no: int, row: dict, source: str) -> tuple[dict | None, str | None]:
        try:
            with self.track_time():
                record = normalise(row, self.formats[f.path], field_map=self.spec.field_map, source=source,
                                   row_id=stable_id(f.relpath, row_no), kind=self.spec.kind)
            return record, None
        except NormaliseError as e:
            return None, e.error
