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
In a pipeline the records come in batches (base.BATCH_RECORDS): the top n-grams and the repeated-5-gram shortcut of
all their responses are counted with a few numpy calls per batch (NGramCounts) rather than a Counter per text;
`check(record)` alone computes the same numbers one text at a time.
"""

from __future__ import annotations

import re
from collections import Counter
from itertools import chain

import numpy as np
import pyarrow as pa
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
# ASCII bytes -> themselves when \w matches them ([0-9A-Za-z_]), else a space: split() then gives the \w+ runs
ASCII_WORD_BYTES = bytes(c if c < 128 and (chr(c).isalnum() or c == 95) else 32 for c in range(256))


def strip_code_blocks(text: str) -> str:
    """The text without its ``` fenced blocks (an unclosed block runs to the end)."""
    return CODE_BLOCK.sub("", text) if "```" in text else text  # the regex scans every line start to find none


def looks_like_code(text: str) -> bool:
    lines = [line for line in text.splitlines() if line.strip()]
    return sum(bool(CODE_LINE.match(line)) for line in lines) > len(lines) / 2


def content_pieces(pieces: list[str]) -> list[str]:
    return [piece for piece in pieces if WORD.search(piece)]


def words_of(text: str) -> list[str]:
    """WORD.findall(text); ASCII text (the common case) takes a bytes.translate fast path."""
    if text.isascii():
        return text.encode().translate(ASCII_WORD_BYTES).decode().split()
    return WORD.findall(text)


def response_text(text: str) -> str:
    """What the ratios are computed on: the response without fenced code, stripped."""
    return strip_code_blocks(text).strip()


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

    def check(self, record: dict, grams: NGramCounts | None = None, first: int = 0) -> bool | tuple[bool, str]:
        """`grams` (batch mode): n-gram counts of a batch's responses, this record's starting at index `first`."""
        for i, text in enumerate(assistant_texts(record)):
            counted = grams.of(first + i) if grams else None
            ratio = self.repeated_ratio(counted.text if counted else response_text(text), counted)
            if ratio:
                return False, f"repetition:{ratio}"
        return True

    def filter_batch(self, batch: list) -> list:
        """The batch's responses are counted together; each record then goes through check (as filter() does)."""
        responses = [assistant_texts(doc.metadata["record"]) for doc in batch]
        shortest = min((n for n, _ in self.dup_n_grams), default=0)
        texts = [response_text(t) for t in chain.from_iterable(responses)]
        grams = NGramCounts(texts, [words_of(t) for t in texts], tuple(n for n, _ in self.top_n_grams), shortest)
        firsts = np.cumsum([0] + [len(record_texts) for record_texts in responses])
        return [self.verdict(doc, self.check(doc.metadata["record"], grams, int(first)))
                for doc, first in zip(batch, firsts)]

    def repeated_ratio(self, text: str, grams: TextNGrams | None = None) -> str | None:
        """The name of the first Gopher ratio over its threshold, or None. `grams`: precounted n-grams of `text`."""
        words = grams.words if grams else words_of(text)
        if len(words) < self.min_words:
            return None
        # one line is one paragraph and one line: nothing to be a duplicate of
        ratio = ("\n" in text and (
                     self.piece_ratio(text, PARAGRAPH_BREAK, "para", self.dup_para_frac, self.dup_para_char_frac)
                     or self.piece_ratio(text, LINE_BREAK, "line", self.dup_line_frac, self.dup_line_char_frac))
                 or self.n_gram_ratio(text, words, grams))
        # code is exempt; asked last because most responses pass every ratio and never need the (slower) question
        return None if ratio and looks_like_code(text) else ratio

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

    def n_gram_ratio(self, text: str, words: list[str], grams: TextNGrams | None = None) -> str | None:
        for n, frac in self.top_n_grams:
            count, chars = grams.top[n] if grams else top_n_gram_size(words, n)
            if count >= self.min_top_repeats and chars / len(text) > frac:
                return f"top_{n}_gram"
        shortest = min((n for n, _ in self.dup_n_grams), default=0)
        repeats = grams.repeats if grams else shortest and has_repeated_n_gram(words, shortest)
        if shortest and not repeats:
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


def top_n_gram_size(words: list[str], n: int) -> tuple[int, int]:
    """(count of the top n-gram, top_duplicate_chars of it); (0, 0) without n-grams."""
    top = top_n_gram(words, n)
    return (top[1], top_duplicate_chars(*top)) if top else (0, 0)


