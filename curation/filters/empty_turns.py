"""Drops records with an empty or whitespace-only message anywhere in them (recipe key `empty_turns`).

    filters: {empty_turns: {}}     # no options
"""

from __future__ import annotations

from mixlab.schema import conversations

from .base import ChatFilter


class EmptyTurnsFilter(ChatFilter):
    """Any message (system, user or assistant, in any conversation) with no text → "empty_turn"."""

    name = "empty_turns"

    def __init__(self, exclusion_writer=None):
        super().__init__(exclusion_writer)

    def check(self, record: dict) -> bool | tuple[bool, str]:
        for conversation in conversations(record):
            for message in conversation:
                if not (message.get("content") or "").strip():
                    return False, "empty_turn"
        return True
