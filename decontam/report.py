"""The decontamination report: per benchmark, how many items and records the training data hit; a datacard section.

    hits = read_hits("DIR/work/decontam/hits")
    report = build_report(hits, records_in=3000, records_removed=12, items_per_task=index.items_per_task)
    section = card_section(report, hits)   # {"title", "markdown", "data"}: DIR/work/card_sections/*.json

A benchmark counts as contaminated when more than 2 % of its items were hit by at least one training record.
"""

from __future__ import annotations

import json
from pathlib import Path

CONTAMINATED_PCT = 2.0


def read_hits(hits_dir) -> list[dict]:
    """Every hit line of hits_dir/*.jsonl (one file per rank), in file order."""
    hits = []
    for path in sorted(Path(hits_dir).glob("*.jsonl")):
        with path.open() as f:
            hits.extend(json.loads(line) for line in f if line.strip())
    return hits


def best_hits(hits: list[dict]) -> list[dict]:
    """Each record's best-matching item(s) (ties kept). Templated benchmarks repeat their boilerplate across items
    (all 895 mmlu_moral_scenarios questions share ~30 words), so one copied question clears the threshold for many
    of them; only the best match says which item was copied. Records holding several items (a few-shot prompt)
    match each of them fully and keep them all."""
    best: dict[str, float] = {}
    for hit in hits:
        best[hit["id"]] = max(best.get(hit["id"], 0.0), hit["overlap"])
    return [hit for hit in hits if hit["overlap"] >= best[hit["id"]]]


def build_report(hits: list[dict], records_in: int, records_removed: int, items_per_task: dict[str, int]) -> dict:
    unknown = sorted({hit["task"] for hit in hits} - set(items_per_task))
    if unknown:
        raise ValueError(f"hits for benchmarks that were not indexed: {unknown}")
    hits = best_hits(hits)
    benchmarks = {}
    for task, items in items_per_task.items():
        task_hits = [hit for hit in hits if hit["task"] == task]
        items_hit = len({hit["item_id"] for hit in task_hits})
        benchmarks[task] = {"items": items, "items_hit": items_hit,
                            "items_hit_pct": round(100 * items_hit / items, 2) if items else 0.0,
                            "records_hit": len({hit["id"] for hit in task_hits})}
    contaminated = [task for task, b in benchmarks.items() if b["items_hit"] * 100 > CONTAMINATED_PCT * b["items"]]
    return {"records_in": records_in, "records_removed": records_removed, "benchmarks": benchmarks,
            "contaminated_benchmarks": contaminated}


def card_section(report: dict, hits: list[dict], examples: int = 3) -> dict:
    """A datacard section: the per-benchmark table and up to `examples` matches per benchmark (highest overlap)."""
    lines = [f"{report['records_removed']} of {report['records_in']} training records were removed for containing "
             f"a benchmark item. A benchmark is marked contaminated when more than {CONTAMINATED_PCT:g} % of its "
             "items were found in the training data.", "",
             "| Benchmark | Items | Items hit | % items hit | Records hit | Contaminated |",
             "|---|---:|---:|---:|---:|---|"]
    for task, b in report["benchmarks"].items():
        flag = "yes" if task in report["contaminated_benchmarks"] else "no"
        lines.append(f"| {task} | {b['items']} | {b['items_hit']} | {b['items_hit_pct']:g} | {b['records_hit']} "
                     f"| {flag} |")
    shown = [hit for task in report["benchmarks"] for hit in top_hits(hits, task, examples)]
    if shown:
        lines += ["", "Example matches:", "", "| Benchmark | Record | Item | Overlap |", "|---|---|---|---:|"]
        lines += [f"| {hit['task']} | `{hit['id']}` | `{hit['item_id']}` | {hit['overlap']:.2f} |" for hit in shown]
    return {"title": "Decontamination", "markdown": "\n".join(lines) + "\n", "data": report}


def top_hits(hits: list[dict], task: str, count: int) -> list[dict]:
    task_hits = [hit for hit in hits if hit["task"] == task]
    return sorted(task_hits, key=lambda hit: (-hit["overlap"], hit["id"], hit["item_id"]))[:count]
