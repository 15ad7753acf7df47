"""Drops records whose assistant text matches a blocklisted regex (recipe key `blocklist`).

    filters:
      blocklist:
        patterns: {as_an_ai: '\\bas an ai (language )?model\\b', my_pattern: 'lorem ipsum'}

Patterns are case-insensitive and apply to assistant turns only (a user may say anything). A match drops the
record with reason "blocklist:<pattern name>". `patterns: {}` keeps everything. The defaults target
model-identity and capability boilerplate; plain refusals ("I can't help with that") are deliberately NOT in
them because safety data legitimately contains refusals. Add such a pattern in the recipe if you want it.
"""

from __future__ import annotations

import re

from mixlab.schema import assistant_texts

from .base import ChatFilter

DEFAULT_PATTERNS = {
    "as_an_ai": r"\bas an ai (language )?model\b",
    "knowledge_cutoff": r"\bmy (knowledge|training data) cut-?off\b",
    "no_internet_access": r"\bi (cannot|can['’]?t|can not|am unable to|do not have the ability to) "
                          r"(browse|access) the (internet|web)\b",
    "trained_by_openai": r"\b(trained|developed|created) by openai\b",
}


def compile_patterns(patterns: dict[str, str]) -> dict[str, re.Pattern]:
    compiled = {}
    for name, pattern in patterns.items():
        try:
            compiled[name] = re.compile(pattern, re.IGNORECASE)
        except re.error as err:
            raise ValueError(f"blocklist pattern {name!r} is not a valid regex: {err}") from err
    return compiled


class BlocklistFilter(ChatFilter):
    """First pattern (in the given order) that matches any assistant turn → "blocklist:<name>"."""

    name = "blocklist"

    def __init__(self, patterns: dict[str, str] | None = None, exclusion_writer=None):
        super().__init__(exclusion_writer)
        chosen = DEFAULT_PATTERNS if patterns is None else patterns
        self.patterns = compile_patterns(chosen)
        # one pass over the text rejects the common case (no pattern matches) cheaply
        self.any_pattern = re.compile("|".join(f"(?:{p})" for p in chosen.values()), re.IGNORECASE) if chosen else None

    def check(self, record: dict) -> bool | tuple[bool, str]:
        texts = assistant_texts(record)
        if self.any_pattern is None or not any(self.any_pattern.search(text) for text in texts):
            return True
        for name, pattern in self.patterns.items():
            if any(pattern.search(text) for text in texts):
                return False, f"blocklist:{name}"
        return True
