"""Sentence embeddings cached on disk by a content hash of (model files, text), so reruns embed only new texts.

    cache = EmbeddingCache(model_path=None, folder="~/.cache/mixlab/embeddings")   # None: packaged MiniLM
    vectors = cache.embed(["a prompt", "another"], batch_size=64)   # float32 [n, dim], L2-normalised
    cache.new, cache.reused                                         # texts embedded now vs. read from disk

Layout: FOLDER/<model fingerprint>/<shard>.keys.npy (16-byte xxh3-128 digests of the texts) and
<shard>.vectors.npy (float32 rows); a run appends one shard with the texts it had to embed. Shards are written
under a temporary name and renamed, so concurrent runs sharing a folder never read half a file.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import numpy as np
import xxhash
from tqdm import tqdm

from mixlab.embeddings import default_model_path, embed, load_embedder

DIGEST = np.dtype("S16")
PROGRESS_CHUNK = 2048  # texts per progress-bar step


def default_cache_folder() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mixlab" / "embeddings"


def model_fingerprint(model_path: str) -> str:
    """xxh3-128 over every file of the model folder (names and bytes): a changed model gets a fresh cache."""
    digest = xxhash.xxh3_128()
    root = Path(model_path)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 22), b""):
                digest.update(block)
    return digest.hexdigest()


def text_digests(texts: list[str]) -> np.ndarray:
    return np.array([xxhash.xxh3_128_digest(t.encode("utf-8")) for t in texts], dtype=DIGEST)


class EmbeddingCache:
    def __init__(self, model_path: str | None = None, folder: str | Path | None = None):
        self.model_path = str(model_path or default_model_path())
        self.folder = Path(folder).expanduser() if folder else default_cache_folder()
        self.model_folder = self.folder / model_fingerprint(self.model_path)
        self.new = 0
        self.reused = 0

    def lookup(self, digests: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
        """(vectors with the cached rows filled, found mask); vectors is None when nothing was cached."""
        found = np.zeros(len(digests), dtype=bool)
        vectors = None
        if not self.model_folder.is_dir():
            return vectors, found
        for keys_path in sorted(self.model_folder.glob("*.keys.npy")):
            keys = np.load(keys_path)
            hit = np.isin(digests, keys) & ~found
            if not hit.any():
                continue
            rows = np.load(str(keys_path).replace(".keys.npy", ".vectors.npy"), mmap_mode="r")
            position = {key: i for i, key in enumerate(keys.tolist())}
            wanted = np.flatnonzero(hit)
            if vectors is None:
                vectors = np.zeros((len(digests), rows.shape[1]), dtype=np.float32)
            vectors[wanted] = rows[[position[k] for k in digests[wanted].tolist()]]
            found |= hit
        return vectors, found

    def store(self, digests: np.ndarray, vectors: np.ndarray) -> None:
        if not len(digests):
            return
        self.model_folder.mkdir(parents=True, exist_ok=True)
        shard = uuid.uuid4().hex
        for suffix, array in ((".vectors.npy", vectors), (".keys.npy", digests)):  # keys last: they publish
            tmp = self.model_folder / f".{shard}{suffix}.tmp"
            with open(tmp, "wb") as f:
                np.save(f, array)
            os.replace(tmp, self.model_folder / f"{shard}{suffix}")

    def embed(self, texts: list[str], batch_size: int = 64, progress: bool | None = None) -> np.ndarray:
        """Embeddings of `texts` (duplicates embedded once), reading what the cache has and adding the rest."""
        digests = text_digests(texts)
        unique, first, inverse = np.unique(digests, return_index=True, return_inverse=True)
        vectors, found = self.lookup(unique)
        missing = np.flatnonzero(~found)
        self.reused += int(found.sum())
        self.new += len(missing)
        if len(missing):
            fresh = self.embed_new([texts[first[i]] for i in missing], batch_size, progress)
            if vectors is None:
                vectors = np.zeros((len(unique), fresh.shape[1]), dtype=np.float32)
            vectors[missing] = fresh
            self.store(unique[missing], fresh)
        if vectors is None:
            return np.zeros((len(texts), 0), dtype=np.float32)
        return vectors[inverse.reshape(-1)]

    def embed_new(self, texts: list[str], batch_size: int, progress: bool | None) -> np.ndarray:
        model = load_embedder(self.model_path)
        parts = []
        with tqdm(total=len(texts), desc="embedding", unit="text", leave=False,
                  disable=None if progress is None else not progress) as bar:
            for start in range(0, len(texts), PROGRESS_CHUNK):
                parts.append(embed(model, texts[start:start + PROGRESS_CHUNK], batch_size=batch_size))
                bar.update(len(parts[-1]))
        return np.vstack(parts)
