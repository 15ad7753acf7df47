"""`select`: keep the best-ranked records of each source up to its share of a record or token budget.

    keep, per_source = select_by_budget(sources, ranking, sizes, target=1000, weights={"gsm8k": 2, "chat": 1})

The target is split over the sources by their weights (no weights: each source's share of the records or tokens
left); a source with less than its share keeps everything and its surplus goes to the others, by weight, so a
record target is met exactly whenever enough records are left. Within a source records are taken in ranking order;
with a token budget a record that would overflow it is skipped and smaller later ones may still fit, and the
slack left at the end is filled in ranking order from any weighted source, never passing the target.
"""

from __future__ import annotations

import math

import numpy as np
import xxhash


def water_fill(available: dict[str, float], target: float, weights: dict[str, float]) -> dict[str, float]:
    """Split `target` over sources in proportion to weight, capping each at what it has and passing the surplus on."""
    budgets = dict.fromkeys(available, 0.0)
    open_sources = {s for s in available if weights.get(s, 0) > 0 and available[s] > 0}
    left = min(float(target), sum(available[s] for s in open_sources))
    while open_sources and left > 1e-9:
        total = sum(weights[s] for s in open_sources)
        share = {s: left * weights[s] / total for s in open_sources}
        capped = {s for s in open_sources if budgets[s] + share[s] >= available[s]}
        if not capped:
            for s in open_sources:
                budgets[s] += share[s]
            break
        for s in sorted(capped):
            left -= available[s] - budgets[s]
            budgets[s] = float(available[s])
            open_sources.discard(s)
    return budgets


def whole_budgets(budgets: dict[str, float], available: dict[str, float]) -> dict[str, int]:
    """Largest-remainder rounding of record budgets: integers with the same (whole) total, none above available."""
    whole = {s: math.floor(b + 1e-9) for s, b in budgets.items()}
    short = round(sum(budgets.values())) - sum(whole.values())
    for s in sorted(budgets, key=lambda s: (-(budgets[s] - whole[s]), s)):
        if short <= 0:
            break
        if whole[s] < available[s]:
            whole[s] += 1
            short -= 1
    return whole


def fill_slack(keep: np.ndarray, used: dict, names: np.ndarray, ranked: np.ndarray, sizes: np.ndarray,
               target: float, weights: dict) -> None:
    """Token budgets leave slack where a source's next record does not fit its remainder: fill it in ranking order
    from any weighted source without passing the total target (a no-op for record budgets)."""
    total = sum(used.values())
    for i in ranked:
        if not keep[i] and weights.get(names[i], 0) > 0 and total + sizes[i] <= target + 1e-9:
            keep[i] = True
            used[names[i]] += sizes[i]
            total += sizes[i]


def ranking(by: str, scores: np.ndarray | None, order: np.ndarray, ids: list[str], seed: int = 0) -> np.ndarray:
    """Record indexes best first: by quality score (ties earliest), input order, or a seeded shuffle."""
    if by == "quality":
        if scores is None:
            raise ValueError("select.by: quality needs the quality step (quality.enabled: true)")
        return np.lexsort((order, -scores))
    if by == "order":
        return np.argsort(order, kind="stable")
    if by == "random":
        keys = np.array([xxhash.xxh3_64_intdigest(f"{seed}:{i}".encode()) for i in ids], dtype=np.uint64)
        return np.lexsort((order, keys))
    raise ValueError(f"select.by must be quality, order or random, not {by!r}")


def select_by_budget(sources: list[str], ranked: np.ndarray, sizes: np.ndarray, target: int,
                     weights: dict[str, float], whole: bool) -> tuple[np.ndarray, dict[str, dict]]:
    """(keep mask, {source: {available, budget, kept, kept_size}}); `whole`: sizes are 1 per record."""
    names = np.asarray(sources, dtype=object)
    available = {s: float(sizes[names == s].sum()) for s in sorted(set(sources))}
    weights = {s: float(w) for s, w in weights.items()} if weights else available
    budgets = water_fill(available, target, weights)
    if whole:
        budgets = whole_budgets(budgets, available)
    keep = np.zeros(len(sources), dtype=bool)
    used = dict.fromkeys(available, 0.0)
    for i in ranked:
        source = names[i]
        if used[source] + sizes[i] <= budgets[source] + 1e-9:
            keep[i] = True
            used[source] += sizes[i]
    fill_slack(keep, used, names, ranked, sizes, target, weights)
    per_source = {s: {"available_records": int((names == s).sum()), "available": int(available[s]),
                      "weight": weights.get(s, 0.0), "budget": round(budgets[s], 2),
                      "kept_records": int(keep[names == s].sum()), "kept": int(used[s])} for s in available}
    return keep, per_source
