"""Drops records with an assistant response that is too short or too long (recipe key `response_length`).

    filters: {response_length: {min_length: 1, max_length: 8192}}

Length is counted in tokens of `tokenizer` (a local HF tokenizer folder or a tokenizer.json file; the pipeline
passes the recipe's tokenizer) or, when it is None, in whitespace-separated words. Every assistant response of
the record (for preference: chosen and rejected) must lie in [min_length, max_length]; `max_length: null`
disables the upper bound. The tokenizer loads lazily, once per worker process, and never from the hub.
"""

from __future__ import annotations

import functools
import os

from mixlab.schema import assistant_texts

from .base import ChatFilter


@functools.lru_cache(maxsize=4)
def load_token_counter(path: str):
    """A function text → number of tokens, for a tokenizer.json file or a local tokenizer folder."""
    if os.path.isfile(path):
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(path)
        return lambda text: len(tokenizer.encode(text, add_special_tokens=False).ids)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    return lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])


def count_words(text: str) -> int:
    return len(text.split())


class ResponseLengthFilter(ChatFilter):
    """Any response under `min_length` → "response_too_short"; over `max_length` → "response_too_long"."""

    name = "response_length"

    def __init__(self, min_length: int = 1, max_length: int | None = 8192, tokenizer: str | None = None,
                 exclusion_writer=None):
        super().__init__(exclusion_writer)
        if tokenizer is not None and not os.path.exists(tokenizer):
            raise ValueError(f"response_length: tokenizer {tokenizer!r} is not a local tokenizer folder or "
                             "tokenizer.json (hub downloads are not used)")
        if max_length is not None and max_length < min_length:
            raise ValueError(f"response_length: max_length {max_length} < min_length {min_length}")
        self.min_length = min_length
        self.max_length = max_length
        self.tokenizer = tokenizer

    def length(self, text: str) -> int:
        return load_token_counter(self.tokenizer)(text) if self.tokenizer else count_words(text)

    def check(self, record: dict) -> bool | tuple[bool, str]:
        for text in assistant_texts(record):
            length = self.length(text)
            if length < self.min_length:
                return False, "response_too_short"
            if self.max_length is not None and length > self.max_length:
                return False, "response_too_long"
        return True
