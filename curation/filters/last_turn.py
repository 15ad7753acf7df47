"""Drops records whose training target does not end with an assistant turn (recipe key `last_turn`).

    filters: {last_turn: {}}       # no options

SFT: the last message must be the assistant's. Preference: `chosen` and `rejected` must each end with an
assistant message. RL records are prompts only (the policy writes the answer), so they always pass.
"""

from __future__ import annotations

from mixlab.schema import Kind, record_kind

from .base import ChatFilter

TARGET_FIELDS = {Kind.sft: ("messages",), Kind.preference: ("chosen", "rejected"), Kind.rl: ()}


def ends_with_assistant(messages: list[dict] | None) -> bool:
    return bool(messages) and messages[-1].get("role") == "assistant"


class LastTurnFilter(ChatFilter):
    """A conversation that ends on a user/system turn teaches nothing to say → "last_turn_not_assistant"."""

    name = "last_turn"

    def __init__(self, exclusion_writer=None):
        super().__init__(exclusion_writer)

    def check(self, record: dict) -> bool | tuple[bool, str]:
        for field in TARGET_FIELDS[record_kind(record)]:
            if not ends_with_assistant(record.get(field)):
                return False, "last_turn_not_assistant"
        return True
