"""The selection building blocks on small arrays: budgets per source, quality cut-offs, semantic survivors.

    .venv/bin/pytest tests/test_select_units.py
"""

from __future__ import annotations

import numpy as np

from curation.selection.budget import ranking, select_by_budget, water_fill
from curation.selection.quality import quality_drops
from curation.selection.semantic import semantic_duplicates


def test_water_fill_caps_small_sources_and_passes_their_surplus_on():
    budgets = water_fill({"a": 100, "b": 3, "c": 100}, 30, {"a": 1, "b": 1, "c": 2})
    assert budgets == {"a": 9.0, "b": 3.0, "c": 18.0}
    assert water_fill({"a": 5, "b": 5}, 30, {"a": 1, "b": 1}) == {"a": 5.0, "b": 5.0}
    assert water_fill({"a": 5, "b": 5}, 4, {"a": 1}) == {"a": 4.0, "b": 0.0}


def test_record_target_is_met_exactly_best_ranked_first():
    sources = ["a"] * 10 + ["b"] * 3 + ["c"] * 7
    scores = np.linspace(0, 1, 20)
    ranked = ranking("quality", scores, np.arange(20), [str(i) for i in range(20)])
    keep, per_source = select_by_budget(sources, ranked, np.ones(20), 11, {"a": 1, "b": 1, "c": 1}, whole=True)
    assert keep.sum() == 11
    assert {s: e["kept_records"] for s, e in per_source.items()} == {"a": 4, "b": 3, "c": 4}
    assert np.flatnonzero(keep[:10]).tolist() == [6, 7, 8, 9]      # the best four of source a
    keep, _ = select_by_budget(sources, ranked, np.ones(20), 100, {}, whole=True)
    assert keep.all()


def test_token_target_is_never_passed_and_leaves_no_record_that_fits():
    rng = np.random.default_rng(0)
    sources = list(rng.choice(["a", "b", "c"], size=200))
    tokens = rng.integers(5, 400, size=200).astype(float)
    ranked = ranking("random", None, np.arange(200), [str(i) for i in range(200)], seed=3)
    keep, per_source = select_by_budget(sources, ranked, tokens, 5000, {"a": 2, "b": 1, "c": 1}, whole=False)
    total = tokens[keep].sum()
    assert total <= 5000 and tokens[~keep].min() > 5000 - total
    assert sum(e["kept"] for e in per_source.values()) == total
    assert per_source["a"]["kept"] > per_source["b"]["kept"]


def test_quality_threshold_and_top_fraction():
    scores = np.array([0.9, 0.2, 0.5, 0.5, 0.7])
    drop, reason = quality_drops(scores, np.arange(5), threshold=0.5, top_fraction=None)
    assert drop.tolist() == [False, True, False, False, False] and reason == "quality_below:0.5"
    drop, reason = quality_drops(scores, np.arange(5), threshold=None, top_fraction=0.5)
    assert drop.tolist() == [False, True, False, True, False] and reason == "quality_not_top:0.5"   # ceil(2.5)=3


def planted_pairs(n: int, noise: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n, 48))
    vectors = np.vstack([base, base + noise * rng.normal(size=(n, 48))])
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def test_semantic_survivors_follow_priority_and_stay_apart():
    vectors = planted_pairs(400, 0.05)
    priority = np.arange(800)[::-1].copy()           # the later copy of each pair is preferred
    result = semantic_duplicates(vectors, priority, threshold=0.9, cluster_size=10_000)
    assert result.dup_of[:400].tolist() == list(range(400, 800)) and (result.dup_of[400:] == -1).all()
    assert result.cluster_sizes() == {"2": 400}
    survivors = vectors[result.dup_of == -1]
    sims = survivors @ survivors.T
    assert sims[~np.eye(len(survivors), dtype=bool)].max() < 0.9
    assert (result.cosine[:400] >= 0.9).all()


def test_kmeans_partitions_keep_tight_pairs_together():
    vectors = planted_pairs(1500, 0.02, seed=1)
    result = semantic_duplicates(vectors, np.arange(3000), threshold=0.9, cluster_size=300)
    assert len(result.partition_sizes()) == 10
    found = (result.dup_of[1500:] == np.arange(1500)).mean()
    assert found >= 0.97 and (result.dup_of[:1500] == -1).all()


def test_select_stage_with_nothing_left_writes_an_empty_report(tmp_path):
    """Every record filtered out before the select stage: it still runs, decides nothing and reports zeros."""
    import json

    from curation.recipe import QualitySection, SelectSection, SemanticDedupSection
    from curation.selection.quality_train import train_quality_model
    from curation.selection.stage import SelectionStage

    answers = {"good": ["Here is a clear answer, step by step.", "First check the facts, then explain them.",
                        "A careful answer with an example follows."],
               "bad": ["idk lol", "dunno, google it", "whatever man"]}
    for name in answers:
        rows = [{"id": f"{name}{i}", "source": name, "meta": {},
                 "messages": [{"role": "user", "content": f"Question {i} about topic {i % 7}?"},
                              {"role": "assistant", "content": answers[name][i % 3]}]} for i in range(60)]
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    model = tmp_path / "q.bin"
    train_quality_model([str(tmp_path / "good.jsonl")], [str(tmp_path / "bad.jsonl")], str(model), lr=0.5, epoch=30)
    stage = SelectionStage(str(tmp_path / "work"), 2, QualitySection(enabled=True, model=str(model), threshold=0.5),
                           SemanticDedupSection(enabled=True, cache=str(tmp_path / "cache")),
                           SelectSection(enabled=True, target_tokens=100, by="quality"))
    list(stage.run())
    report = json.loads((tmp_path / "work" / "select" / "report.json").read_text())
    assert report["candidates"] == report["kept"] == 0
    assert report["semantic"]["embedded"] == 0 and report["select"]["kept"] == 0 and not report["select"]["reached"]
    assert sorted(p.name for p in (tmp_path / "work" / "select" / "decisions").iterdir()) == ["00000.parquet",
                                                                                             "00001.parquet"]
