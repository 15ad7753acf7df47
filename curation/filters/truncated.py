"""Drops records whose final assistant answer looks cut off (recipe key `truncated`).

    filters: {truncated: {min_words_last_line: 8}}

Looks at the last assistant turn of each trained-on conversation (SFT: messages; preference: chosen and
rejected; RL prompts have no answer and pass):
  * an odd number of ``` fence lines (a code block never closed) → "unbalanced_code_fence";
  * "ends_mid_word", defined conservatively: the last character is a letter, the last word is plain letters
    (not a URL, path or identifier), and the last line is a sentence of >= `min_words_last_line` words that is
    not a list item, heading, table row, quote or indented code. Answers ending in punctuation, a number,
    "#### 42", a closing bracket/quote or an emoji are never "truncated".
"""

from __future__ import annotations

import re

from mixlab.schema import Kind, record_kind

from .base import ChatFilter

FINAL_ANSWER_FIELDS = {Kind.sft: ("messages",), Kind.preference: ("chosen", "rejected"), Kind.rl: ()}
FENCE_LINE = re.compile(r"^[ \t]*```", re.MULTILINE)
# list items, headings, table rows, block quotes, indented code: not prose, may end without punctuation
NON_SENTENCE_LINE = re.compile(r"^(?:[ \t]*(?:[-*+•]|\d+[.)])[ \t]|[ \t]*[#|>]|[ \t]{4}|\t)")


def final_answers(record: dict) -> list[str]:
    answers = []
    for field in FINAL_ANSWER_FIELDS[record_kind(record)]:
        contents = [m["content"] or "" for m in record.get(field) or [] if m["role"] == "assistant"]
        answers += contents[-1:]
    return answers


def ends_mid_word(text: str, min_words_last_line: int) -> bool:
    text = text.rstrip()
    if not text or not text[-1].isalpha():
        return False
    last_line = text.splitlines()[-1]
    words = last_line.split()
    return (words[-1].isalpha() and len(words) >= min_words_last_line
            and not NON_SENTENCE_LINE.match(last_line))


class TruncatedFilter(ChatFilter):
    """Unclosed code block → "unbalanced_code_fence"; a final sentence cut off → "ends_mid_word"."""

    name = "truncated"

    def __init__(self, min_words_last_line: int = 8, exclusion_writer=None):
        super().__init__(exclusion_writer)
        self.min_words_last_line = min_words_last_line

    def check(self, record: dict) -> bool | tuple[bool, str]:
        for answer in final_answers(record):
            if len(FENCE_LINE.findall(answer)) % 2:
                return False, "unbalanced_code_fence"
            if ends_mid_word(answer, self.min_words_last_line):
                return False, "ends_mid_word"
        return True
