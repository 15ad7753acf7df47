"""The records the select stage works on: every prepare-stage survivor that exact/MinHash dedup did not remove.

    pool = load_candidates("DIR/work", tasks=4, features)   # features: which per-record values to compute

Records stream from work/filtered/<rank>.jsonl (the finalize stage replays the same files) minus the rows in
work/dedup/decisions/<rank>.parquet; only the per-record values a step needs are kept (no whole records in
memory): the first user turn for embeddings, a fastText quality score and a token count for budgets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson
import polars as pl
import pyarrow.parquet as pq

from mixlab.schema import conversations

CHUNK = 4096


@dataclass
class Features:
    """Per-record values to compute while streaming; each callable maps a chunk of records to an array."""
    user_text: bool = False
    score: Callable[[list[dict]], np.ndarray] | None = None
    tokens: Callable[[list[dict]], np.ndarray] | None = None


@dataclass
class Candidates:
    rank: np.ndarray                 # prepare task the record came from
    order: np.ndarray                # global input position (unique; earliest = smallest)
    ids: list[str]
    sources: list[str]
    user_texts: list[str] = field(default_factory=list)
    scores: np.ndarray | None = None
    tokens: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.order)


def first_user_turn(record: dict) -> str:
    for conv in conversations(record):
        for message in conv:
            if message["role"] == "user":
                return message["content"] or ""
    return ""


def dedup_removed(work: Path, rank: int) -> set[int]:
    path = work / "dedup" / "decisions" / f"{rank:05d}.parquet"
    return set(pq.read_table(path, columns=["idx"]).column("idx").to_pylist()) if path.exists() else set()


def surviving_records(work: Path, tasks: int) -> Iterator[tuple[int, dict]]:
    """(rank, metadata) of every filtered record dedup kept, rank by rank in stream order."""
    for rank in range(tasks):
        path = work / "filtered" / f"{rank:05d}.jsonl"
        if not path.exists():
            continue
        removed = dedup_removed(work, rank)
        with open(path, "rb") as lines:
            for idx, line in enumerate(lines):
                if idx not in removed:
                    yield rank, orjson.loads(line)["metadata"]


def chunks(rows: Iterator, size: int) -> Iterator[list]:
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def load_candidates(work: str | Path, tasks: int, features: Features) -> Candidates:
    ranks, orders, ids, sources, texts, scores, tokens = [], [], [], [], [], [], []
    for chunk in chunks(surviving_records(Path(work), tasks), CHUNK):
        records = [md["record"] for _, md in chunk]
        ranks += [rank for rank, _ in chunk]
        orders += [md["order"] for _, md in chunk]
        ids += [r["id"] for r in records]
        sources += [md["source"] for _, md in chunk]
        if features.user_text:
            texts += [first_user_turn(r) for r in records]
        if features.score:
            scores.append(features.score(records))
        if features.tokens:
            tokens.append(features.tokens(records))
    return Candidates(rank=np.asarray(ranks, dtype=np.int64), order=np.asarray(orders, dtype=np.int64), ids=ids,
                      sources=sources, user_texts=texts,
                      scores=np.concatenate([np.zeros(0), *scores]) if features.score else None,
                      tokens=np.concatenate([np.zeros(0, dtype=np.int64), *tokens]) if features.tokens else None)


def record_token_counter(tokenizer: str | None) -> Callable[[list[dict]], np.ndarray]:
    """Tokens of every message of a record (the datacard's counter: whitespace words, or a tokenizer's)."""
    from datacards.build import token_counter

    count = token_counter(tokenizer)

    def record_tokens(records: list[dict]) -> np.ndarray:
        owners, contents = [], []
        for i, record in enumerate(records):
            for conv in conversations(record):
                for message in conv:
                    owners.append(i)
                    contents.append(message["content"] or "")
        totals = np.zeros(len(records), dtype=np.int64)
        if contents:
            np.add.at(totals, np.asarray(owners), count(pl.Series(contents, dtype=pl.String)).to_numpy())
        return totals

    return record_tokens
