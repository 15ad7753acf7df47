"""Semantic dedup: among prompts closer than a cosine threshold keep one (best quality score, else earliest).

    result = semantic_duplicates(vectors, priority, threshold=0.9, cluster_size=5000)
    result.dup_of[i]    # -1: record i survives; else the index of the survivor it duplicates
    result.cosine[i]    # its cosine to that survivor

Records are first split into k-means partitions of about `cluster_size` (one partition, an exact search, when
there are fewer); within a partition records are visited best first and each joins the most similar survivor
at or above the threshold, or becomes a survivor itself. So survivors are never within the threshold of each
other (inside a partition) and every duplicate points at a record that is kept by this step.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

BLOCK = 1024  # records compared with each other at once inside a partition


@dataclass
class SemanticResult:
    dup_of: np.ndarray       # int64: survivor index, or -1
    cosine: np.ndarray       # float32: cosine to the survivor (0 for survivors)
    partition: np.ndarray    # int64: k-means partition of each record

    def cluster_sizes(self) -> dict[str, int]:
        """{size: clusters} of survivor + its duplicates, for clusters of two or more."""
        members = Counter(self.dup_of[self.dup_of >= 0].tolist())
        return {str(size): n for size, n in sorted(Counter(m + 1 for m in members.values()).items())}

    def partition_sizes(self) -> list[int]:
        return sorted(np.bincount(self.partition).tolist(), reverse=True) if len(self.partition) else []


def partitions(vectors: np.ndarray, cluster_size: int, seed: int = 0) -> np.ndarray:
    """k-means labels (k = n / cluster_size, rounded) on the normalised vectors; all zeros when k is 1."""
    k = max(1, round(len(vectors) / max(1, cluster_size)))
    if k == 1:
        return np.zeros(len(vectors), dtype=np.int64)
    from sklearn.cluster import MiniBatchKMeans

    kmeans = MiniBatchKMeans(n_clusters=k, random_state=seed, n_init=3, batch_size=max(4096, 4 * k))
    return kmeans.fit_predict(vectors).astype(np.int64)


def greedy_survivors(vectors: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """For vectors in priority order: the position of the survivor each one duplicates (-1: survives)."""
    n = len(vectors)
    dup_of, cosine = np.full(n, -1, dtype=np.int64), np.zeros(n, dtype=np.float32)
    kept = np.empty(n, dtype=np.int64)
    n_kept = 0
    for start in range(0, n, BLOCK):
        block = vectors[start:start + BLOCK]
        earlier_best, earlier_sim = np.full(len(block), -1), np.full(len(block), -np.inf, dtype=np.float32)
        if n_kept:
            sims = block @ vectors[kept[:n_kept]].T
            arg = sims.argmax(axis=1)
            earlier_best, earlier_sim = kept[arg], sims[np.arange(len(block)), arg]
        within = block @ block.T
        local: list[int] = []
        for i in range(len(block)):
            best, best_sim = earlier_best[i], earlier_sim[i]
            if local:
                sims_here = within[i, local]
                j = int(sims_here.argmax())
                if sims_here[j] > best_sim:
                    best, best_sim = start + local[j], sims_here[j]
            if best_sim >= threshold:
                dup_of[start + i], cosine[start + i] = best, best_sim
            else:
                local.append(i)
        kept[n_kept:n_kept + len(local)] = [start + i for i in local]
        n_kept += len(local)
    return dup_of, cosine


def semantic_duplicates(vectors: np.ndarray, priority: np.ndarray, threshold: float, cluster_size: int,
                        seed: int = 0) -> SemanticResult:
    """`priority`: record indexes best first (e.g. by quality score, then input order)."""
    n = len(vectors)
    dup_of, cosine = np.full(n, -1, dtype=np.int64), np.zeros(n, dtype=np.float32)
    labels = partitions(vectors, cluster_size, seed)
    position = np.empty(n, dtype=np.int64)
    position[priority] = np.arange(n)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        members = members[np.argsort(position[members], kind="stable")]
        local_dup, local_cos = greedy_survivors(np.ascontiguousarray(vectors[members]), threshold)
        is_dup = local_dup >= 0
        dup_of[members[is_dup]] = members[local_dup[is_dup]]
        cosine[members[is_dup]] = local_cos[is_dup]
    return SemanticResult(dup_of=dup_of, cosine=cosine, partition=labels)
