"""Writers for a curated folder: kept records under data/<kind>/, removed ones under removed/ (parquet), and the
records that passed the filters under work/filtered/ (JSON lines, read back by the finalize stage).

Used by curation.pipeline; each writes one file per datatrove rank so reruns overwrite, never append. Output file
names are built directly rather than by datatrove's per-document template substitution over all metadata (a
large share of a writer's time on short records); names and stats are the same.
"""

from __future__ import annotations

from datatrove.data import Document
from datatrove.pipeline.writers import JsonlWriter, ParquetWriter

from mixlab.schema import REMOVED_SCHEMA, Kind, encode_row, kept_schema


def removed_row(doc: Document) -> dict:
    """A removed record in canonical form plus why it went: removed_by, reason, dup_of."""
    md = doc.metadata
    row = {name: None for name in REMOVED_SCHEMA.names}
    row.update(encode_row(md["record"]))
    row.update(kind=md["kind"], removed_by=md.get("removed_by"),
               reason=md.get("reason") or md.get("filter_reason"), dup_of=md.get("dup_of"))
    row.update(contamination(md))
    return row


def contamination(md: dict) -> dict:
    return {"benchmark": md.get("benchmark"), "benchmark_item": md.get("benchmark_item"), "overlap": md.get("overlap")}


def kept_row(doc: Document, flagged: bool) -> dict:
    md = doc.metadata
    row = encode_row(md["record"], Kind(md["kind"]), flagged)
    if flagged:
        row.update(contamination(md))
    return row


def rank_name(rank: int | str) -> str:
    """datatrove's ${rank} (zero-padded to 5; stats use the rank "XXXXX")."""
    return str(rank).zfill(5)


class FilteredWriter(JsonlWriter):
    """Writes id + metadata of every record that passed the filters to work/filtered/<rank>.jsonl."""

    name = "🐿 Jsonl"

    def __init__(self, output_folder: str):
        super().__init__(output_folder, output_filename="${rank}.jsonl", compression=None,
                         adapter=lambda _, doc: {"id": doc.id, "metadata": doc.metadata})

    def _get_output_filename(self, document: Document, rank: int | str = 0, **kwargs) -> str:
        return f"{rank_name(rank)}.jsonl"


class KeptWriter(ParquetWriter):
    """Writes each kept record to DIR/data/<kind>/<rank>.parquet with that kind's fixed schema; `flagged` adds the
    contamination columns (decontam --mode flag)."""

    name = "💾 kept records"

    def __init__(self, output_folder: str, flagged: bool = False):
        super().__init__(output_folder, output_filename="${kind}/${rank}.parquet",
                         adapter=lambda _, doc: kept_row(doc, flagged),
                         use_content_defined_chunking=False, max_file_size=-1)
        self.flagged = flagged
        self.schemas = {kind.value: kept_schema(kind, flagged) for kind in Kind}

    def _get_output_filename(self, document: Document, rank: int | str = 0, **kwargs) -> str:
        return f"{document.metadata['kind']}/{rank_name(rank)}.parquet"

    # one writer serves several kinds: pick the schema from the file's <kind>/ folder at each use
    def _write(self, document: dict, file_handler, filename: str):
        self.schema = self.schemas[filename.split("/")[0]]
        super()._write(document, file_handler, filename)

    def _write_batch(self, filename):
        self.schema = self.schemas[filename.split("/")[0]]
        super()._write_batch(filename)


class RemovedWriter(ParquetWriter):
    """Writes removed records (canonical form + removed_by/reason/dup_of) to DIR/removed/<prefix>-<rank>.parquet."""

    name = "🗑️ removed records"

    def __init__(self, output_folder: str, prefix: str):
        super().__init__(output_folder, output_filename=f"{prefix}-${{rank}}.parquet",
                         adapter=lambda _, doc: removed_row(doc), schema=REMOVED_SCHEMA,
                         use_content_defined_chunking=False, max_file_size=-1)
        self.prefix = prefix

    def _get_output_filename(self, document: Document, rank: int | str = 0, **kwargs) -> str:
        return f"{self.prefix}-{rank_name(rank)}.parquet"