def has_repeated_n_gram(words: list[str], n: int) -> bool:
    return len(set(word_n_grams(words, n))) != len(words) - n + 1


class TextNGrams:
    """One response's text (response_text) and precounted n-grams: its words, (count, chars) of its top n-gram per n,
    any repeated short n-gram."""

    def __init__(self, text: str, words: list[str], top: dict[int, tuple[int, int]], repeats: bool):
        self.text, self.words, self.top, self.repeats = text, words, top, repeats


class NGramCounts:
    """top_n_gram_size for every n in `top_ns` and has_repeated_n_gram(repeat_n) of many texts at once.

    All words get ids (arrow dictionary encoding); the id of an n-gram is the rank of (id of its first n-1 words,
    id of its last word), so equal ids mean equal word tuples, exactly. Per text, the top n-gram is the most
    frequent one, ties going to the one seen first (as Counter.most_common).
    """

    def __init__(self, texts: list[str], word_lists: list[list[str]], top_ns: tuple[int, ...], repeat_n: int):
        self.texts, self.word_lists = texts, word_lists
        n_texts = len(word_lists)
        self.top = {n: (np.zeros(n_texts, np.int64), np.zeros(n_texts, np.int64)) for n in top_ns}
        self.repeats = np.zeros(n_texts, dtype=bool)
        words = list(chain.from_iterable(word_lists))
        if words:
            self.count(words, np.fromiter(map(len, word_lists), np.int64, n_texts), top_ns, repeat_n)

    def of(self, i: int) -> TextNGrams:
        top = {n: (int(c[i]), int(s[i])) for n, (c, s) in self.top.items()}
        return TextNGrams(self.texts[i], self.word_lists[i], top, bool(self.repeats[i]))

    def count(self, words: list[str], lengths: np.ndarray, top_ns: tuple[int, ...], repeat_n: int) -> None:
        encoded = pa.array(words, pa.string()).dictionary_encode()
        word_ids = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        vocabulary = len(encoded.dictionary)
        n_texts = len(lengths)
        text_of = np.repeat(np.arange(n_texts), lengths)
        text_end = np.repeat(np.cumsum(lengths), lengths)
        char_start = np.concatenate(([0], np.cumsum(np.fromiter(map(len, words), np.int64, len(words)))))
        gram_ids = word_ids
        for n in range(2, max((*top_ns, repeat_n)) + 1):
            starts = len(words) - n + 1
            if starts <= 0:
                break
            # an n-gram running into the next text belongs to none (text id n_texts)
            text = np.where(np.arange(starts) + n <= text_end[:starts], text_of[:starts], n_texts)
            key = (text * (len(words) + 1) + gram_ids[:starts]) * vocabulary + word_ids[n - 1:]
            gram_ids, group_text, first, counts = self.group(key, text)
            real = group_text < n_texts
            if n == repeat_n:
                self.repeats[group_text[real & (counts > 1)]] = True
            if n in self.top:
                texts, top_first, top_count = self.top_per_text(group_text[real], first[real], counts[real], starts)
                chars = char_start[top_first + n] - char_start[top_first] + n - 1
                self.top[n][0][texts] = top_count
                self.top[n][1][texts] = chars * top_count

    @staticmethod
    def group(key: np.ndarray, text: np.ndarray):
        """Groups of equal keys, in key order (so by text): each position's group id, and per group its text, first
        position and size."""
        order = np.argsort(key)
        sorted_key = key[order]
        leads = np.flatnonzero(np.r_[True, sorted_key[1:] != sorted_key[:-1]])
        group_ids = np.empty(len(key), dtype=np.int64)
        group_ids[order] = np.cumsum(np.r_[True, sorted_key[1:] != sorted_key[:-1]]) - 1
        first = np.minimum.reduceat(order, leads)
        return group_ids, text[first], first, np.diff(np.r_[leads, len(key)])

    @staticmethod
    def top_per_text(texts: np.ndarray, first: np.ndarray, counts: np.ndarray, positions: int):
        """Per text (groups come sorted by text): the most frequent group's first position and size, the earliest
        group on ties."""
        scale = positions + 1
        score = counts * scale + (positions - first)  # larger count first, then earlier first position
        leads = np.flatnonzero(np.r_[True, texts[1:] != texts[:-1]])
        best = np.maximum.reduceat(score, leads)
        return texts[leads], positions - best % scale, best // scale
