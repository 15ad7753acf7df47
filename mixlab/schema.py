"""The canonical record kinds every stage reads and writes (TRL's dataset formats plus provenance).

    from mixlab.schema import Kind, record_to_document, document_to_record, KEPT_SCHEMAS

Records are plain dicts:
  sft:        id, source, messages [{role, content}], meta
  preference: id, source, prompt (messages), chosen (messages), rejected (messages), meta
  rl:         id, source, prompt (messages), verifier {"name": ..., ...args}, meta
In parquet, `meta` and `verifier` are JSON text (their keys vary row to row); `decode_row` restores objects.
"""

from __future__ import annotations

import json
from enum import Enum

import pyarrow as pa
import xxhash
from datatrove.data import Document


class Kind(str, Enum):
    sft = "sft"
    preference = "preference"
    rl = "rl"


ROLES = ("system", "user", "assistant")
MESSAGE_FIELDS = {Kind.sft: ("messages",), Kind.preference: ("prompt", "chosen", "rejected"), Kind.rl: ("prompt",)}

MESSAGES_TYPE = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
KEPT_SCHEMAS = {
    Kind.sft: pa.schema([("id", pa.string()), ("source", pa.string()), ("messages", MESSAGES_TYPE),
                         ("meta", pa.string())]),
    Kind.preference: pa.schema([("id", pa.string()), ("source", pa.string()), ("prompt", MESSAGES_TYPE),
                                ("chosen", MESSAGES_TYPE), ("rejected", MESSAGES_TYPE), ("meta", pa.string())]),
    Kind.rl: pa.schema([("id", pa.string()), ("source", pa.string()), ("prompt", MESSAGES_TYPE),
                        ("verifier", pa.string()), ("meta", pa.string())]),
}
# set by decontamination: on removed records, and on kept ones when it runs in --mode flag
CONTAMINATION_FIELDS = [("benchmark", pa.string()), ("benchmark_item", pa.string()), ("overlap", pa.float64())]
REMOVED_SCHEMA = pa.schema([
    ("id", pa.string()), ("source", pa.string()), ("kind", pa.string()),
    ("messages", MESSAGES_TYPE), ("prompt", MESSAGES_TYPE), ("chosen", MESSAGES_TYPE),
    ("rejected", MESSAGES_TYPE), ("verifier", pa.string()), ("meta", pa.string()),
    ("removed_by", pa.string()), ("reason", pa.string()), ("dup_of", pa.string()), *CONTAMINATION_FIELDS,
])


def kept_schema(kind: Kind, flagged: bool = False) -> pa.Schema:
    """A kept record's columns; `flagged` adds the contamination columns (decontam --mode flag)."""
    schema = KEPT_SCHEMAS[kind]
    return pa.schema([*schema, *CONTAMINATION_FIELDS]) if flagged else schema
JSON_COLUMNS = ("meta", "verifier")


def stable_id(relpath: str, row: int) -> str:
    """Id for an input row without its own `id`: a hash of where it came from, the same on every run."""
    return xxhash.xxh3_64_hexdigest(f"{relpath}:{row}".encode())


def record_kind(record: dict) -> Kind:
    if "messages" in record:
        return Kind.sft
    if "chosen" in record:
        return Kind.preference
    return Kind.rl


def conversations(record: dict) -> list[list[dict]]:
    """Every message list the record holds (all turns count for dedup, filters and decontamination)."""
    return [record[f] for f in MESSAGE_FIELDS[record_kind(record)] if record.get(f)]


def assistant_texts(record: dict) -> list[str]:
    """The assistant responses a record trains on (for preference: chosen and rejected)."""
    return [m["content"] for conv in conversations(record) for m in conv if m["role"] == "assistant"]


def record_text(record: dict) -> str:
    """The whole conversation as one string: the text datatrove steps (dedup, signatures) work on."""
    return "\n".join(f"{m['role']}: {m['content']}" for conv in conversations(record) for m in conv)


def record_to_document(record: dict, order: int) -> Document:
    """`order` is the record's global input position: dedup keeps the earliest copy."""
    kind = record_kind(record)
    return Document(text=record_text(record), id=record["id"],
                    metadata={"kind": kind.value, "source": record["source"], "order": order, "record": record})


def document_to_record(doc: Document) -> dict:
    return doc.metadata["record"]


# json.dumps(value, ensure_ascii=False, sort_keys=True) builds this encoder on every call
JSON_COLUMN_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True)


def encode_json_column(value) -> str:
    if isinstance(value, dict) and not value:
        return "{}"  # most records' meta
    return JSON_COLUMN_ENCODER.encode(value)


def encode_row(record: dict, kind: Kind | None = None, flagged: bool = False) -> dict:
    """Record → parquet row: JSON-encode the object columns (and keep only `kind`'s columns when given)."""
    row = dict(record)
    for col in JSON_COLUMNS:
        if col in row and row[col] is not None and not isinstance(row[col], str):
            row[col] = encode_json_column(row[col])
    if kind is not None:
        row = {name: row.get(name) for name in kept_schema(kind, flagged).names}
    return row


def decode_row(row: dict) -> dict:
    """Parquet row → record: JSON columns back to objects."""
    out = dict(row)
    for col in JSON_COLUMNS:
        if isinstance(out.get(col), str):
            out[col] = json.loads(out[col])
    return out
