"""ChatFilter: the base of every chat-aware filter (one filter per file in this folder).

A filter looks at the canonical record (doc.metadata["record"]) and returns True to keep it or
(False, "reason") to drop it; the drop is written to removed/ with removed_by="filter:<name>".
"""

from __future__ import annotations

from abc import abstractmethod

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter

BATCH_RECORDS = 256


class ChatFilter(BaseFilter):
    """Subclasses set `name` (the recipe key) and implement `check(record)`.

    Records pass in batches of BATCH_RECORDS: datatrove then times each batch, not each record (its per-record
    timing and batching cost ~3 µs a record and filter, about what the cheap filters themselves cost)."""

    type = "🔻 - FILTER"
    name: str = "chat-filter"

    def __init__(self, exclusion_writer=None, batch_size: int = BATCH_RECORDS):
        super().__init__(exclusion_writer, batch_size=batch_size)

    @abstractmethod
    def check(self, record: dict) -> bool | tuple[bool, str]:
        raise NotImplementedError

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        return self.verdict(doc, self.check(doc.metadata["record"]))

    def verdict(self, doc: Document, result: bool | tuple[bool, str]) -> bool | tuple[bool, str]:
        """`check`'s result for `doc` as datatrove takes it; a drop is marked on the doc for the removed/ row."""
        keep, reason = (result, None) if isinstance(result, bool) else result
        if not keep:
            doc.metadata["removed_by"] = f"filter:{self.name}"
            doc.metadata["reason"] = reason or self.name
            return False, reason or self.name
        return True
