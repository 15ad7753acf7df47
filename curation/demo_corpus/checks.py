"""The checks every generated demo row must pass: novelty (5-gram Jaccard) and no Gopher-style repetition.

    guard = NoveltyGuard(max_jaccard=0.3)
    guard.admit(text)     # True (and remembered) when no admitted text shares >= 0.3 5-gram Jaccard with it
    repetitive(answer)    # True when one of Gopher's repetition ratios is over its threshold

Shingles follow the curation pipeline's MinHash text (lowercase, punctuation to spaces, \\w+ words, 5-grams),
so rows the guard admits are far from being near duplicates for the pipeline as well.
"""

from __future__ import annotations

import re
import string
from collections import Counter

from datatrove.pipeline.filters.gopher_repetition_filter import (
    find_all_duplicate,
    find_duplicates,
    find_top_duplicate,
    get_n_grams,
)

PUNCTUATION_TO_SPACE = str.maketrans({c: " " for c in string.punctuation})
WORD = re.compile(r"\w+")
N_GRAM = 5
# Gopher's thresholds (Rae et al. 2021, Table A1), as datatrove's GopherRepetitionFilter defaults
PIECE_FRACS = {r"\n{2,}": (0.3, 0.2), r"\n+": (0.3, 0.2)}  # paragraphs, lines: (duplicate share, char share)
TOP_N_GRAMS = ((2, 0.20), (3, 0.18), (4, 0.16))
DUP_N_GRAMS = ((5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10))
CODE_BLOCK = re.compile(r"^[ \t]*```.*?(?:^[ \t]*```[^\n]*$|\Z)", re.MULTILINE | re.DOTALL)


def shingles(text: str, n: int = N_GRAM) -> set[str]:
    """The word n-grams of the lowercased, punctuation-free text (a shorter text is one shingle)."""
    words = WORD.findall(text.lower().translate(PUNCTUATION_TO_SPACE))
    return {" ".join(words[i:i + n]) for i in range(max(1, len(words) - n + 1))} if words else set()


def jaccard(a: str, b: str) -> float:
    sa, sb = shingles(a), shingles(b)
    return len(sa & sb) / len(sa | sb) if sa or sb else 1.0


class NoveltyGuard:
    """Remembers admitted texts as shingle sets, with an inverted index to find the ones that overlap."""

    def __init__(self, max_jaccard: float = 0.3):
        self.max_jaccard = max_jaccard
        self.sizes: list[int] = []
        self.index: dict[str, list[int]] = {}

    def admit(self, text: str) -> bool:
        grams = shingles(text)
        if not grams:
            return False
        shared = Counter(doc for gram in grams for doc in self.index.get(gram, ()))
        if any(common / (len(grams) + self.sizes[doc] - common) >= self.max_jaccard
               for doc, common in shared.items()):
            return False
        doc = len(self.sizes)
        self.sizes.append(len(grams))
        for gram in grams:
            self.index.setdefault(gram, []).append(doc)
        return True


def repetitive(answer: str, min_words: int = 20, min_top_repeats: int = 3) -> bool:
    """Any Gopher repetition ratio over its threshold, on the prose (fenced code left out) of an answer.

    As in the curation repetition filter, answers under `min_words` words are never repetitive and a top n-gram
    counts only when seen `min_top_repeats` times: Gopher's ratios are calibrated on web pages, and in a
    30-word answer one 2-gram used twice ("12 dollars") is already over 20% of the text.
    """
    text = CODE_BLOCK.sub("", answer).strip()
    if len(WORD.findall(text)) < min_words:
        return False
    for splitter, (dup_frac, char_frac) in PIECE_FRACS.items():
        pieces = [piece for piece in re.split(splitter, text) if WORD.search(piece)]
        n_duplicates, duplicate_chars = find_duplicates(pieces)
        if pieces and (n_duplicates / len(pieces) > dup_frac or duplicate_chars / len(text) > char_frac):
            return True
    words = WORD.findall(text)
    for n, frac in TOP_N_GRAMS:
        counts = Counter(get_n_grams(words, n))
        if not counts or counts.most_common(1)[0][1] < min_top_repeats:
            continue
        if find_top_duplicate(counts.elements()) / len(text) > frac:
            return True
    return any(find_all_duplicate(words, n) / len(text) > frac for n, frac in DUP_N_GRAMS)
