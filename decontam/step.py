"""DecontaminationFilter: a datatrove filter that drops (or flags) records containing a benchmark item.

    DecontaminationFilter(index_path="DIR/work/decontam/index", threshold=0.5, mode="remove",
                          hits_dir="DIR/work/decontam/hits",
                          exclusion_writer=RemovedWriter("DIR/removed", prefix="decontam"))

Every turn of the record counts (decontam.index has the matching rule). On a match the document gets
removed_by="decontam", reason="contaminated:<task>", benchmark, benchmark_item and overlap (the best match);
mode "remove" drops it (the exclusion writer writes it to removed/), mode "flag" keeps it with those fields.
Every (record, item) pair above the threshold, not only the best, goes to hits_dir/<rank:05d>.jsonl for
decontam.report.
"""

from __future__ import annotations

import json

from datatrove.data import Document
from datatrove.io import get_datafolder
from datatrove.pipeline.filters.base_filter import BaseFilter

from decontam.index import BenchmarkIndex, Match, best_match
from mixlab.schema import conversations

MODES = ("remove", "flag")
LOADED_INDEXES: dict[str, BenchmarkIndex] = {}  # per process: every task a worker runs shares one loaded index


def load_index(index_path: str) -> BenchmarkIndex:
    if index_path not in LOADED_INDEXES:
        LOADED_INDEXES[index_path] = BenchmarkIndex.load(index_path)
    return LOADED_INDEXES[index_path]


def document_texts(doc: Document) -> list[str]:
    """Every turn of the canonical record (system, user, assistant; preference: prompt, chosen and rejected)."""
    record = doc.metadata.get("record")
    if record is None:
        return [doc.text]
    return [m["content"] or "" for conv in conversations(record) for m in conv]


class DecontaminationFilter(BaseFilter):
    """Matches documents in batches against a saved BenchmarkIndex; see the module docstring."""

    type = "🔻 - FILTER"
    name = "🧪 decontamination"

    def __init__(self, index_path: str, threshold: float = 0.5, mode: str = "remove", hits_dir: str | None = None,
                 exclusion_writer=None, batch_size: int = 256):
        super().__init__(exclusion_writer, batch_size=batch_size)
        if mode not in MODES:
            raise ValueError(f"decontamination mode must be one of {MODES}, not {mode!r}")
        if not 0 <= threshold < 1:
            raise ValueError(f"decontamination threshold must be in [0, 1), not {threshold}")
        self.index_path = str(index_path)
        self.threshold = threshold
        self.mode = mode
        self.hits_folder = get_datafolder(hits_dir) if hits_dir else None
        self.hits_file = None

    def run(self, data, rank: int = 0, world_size: int = 1):
        if self.hits_folder is None:
            yield from super().run(data, rank, world_size)
            return
        self.hits_file = self.hits_folder.open(f"{rank:05d}.jsonl", "w")  # "w": a rerun overwrites
        try:
            yield from super().run(data, rank, world_size)
        finally:
            self.hits_file.close()
            self.hits_file = None

    def filter_batch(self, batch: list[Document]) -> list[bool | tuple[bool, str]]:
        index = load_index(self.index_path)
        matches = index.matches_batch([document_texts(doc) for doc in batch], self.threshold)
        return [self.verdict(doc, doc_matches) for doc, doc_matches in zip(batch, matches)]

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        return self.filter_batch([doc])[0]

    def verdict(self, doc: Document, matches: list[Match]) -> bool | tuple[bool, str]:
        for task in dict.fromkeys(m.task for m in matches):
            self.stat_update(f"contaminated_{task}")
        if self.hits_file is not None:
            for m in matches:
                self.hits_file.write(json.dumps({"id": doc.id, "source": doc.metadata.get("source"), "task": m.task,
                                                 "item_id": m.item_id, "overlap": m.overlap}) + "\n")
        best = best_match(matches)
        if best is None:
            return True
        reason = f"contaminated:{best.task}"
        doc.metadata.update(removed_by="decontam", reason=reason, benchmark=best.task, benchmark_item=best.item_id,
                            overlap=best.overlap)
        return (False, reason) if self.mode == "remove" else True
