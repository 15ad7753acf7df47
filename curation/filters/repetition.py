"""Drops records whose assistant text repeats itself, by Gopher's repetition ratios (recipe key `repetition`).

    filters: {repetition: {min_words: 20}}      # any Gopher threshold can be overridden too

Reuses datatrove's Gopher helpers (find_duplicates, find_all_duplicate; top n-grams counted on word tuples, the
same numbers as find_top_duplicate without joining every n-gram into a string) with
Gopher's thresholds (Rae et al. 2021, Table A1; datatrove's GopherRepetitionFilter defaults), applied to each
assistant response on its own. Differences from datatrove's document filter, all for chat data:
  * words are `\\w+` runs (a regex, far faster than datatrove's spaCy tokenizer; punctuation is no word);
  * fenced code blocks are left out (code repeats `}` / `return` lines by nature, which is not degeneration);
  * lines/paragraphs without any letter or digit (`---`, `}`, `**`) are structure, not counted as duplicates;
  * a response that looks like unfenced code (most lines indented or ending in `{ } ; : ( ) ,`) is skipped;
  * responses with fewer than `min_words` words are skipped: a short answer is not "repetitive";
  * a top n-gram counts only when seen >= `min_top_repeats` (3) times: in a 20-60 word answer a single 4-gram
    ("On weekdays he works") or one used twice ("Adult tickets cost ... Child tickets cost") already passes
    Gopher's 16-20% (calibrated on web pages of 50+ words), while degenerate loops repeat far more often.
The first ratio over its threshold gives the reason "repetition:<ratio>", e.g. "repetition:top_2_gram".
"""

from __future__ import annotations

import re
from collections import Counter

from datatrove.pipeline.filters.gopher_repetition_filter import find_all_duplicate, find_duplicates

from mixlab.schema import assistant_texts

from .base import ChatFilter

TOP_N_GRAMS = ((2, 0.20), (3, 0.18), (4, 0.16))
DUP_N_GRAMS = ((5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10))

WORD = re.compile(r"\w+")
CODE_BLOCK = re.compile(r"^[ \t]*```.*?(?:^[ \t]*```[^\n]*$|\Z)", re.MULTILINE | re.DOTALL)
PARAGRAPH_BREAK = re.compile(r"\n{2,}")
LINE_BREAK = re.compile(r"\n+")
CODE_LINE = re.compile(r"^(?:[ \t]+\S.*|.*[{};:(),])[ \t]*$")


def strip_code_blocks(text: str) -> str:
    """The text without its ``` fenced blocks (an unclosed block runs to the end)."""
    return CODE_BLOCK.sub("", text)


def looks_like_code(text: str) -> bool:
    lines = [line for line in text.splitlines() if line.strip()]
    return sum(bool(CODE_LINE.match(line)) for line in lines) > len(lines) / 2


def content_pieces(pieces: list[str]) -> list[str]:
    return [piece for piece in pieces if WORD.search(piece)]


class RepetitionFilter(ChatFilter):
    """Gopher repetition ratios per assistant response → "repetition:<ratio>"."""

    name = "repetition"

    def __init__(self, min_words: int = 20, min_top_repeats: int = 3, dup_line_frac: float | None = 0.3,
                 dup_para_frac: float | None = 0.3, dup_line_char_frac: float | None = 0.2,
                 dup_para_char_frac: float | None = 0.2,
                 top_n_grams=TOP_N_GRAMS, dup_n_grams=DUP_N_GRAMS, exclusion_writer=None):
        super().__init__(exclusion_writer)
        self.min_words = min_words
        self.min_top_repeats = min_top_repeats
        self.dup_line_frac = dup_line_frac
        self.dup_para_frac = dup_para_frac
        self.dup_line_char_frac = dup_line_char_frac
        self.dup_para_char_frac = dup_para_char_frac
        self.top_n_grams = tuple((int(n), float(frac)) for n, frac in top_n_grams)
        self.dup_n_grams = tuple((int(n), float(frac)) for n, frac in dup_n_grams)

    def check(self, record: dict) -> bool | tuple[bool, str]:
        for text in assistant_texts(record):
            ratio = self.repeated_ratio(strip_code_blocks(text).strip())
            if ratio:
                return False, f"repetition:{ratio}"
        return True

    def repeated_ratio(self, text: str) -> str | None:
        """The name of the first Gopher ratio over its threshold, or None."""
        words = WORD.findall(text)
        if len(words) < self.min_words or looks_like_code(text):
            return None
        return (self.piece_ratio(text, PARAGRAPH_BREAK, "para", self.dup_para_frac, self.dup_para_char_frac)
                or self.piece_ratio(text, LINE_BREAK, "line", self.dup_line_frac, self.dup_line_char_frac)
                or self.n_gram_ratio(text, words))

    @staticmethod
    def piece_ratio(text: str, splitter: re.Pattern, unit: str, frac: float | None,
                    char_frac: float | None) -> str | None:
        pieces = content_pieces(splitter.split(text))
        if not pieces:
            return None
        n_duplicates, duplicate_chars = find_duplicates(pieces)
        if frac and n_duplicates / len(pieces) > frac:
            return f"dup_{unit}_frac"
        if char_frac and duplicate_chars / len(text) > char_frac:
            return f"dup_{unit}_char_frac"
        return None

    def n_gram_ratio(self, text: str, words: list[str]) -> str | None:
        for n, frac in self.top_n_grams:
            top = top_n_gram(words, n)
            if top and top[1] >= self.min_top_repeats and top_duplicate_chars(*top) / len(text) > frac:
                return f"top_{n}_gram"
        shortest = min((n for n, _ in self.dup_n_grams), default=0)
        if shortest and len(set(word_n_grams(words, shortest))) == len(words) - shortest + 1:
            return None  # no repeated n-gram of the shortest size, so none of any longer size either
        for n, frac in self.dup_n_grams:
            if find_all_duplicate(words, n) / len(text) > frac:
                return f"duplicated_{n}_gram"
        return None


def word_n_grams(words: list[str], n: int):
    return zip(*(words[i:] for i in range(n)))


def top_n_gram(words: list[str], n: int) -> tuple[tuple[str, ...], int] | None:
    """The most frequent word n-gram and its count (ties: first seen, as datatrove's find_top_duplicate)."""
    counts = Counter(word_n_grams(words, n))
    return counts.most_common(1)[0] if counts else None


def top_duplicate_chars(n_gram: tuple[str, ...], count: int) -> int:
    """datatrove's find_top_duplicate on the joined n-gram: its length (with spaces) times its count."""
    return (sum(map(len, n_gram)) + len(n_gram) - 1) * count
