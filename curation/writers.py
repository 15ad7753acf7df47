"""Parquet writers for a curated folder: kept records under data/<kind>/, removed ones under removed/.

Used by curation.pipeline; each writes one file per datatrove rank so reruns overwrite, never append.
"""

from __future__ import annotations

from datatrove.data import Document
from datatrove.pipeline.writers import ParquetWriter

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


class KeptWriter(ParquetWriter):
    """Writes each kept record to DIR/data/<kind>/<rank>.parquet with that kind's fixed schema; `flagged` adds the
    contamination columns (decontam --mode flag)."""

    name = "💾 kept records"

    def __init__(self, output_folder: str, flagged: bool = False):
        super().__init__(output_folder, output_filename="${kind}/${rank}.parquet",
                         adapter=lambda _, doc: kept_row(doc, flagged),
                         use_content_defined_chunking=False, max_file_size=-1)
        self.flagged = flagged

    # one writer serves several kinds: pick the schema from the file's <kind>/ folder at each use
    def _write(self, document: dict, file_handler, filename: str):
        self.schema = kept_schema(Kind(filename.split("/")[0]), self.flagged)
        super()._write(document, file_handler, filename)

    def _write_batch(self, filename):
        self.schema = kept_schema(Kind(filename.split("/")[0]), self.flagged)
        super()._write_batch(filename)


class RemovedWriter(ParquetWriter):
    """Writes removed records (canonical form + removed_by/reason/dup_of) to DIR/removed/<prefix>-<rank>.parquet."""

    name = "🗑️ removed records"

    def __init__(self, output_folder: str, prefix: str):
        super().__init__(output_folder, output_filename=f"{prefix}-${{rank}}.parquet",
                         adapter=lambda _, doc: removed_row(doc), schema=REMOVED_SCHEMA,
                         use_content_defined_chunking=False, max_file_size=-1)
