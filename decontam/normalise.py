"""Text → words → 64-bit word hashes for decontamination matching (Tülu 3's normalisation).

    from decontam.normalise import normalise_words, normalised_bytes, word_hashes
    normalise_words("Janet's ducks lay 16 eggs!")   # ['janet', 's', 'ducks', 'lay', '16', 'eggs']
    hashes, starts = word_hashes(b" ".join(normalised_bytes(t) for t in texts))

normalise = NFKC, lowercase, punctuation → space, whitespace folded. Every character that is not a letter or a
digit separates words (punctuation, symbols and "_" alike), so "A) Paris", "(1) paris" and "PARIS." share the
word "paris", and `has_close_elements(x)` splits into has / close / elements / x on both sides of the match.
The index hashes words in numpy, a whole batch of records at once: ASCII text (most training data) only goes
through one bytes.translate, and no per-word Python object is made.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import numpy as np

WORD_RE = re.compile(r"[^\W_]+")  # runs of str.isalnum() characters
# ASCII letters and digits stay (upper case lowered), every other ASCII byte becomes a space
ASCII_WORDS_TABLE = bytes((c | 0x20 if chr(c).isalpha() else c) if chr(c).isalnum() else 0x20 for c in range(128))
ASCII_WORDS_TABLE += bytes(range(128, 256))
SPACE = 0x20
CHAR_BASE = np.uint64(0x9FB21C651E98DF25)  # odd: the polynomial hash of a word's bytes
LENGTH_SALT = np.uint64(0xC2B2AE3D27D4EB4F)


def normalise_words(text: str) -> list[str]:
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return WORD_RE.findall(text.lower())


def normalised_bytes(text: str) -> bytes:
    """The words of normalise_words(text) as UTF-8, separated by one or more spaces."""
    if text.isascii():
        return text.encode().translate(ASCII_WORDS_TABLE)
    return " ".join(normalise_words(text)).encode()


@lru_cache(maxsize=2)
def char_power_tables(size: int) -> tuple[np.ndarray, np.ndarray]:
    """CHAR_BASE**j and CHAR_BASE**-j for j < size, modulo 2**64 (an odd base has an inverse)."""
    tables = []
    for base in (CHAR_BASE, np.uint64(pow(int(CHAR_BASE), -1, 2**64))):
        powers = np.full(size, base, dtype=np.uint64)
        powers[0] = 1
        tables.append(np.multiply.accumulate(powers))  # uint64 products wrap modulo 2**64
    return tables[0], tables[1]


def mix64(values: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, in place: every output bit depends on every input bit."""
    values ^= values >> np.uint64(30)
    values *= np.uint64(0xBF58476D1CE4E5B9)
    values ^= values >> np.uint64(27)
    values *= np.uint64(0x94D049BB133111EB)
    values ^= values >> np.uint64(31)
    return values


def word_hashes(buffer: bytes) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hash and first byte offset of every space-separated word of `buffer` (vectorised, no Python loop).

    A word's bytes a_s .. a_e-1 hash to sum(a_j * BASE**(j-s)), read off a running sum of a_j * BASE**j times
    BASE**-s, so the hash does not depend on where the word stands; the length is mixed in, then all bits."""
    chars = np.frombuffer(buffer, dtype=np.uint8)
    bounds = np.flatnonzero(np.diff(chars != SPACE, prepend=False, append=False))  # True where words start/end
    starts, ends = bounds[0::2], bounds[1::2]
    powers, inverse_powers = char_power_tables(1 << max(len(chars), 1).bit_length())
    running = np.zeros(len(chars) + 1, dtype=np.uint64)
    np.multiply(chars, powers[:len(chars)], out=running[1:])
    np.cumsum(running, out=running)
    hashes = (running[ends] - running[starts]) * inverse_powers[starts]
    hashes += (ends - starts).astype(np.uint64) * LENGTH_SALT
    return mix64(hashes), starts
