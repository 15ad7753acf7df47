"""Curation benchmark: throughput per core and MinHash quality, with datasketch's MinHashLSH as the in-run reference.

    .venv/bin/python bench/curation.py                     # 100k records, 2 workers (~2-4 min on 2 cores)
    .venv/bin/python bench/curation.py --records 20000     # quicker look

Generates a chat corpus (English sentences from a seeded grammar, 8 input shards) where a fraction of records get
a planted copy with k words replaced, so the pairs span 5-gram Jaccard 0.2–1.0. Exact Jaccard of every planted pair
is computed by brute force with the pipeline's own shingling. Prints a table: records/s/core per stage and end to
end, MinHash recall at J >= 0.8, false flags at J < 0.5, and the same for datasketch measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import polars as pl
from datasketch import MinHash, MinHashLSH
from datatrove.utils.text import TextNormConfig, simplify_text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from curation.pipeline import curate  # noqa: E402
from curation.recipe import CurationRecipe  # noqa: E402
from mixlab.schema import record_text  # noqa: E402

ADJ = ("quiet bright heavy narrow ancient modern gentle rapid careful hidden rural urban frozen golden silent "
       "crowded distant simple complex fragile sturdy elegant humble curious hungry tired clever brave").split()
NOUN = ("river engine teacher garden market village library station mountain kitchen farmer signal network "
        "bridge harbour lantern journey painter window student doctor forest machine valley island orchard "
        "council museum bakery tunnel compass ledger harvest canvas factory theatre meadow pilot").split()
VERB = ("builds carries watches repairs measures follows describes protects explores collects improves "
        "questions supports remembers delivers examines shapes guides balances gathers").split()
PREP = "near beside under above behind across through around beyond within".split()
NORM = TextNormConfig(norm_numbers=False)


def sentence(rng: random.Random) -> str:
    return (f"The {rng.choice(ADJ)} {rng.choice(NOUN)} {rng.choice(VERB)} the {rng.choice(ADJ)} "
            f"{rng.choice(NOUN)} {rng.choice(PREP)} the {rng.choice(NOUN)} every {rng.randint(2, 99)} days.")


def make_record(rng: random.Random, i: int) -> dict:
    question = f"Question {i}: what does the {rng.choice(ADJ)} {rng.choice(NOUN)} do?"
    answer = " ".join(sentence(rng) for _ in range(rng.randint(6, 10)))
    return {"id": f"r{i}", "messages": [{"role": "user", "content": question},
                                         {"role": "assistant", "content": answer}]}


def mutate(record: dict, rng: random.Random, k: int, new_id: str) -> dict:
    words = record["messages"][1]["content"].split(" ")
    for pos in rng.sample(range(len(words)), min(k, len(words))):
        words[pos] = rng.choice(NOUN + ADJ)
    return {"id": new_id, "messages": [record["messages"][0], {"role": "assistant", "content": " ".join(words)}]}


def shingle_set(record: dict, n: int = 5) -> set[str]:
    import re

    words = re.findall(r"\w+", simplify_text(record_text(record), NORM))
    return {" ".join(words[i:i + n]) for i in range(len(words) - n + 1)}


def jaccard(a: set, b: set) -> float:
    return len(a & b) / max(1, len(a | b))


def make_corpus(out: Path, n: int, seed: int, shards: int = 8) -> list[tuple[str, str, float]]:
    """Writes shards; returns planted pairs (original id, copy id, exact Jaccard). Copies come after originals."""
    rng = random.Random(seed)
    rows, pairs = [], []
    n_plants = n // 10
    originals = [make_record(rng, i) for i in range(n - n_plants)]
    for j in range(n_plants):
        orig = originals[rng.randrange(len(originals))]
        copy = mutate(orig, rng, rng.randint(0, 30), f"p{j}")
        pairs.append((orig["id"], copy["id"], jaccard(shingle_set(orig), shingle_set(copy))))
        rows.append(copy)
    rows = originals + rows
    out.mkdir(parents=True, exist_ok=True)
    per_shard = -(-len(rows) // shards)
    for s in range(shards):
        chunk = rows[s * per_shard:(s + 1) * per_shard]
        (out / f"shard{s:02d}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in chunk))
    return pairs


def score(pairs, flagged) -> dict:
    """recall on J >= 0.8 pairs; false-flag rate on J < 0.5 pairs (copy flagged as a near duplicate)."""
    high = [p for p in pairs if p[2] >= 0.8]
    low = [p for p in pairs if p[2] < 0.5]
    return {"recall@0.8": sum(flagged(p) for p in high) / max(1, len(high)),
            "false@<0.5": sum(flagged(p) for p in low) / max(1, len(low)), "n_high": len(high), "n_low": len(low)}


def run_datasketch(rows: list[dict], num_perm: int, threshold: float) -> tuple[float, set]:
    started = time.perf_counter()
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    flagged = set()
    for row in rows:
        m = MinHash(num_perm=num_perm)
        m.update_batch([s.encode() for s in shingle_set(row)])
        if lsh.query(m):
            flagged.add(row["id"])
        else:
            lsh.insert(row["id"], m)
    return len(rows) / (time.perf_counter() - started), flagged


def stage_times(out: Path) -> dict[str, float]:
    times = {}
    for stats in sorted((out / "logs").glob("*/stats.json")):
        steps = json.loads(stats.read_text())
        times[stats.parent.name] = sum(s["time_stats"].get("total", 0.0) for s in steps
                                       if isinstance(s.get("time_stats"), dict))
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default="runs/bench-curation")
    args = ap.parse_args()
    out = Path(args.out)
    pairs = make_corpus(out / "raw", args.records, seed=0)
    rows = [json.loads(line) for p in sorted((out / "raw").glob("*.jsonl")) for line in p.open()]
    recipe = CurationRecipe()
    started = time.perf_counter()
    curate([str(p) for p in sorted((out / "raw").glob("*.jsonl"))], str(out / "curated"), recipe,
           workers=args.workers, force=True, progress=lambda m: print(m, file=sys.stderr))
    wall = time.perf_counter() - started
    removed = pl.read_parquet(f"{out}/curated/removed/*.parquet")
    near = set(removed.filter(pl.col("removed_by").str.starts_with("dedup"))["id"].to_list())
    ours = score(pairs, lambda p: p[1] in near)
    num_perm = recipe.dedup.minhash.num_buckets * recipe.dedup.minhash.hashes_per_bucket
    ds_rate, ds_flagged = run_datasketch(rows, num_perm, recipe.dedup.minhash.threshold)
    theirs = score(pairs, lambda p: p[1] in ds_flagged)
    planted_ids = {p[1] for p in pairs}
    print(f"\ncorpus: {len(rows)} records, {len(pairs)} planted pairs ({ours['n_high']} at J>=0.8, "
          f"{ours['n_low']} at J<0.5), {args.workers} workers\n")
    print(f"| {'measure':<38} | {'mixlab curate':>14} | {'datasketch LSH':>14} |")
    print(f"|{'-' * 40}|{'-' * 16}|{'-' * 16}|")
    print(f"| {'end-to-end records/s/core':<38} | {len(rows) / wall / args.workers:>14.0f} | {ds_rate:>14.0f} |")
    for stage, secs in stage_times(out / "curated").items():
        print(f"| {'  stage ' + stage + ' records/s/core':<38} | {len(rows) / max(secs, 1e-9):>14.0f} | {'':>14} |")
    print(f"| {'recall, pairs J >= 0.8':<38} | {ours['recall@0.8']:>14.3f} | {theirs['recall@0.8']:>14.3f} |")
    print(f"| {'false flags, pairs J < 0.5':<38} | {ours['false@<0.5']:>14.4f} | {theirs['false@<0.5']:>14.4f} |")
    print(f"| {'flagged outside planted copies':<38} | {len(near - planted_ids):>14} | "
          f"{len(ds_flagged - planted_ids):>14} |")
    print(f"| {'wall seconds':<38} | {wall:>14.1f} | {len(rows) / ds_rate:>14.1f} |")
    print(f"ratio end-to-end per core vs datasketch in-process: {len(rows) / wall / args.workers / ds_rate:.2f}x")


if __name__ == "__main__":
    main()
