"""fastText quality scores for records, and which records a threshold or top fraction drops.

    model = load_quality_model("quality.bin")           # from `mixlab quality train`
    scores = score_records(model, records)              # P(positive) per record, in [0, 1]
    drop, reason = quality_drops(scores, order, threshold=0.5, top_fraction=None)

The classifier reads a record's text as the filters see it (every turn, `role: content`, on one line).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from mixlab.schema import record_text

POSITIVE = "__label__positive"
NEGATIVE = "__label__negative"


def quality_text(record: dict) -> str:
    """fastText reads one line per example: the record text with all whitespace folded."""
    return " ".join(record_text(record).split())


@lru_cache(maxsize=4)
def load_quality_model(path: str):
    import fasttext

    fasttext.FastText.eprint = lambda *args, **kwargs: None  # its load_model warning is about word vectors
    model = fasttext.load_model(str(path))
    if set(model.get_labels()) != {POSITIVE, NEGATIVE}:
        raise ValueError(f"{path}: not a mixlab quality model (labels {model.get_labels()}, expected "
                         f"{POSITIVE} and {NEGATIVE}); train one with `mixlab quality train`")
    return model


def score_texts(model, texts: list[str]) -> np.ndarray:
    if not texts:
        return np.zeros(0, dtype=np.float64)
    labels, probs = model.predict(texts, k=2)
    scores = [dict(zip(lab, prob)).get(POSITIVE, 0.0) for lab, prob in zip(labels, probs)]
    return np.clip(np.asarray(scores, dtype=np.float64), 0.0, 1.0)


def score_records(model, records: list[dict]) -> np.ndarray:
    return score_texts(model, [quality_text(r) for r in records])


def quality_drops(scores: np.ndarray, order: np.ndarray, threshold: float | None,
                  top_fraction: float | None) -> tuple[np.ndarray, str | None]:
    """(drop mask, reason): below `threshold`, or outside the best ceil(top_fraction * n) (ties: earliest first)."""
    if threshold is not None:
        return scores < threshold, f"quality_below:{threshold:g}"
    if top_fraction is not None:
        keep = math.ceil(top_fraction * len(scores))
        ranked = np.lexsort((order, -scores))
        drop = np.ones(len(scores), dtype=bool)
        drop[ranked[:keep]] = False
        return drop, f"quality_not_top:{top_fraction:g}"
    return np.zeros(len(scores), dtype=bool), None
