"""Dedup stage 4: drop the records the cluster stage marked, with removed_by/reason/dup_of; keep the rest.

Runs inside `mixlab curate` (stage "finalize") on the records that passed the filters, in the same per-rank
order the signatures were computed in, so decisions/<rank>.parquet's `idx` lines up with the stream.
"""

from __future__ import annotations

import orjson
import pyarrow.parquet as pq
from datatrove.data import Document
from datatrove.io import get_datafolder
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.filters.base_filter import BaseFilter


class FilteredReader(PipelineStep):
    """Reads back work/filtered/<rank>.jsonl (datatrove JsonlWriter output) for the same rank."""

    type = "📖 - READER"
    name = "📖 filtered records"

    def __init__(self, folder: str):
        super().__init__()
        self.folder = get_datafolder(folder)

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        path = f"{rank:05d}.jsonl"
        if not self.folder.exists(path):
            return
        with self.folder.open(path, "rb") as lines:
            for line in lines:
                row = orjson.loads(line)
                self.stat_update("documents")
                yield Document(text="", id=row["id"], metadata=row["metadata"])


class DedupDecisionFilter(BaseFilter):
    name = "🎯 dedup filter"

    def __init__(self, decisions_folder: str, exclusion_writer=None):
        super().__init__(exclusion_writer=exclusion_writer)
        self.decisions_folder = get_datafolder(decisions_folder)
        self._decisions: dict[int, tuple[str, str, str]] | None = None
        self._next_idx = 0

    def load(self, rank: int) -> dict[int, tuple[str, str, str]]:
        path = f"{rank:05d}.parquet"
        if not self.decisions_folder.exists(path):
            return {}
        with self.decisions_folder.open(path, "rb") as f:
            table = pq.ParquetFile(f).read().to_pydict()  # read_table would import pyarrow.dataset (~0.6 s)
        return {i: (rb, r, d) for i, rb, r, d in
                zip(table["idx"], table["removed_by"], table["reason"], table["dup_of"])}

    def run(self, data, rank: int = 0, world_size: int = 1):
        self._decisions = self.load(rank)
        self._next_idx = 0
        yield from super().run(data, rank, world_size)

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        decision = self._decisions.get(self._next_idx)
        self._next_idx += 1
        if decision is None:
            return True
        doc.metadata["removed_by"], doc.metadata["reason"], doc.metadata["dup_of"] = decision
        return False, decision[1]
