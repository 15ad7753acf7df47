"""The chat-aware quality filters, by recipe key, and `build_filters` that makes them from a recipe.

    from curation.filters import build_filters
    steps = build_filters({"empty_turns": None, "language": {"languages": ["en"]}},
                          tokenizer=None, exclusion_writer_factory=lambda name: None)

A recipe's `filters:` maps filter name → options (None = defaults); the filters run in that order.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from .base import ChatFilter
from .blocklist import BlocklistFilter
from .empty_turns import EmptyTurnsFilter
from .language import LanguageFilter
from .last_turn import LastTurnFilter
from .mojibake import MojibakeFilter
from .repetition import RepetitionFilter
from .response_length import ResponseLengthFilter
from .truncated import TruncatedFilter

FILTERS: dict[str, type[ChatFilter]] = {cls.name: cls for cls in (
    EmptyTurnsFilter, LastTurnFilter, ResponseLengthFilter, RepetitionFilter, LanguageFilter, MojibakeFilter,
    TruncatedFilter, BlocklistFilter,
)}
# set by the pipeline, not by the recipe's per-filter options
INTERNAL_OPTIONS = ("self", "exclusion_writer")


def filter_options(cls: type[ChatFilter]) -> list[str]:
    """The recipe options a filter accepts (its constructor's keyword arguments)."""
    return [name for name in inspect.signature(cls.__init__).parameters if name not in INTERNAL_OPTIONS]


def build_filter(name: str, options: dict | None, exclusion_writer) -> ChatFilter:
    if name not in FILTERS:
        raise ValueError(f"unknown filter {name!r}; valid filters: {', '.join(FILTERS)}")
    if options is not None and not isinstance(options, dict):
        raise ValueError(f"filter {name!r}: options must be a mapping or null, got {options!r}")
    cls = FILTERS[name]
    valid = filter_options(cls)
    unknown = sorted(set(options or {}) - set(valid))
    if unknown:
        raise ValueError(f"filter {name!r} has no option(s) {', '.join(unknown)}; "
                         f"valid options: {', '.join(valid) or '(none)'}")
    return cls(**(options or {}), exclusion_writer=exclusion_writer)


def build_filters(config: dict[str, dict | None] | None, *, tokenizer: str | None,
                  exclusion_writer_factory: Callable[[str], object] | None) -> list[ChatFilter]:
    """The filters in `config`'s order; `tokenizer` goes to response_length (unless its options set one)."""
    filters = []
    for name, options in (config or {}).items():
        if name == ResponseLengthFilter.name and (options is None or isinstance(options, dict)):
            options = {"tokenizer": tokenizer, **(options or {})}
        writer = exclusion_writer_factory(name) if exclusion_writer_factory else None
        filters.append(build_filter(name, options, writer))
    return filters
