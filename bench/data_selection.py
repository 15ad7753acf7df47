"""Data-selection benchmark: MiniLM embedding throughput on this CPU, semantic-dedup precision/recall on planted
paraphrases, cache cost, clustering time at scale, and the cost of 1M records extrapolated from measured rates.

    .venv/bin/python bench/data_selection.py                       # 4k real prompts + 600 planted paraphrases
    .venv/bin/python bench/data_selection.py --records 3000 --planted 300 --scale 50000,100000   # quicker look

Prompts are real (GSM8K, MATH, MMLU, ARC, CommonsenseQA, GPTeacher, AlpacaEval instructions from ../shared/data;
a seeded sentence grammar when that folder is missing), exact-deduplicated. Each planted paraphrase is a templated
rewording of one of them (a request prefix, an instruction suffix, a chat wrapper, contractions + lower case, or
prefix + edit), placed after its original so the original survives. A flagged pair is right when it is a planted
one; real near-duplicates already in the benchmarks count against precision and are listed for a person to judge.
Clustering time (k-means partitions + greedy survivors, the stage's code) is measured on synthetic vectors built
from the real embeddings (noisy copies at cosine ~0.7, so few are duplicates: the slow case) at --scale sizes and
extrapolated to 1M with the fitted power law. Prints Markdown for bench/RESULTS.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

# this script shares its name with the stdlib's `select`: keep bench/ off the path, put the repo root there instead
sys.path[0] = str(Path(__file__).resolve().parents[1])

import argparse  # noqa: E402
import gzip  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import psutil  # noqa: E402

from curation.selection.embedding_cache import EmbeddingCache  # noqa: E402
from curation.selection.semantic import semantic_duplicates  # noqa: E402
from mixlab.embeddings import embed, load_embedder  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
KINDS = {
    "prefix": lambda q: f"Please answer the following question. {q}",
    "suffix": lambda q: f"{q} Explain your reasoning step by step.",
    "wrapper": lambda q: f"Can you help me with this one?\n\n{q}\n\nThanks!",
    "edit": lambda q: contract(q),
    "prefix+edit": lambda q: f"Quick question: {contract(q)}",
}
CONTRACTIONS = {"What is": "What's", "what is": "what's", "do not": "don't", "does not": "doesn't",
                "It is": "It's", "it is": "it's", "cannot": "can't", "you are": "you're", "How many": "how many"}
THRESHOLDS = (0.8, 0.85, 0.9, 0.95)
DEFAULT_THRESHOLD = 0.9


def contract(text: str) -> str:
    for long, short in CONTRACTIONS.items():
        text = text.replace(long, short)
    return text.rstrip(" ?.!").lower()


# ---------------------------------------------------------------- prompts


def read_json_rows(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        text = f.read()
    return json.loads(text) if text.lstrip().startswith("[") else [json.loads(x) for x in text.split("\n") if x.strip()]


def real_prompts(data: Path) -> list[str]:
    sources = [("gsm8k/train.jsonl", lambda r: r["question"]), ("math/train.jsonl.gz", lambda r: r["problem"]),
               ("mmlu/test.jsonl.gz", lambda r: r["question"]), ("arc/arc_easy_test.jsonl.gz", lambda r: r["question"]),
               ("commonsense_qa/validation.jsonl.gz", lambda r: r["question"]),
               ("sft/gpteacher_codegen_instruct.json.gz", lambda r: f"{r['instruction']}\n{r.get('input') or ''}"),
               ("chat_eval/alpaca_eval_gpt4_1106_preview_model_outputs.json.gz", lambda r: r["instruction"])]
    prompts = []
    for rel, field in sources:
        if (data / rel).exists():
            prompts += [field(r).strip() for r in read_json_rows(data / rel)]
    return prompts


def grammar_prompts(n: int, rng: random.Random) -> list[str]:
    nouns = "river engine teacher garden market village library station mountain kitchen farmer bridge".split()
    verbs = "build repair measure describe protect explore collect improve examine guide".split()
    return [f"How would a {rng.choice(nouns)} {rng.choice(verbs)} the {rng.choice(nouns)} in {rng.randint(2, 999)} "
            f"days, and why?" for _ in range(n)]


def corpus(records: int, planted: int, seed: int, data: Path) -> tuple[list[str], dict[int, tuple[int, str]]]:
    """(texts, {variant index: (original index, kind)}): distinct prompts, then planted rewordings."""
    rng = random.Random(seed)
    pool = real_prompts(data) or grammar_prompts(records * 2, rng)
    seen, distinct = set(), []
    for text in pool:
        key = " ".join(text.lower().split())
        if text and key not in seen:
            seen.add(key)
            distinct.append(text)
    rng.shuffle(distinct)
    texts = distinct[:records]
    planted_of = {}
    for original in rng.sample(range(len(texts)), min(planted, len(texts))):
        kind = rng.choice(list(KINDS))
        planted_of[len(texts)] = (original, kind)
        texts.append(KINDS[kind](texts[original]))
    return texts, planted_of


# ---------------------------------------------------------------- measuring


class PeakRss:
    """Samples this process's RSS every 20 ms while active; .peak in GiB."""

    def __enter__(self):
        self.peak, self.done = 0, threading.Event()
        process = psutil.Process()

        def poll():
            while not self.done.wait(0.02):
                self.peak = max(self.peak, process.memory_info().rss)

        self.thread = threading.Thread(target=poll, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()
        self.peak = max(self.peak, psutil.Process().memory_info().rss) / 2**30


def cpu_seconds() -> float:
    times = psutil.Process().cpu_times()
    return times.user + times.system


def throughput(texts: list[str], batch_sizes: list[int]) -> list[dict]:
    """Wall-clock rate, and the rate the same CPU seconds give on idle cores (the machine is shared)."""
    model = load_embedder(None)
    embed(model, texts[:32], batch_size=32)   # warm-up: first-call allocations
    rows = []
    for batch in batch_sizes:
        with PeakRss() as rss:
            start, cpu = time.perf_counter(), cpu_seconds()
            embed(model, texts, batch_size=batch)
            seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu
        rows.append({"batch": batch, "records": len(texts), "seconds": seconds, "rate": len(texts) / seconds,
                     "cpu_seconds": cpu, "idle_rate": len(texts) * os.cpu_count() / cpu, "peak_gib": rss.peak})
    return rows


def pair_quality(texts, planted_of, vectors, threshold: float, cluster_size: int) -> dict:
    start = time.perf_counter()
    result = semantic_duplicates(vectors, np.arange(len(texts)), threshold, cluster_size)
    seconds = time.perf_counter() - start
    flagged = {(int(j), int(result.dup_of[j])) for j in np.flatnonzero(result.dup_of >= 0)}
    planted_pairs = {(v, o) for v, (o, _) in planted_of.items()}
    right = flagged & planted_pairs
    touching = {(j, k) for j, k in flagged if j in planted_of or k in planted_of}
    by_kind = {}
    for v, (o, kind) in planted_of.items():
        found, total = by_kind.get(kind, (0, 0))
        by_kind[kind] = (found + ((v, o) in right), total + 1)
    other = sorted(flagged - planted_pairs, key=lambda p: -result.cosine[p[0]])
    return {"threshold": threshold, "cluster_size": cluster_size, "partitions": len(result.partition_sizes()),
            "flagged": len(flagged), "right": len(right), "precision": len(right) / len(flagged) if flagged else 1.0,
            "precision_planted": len(right) / len(touching) if touching else 1.0, "natural": len(flagged - touching),
            "recall": len(right) / len(planted_pairs), "by_kind": by_kind, "seconds": seconds,
            "unplanted": [(texts[j][:90], texts[k][:90], round(float(result.cosine[j]), 3)) for j, k in other[:3]]}


def synthetic(vectors: np.ndarray, n: int, seed: int) -> np.ndarray:
    """n noisy copies of real embeddings at cosine ~0.7 to their origin (few duplicates: the slow case)."""
    rng = np.random.default_rng(seed)
    out = vectors[rng.integers(0, len(vectors), n)] + rng.normal(0, 0.052, (n, vectors.shape[1])).astype(np.float32)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def clustering_times(vectors: np.ndarray, sizes: list[int], cluster_size: int) -> list[dict]:
    rows = []
    for n in sizes:
        data = synthetic(vectors, n, seed=n)
        with PeakRss() as rss:
            start = time.perf_counter()
            result = semantic_duplicates(data, np.arange(n), DEFAULT_THRESHOLD, cluster_size)
            seconds = time.perf_counter() - start
        rows.append({"n": n, "seconds": seconds, "partitions": len(result.partition_sizes()),
                     "removed": int((result.dup_of >= 0).sum()), "peak_gib": rss.peak})
        del data
    return rows


def cache_costs(texts: list[str], batch_size: int) -> tuple[dict, np.ndarray]:
    """Embed the corpus through a fresh EmbeddingCache, then again from the cache: (costs, vectors)."""
    with tempfile.TemporaryDirectory() as folder:
        cache = EmbeddingCache(None, folder)
        start = time.perf_counter()
        vectors = cache.embed(texts, batch_size=batch_size, progress=False)
        cold = time.perf_counter() - start
        warm_cache = EmbeddingCache(None, folder)
        start = time.perf_counter()
        again = warm_cache.embed(texts, batch_size=batch_size, progress=False)
        warm = time.perf_counter() - start
        size = sum(p.stat().st_size for p in Path(folder).rglob("*.npy"))
    assert np.array_equal(vectors, again), "the cache must return the vectors it stored"
    return {"records": len(texts), "batch": batch_size, "cold_seconds": cold, "warm_seconds": warm,
            "warm_new": warm_cache.new, "bytes_per_record": size / len(set(texts))}, vectors


# ---------------------------------------------------------------- report


def report(args, texts, planted_of, rates, qualities, partitioned, clusters, cache) -> str:
    best = max(rates, key=lambda r: r["rate"])
    idle = max(rates, key=lambda r: r["idle_rate"])
    lines = [f"corpus: {len(texts) - len(planted_of)} distinct real prompts + {len(planted_of)} planted paraphrases "
             f"({', '.join(KINDS)}); mean {np.mean([len(t) for t in texts]):.0f} chars; {os.cpu_count()} cores, "
             f"torch threads {__import__('torch').get_num_threads()}, load average "
             f"{os.getloadavg()[0]:.1f} at the end", "",
             "| embedding batch size | records | wall s | records/s (wall, shared machine) | CPU s | records/s "
             "on idle cores (records × cores / CPU s) | peak RSS GiB |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['batch']} | {r['records']} | {r['seconds']:.1f} | {r['rate']:.1f} | {r['cpu_seconds']:.1f} | "
              f"{r['idle_rate']:.0f} | {r['peak_gib']:.2f} |" for r in rates]
    kinds = list(KINDS)
    lines += ["", "| threshold | partitions | pairs flagged | planted found | precision (pairs with a planted "
              "record) | precision (all pairs) | pairs already in the data | recall | "
              + " | ".join(f"recall {k}" for k in kinds) + " | dedup seconds |",
              "|" + "---|" * (9 + len(kinds))]
    for q in [*qualities, partitioned]:
        per_kind = " | ".join(f"{q['by_kind'].get(k, (0, 0))[0]}/{q['by_kind'].get(k, (0, 0))[1]}" for k in kinds)
        lines.append(f"| {q['threshold']} | {q['partitions']} (size {q['cluster_size']}) | {q['flagged']} | "
                     f"{q['right']} | {q['precision_planted']:.3f} | {q['precision']:.3f} | {q['natural']} | "
                     f"{q['recall']:.3f} | {per_kind} | {q['seconds']:.2f} |")
    default = next(q for q in qualities if q["threshold"] == DEFAULT_THRESHOLD)
    lines += ["", f"unplanted pairs flagged at {DEFAULT_THRESHOLD} (already in the data; cosine, the two prompts):"]
    lines += [f"- {c}: `{a!r}` / `{b!r}`" for a, b, c in default["unplanted"]] or ["- none"]
    lines += ["", "| clustering (k-means partitions of 5000 + greedy survivors) | seconds | partitions | removed | "
              "peak RSS GiB |", "|---|---|---|---|---|"]
    lines += [f"| {c['n']:,} synthetic vectors | {c['seconds']:.1f} | {c['partitions']} | {c['removed']} | "
              f"{c['peak_gib']:.2f} |" for c in clusters]
    exponent = (np.log(clusters[-1]["seconds"] / clusters[0]["seconds"]) / np.log(clusters[-1]["n"] / clusters[0]["n"])
                if len(clusters) > 1 else 1.0)
    cluster_1m = clusters[-1]["seconds"] * (1e6 / clusters[-1]["n"]) ** exponent
    embed_1m = 1e6 / best["rate"]
    lines += ["", f"cache: {cache['records']} prompts embedded cold (batch {cache['batch']}) in "
              f"{cache['cold_seconds']:.1f} s ({cache['records'] / cache['cold_seconds']:.0f}/s), read back in "
              f"{cache['warm_seconds']:.2f} s ({cache['warm_new']} embedded again); "
              f"{cache['bytes_per_record']:.0f} bytes per cached prompt", "",
              "Extrapolated to 1M records on this machine (measured rates; semantic dedup's own cost only):", "",
              f"- embedding at the wall-clock rate measured here (batch {best['batch']}, {best['rate']:.1f} "
              f"records/s, shared machine): {embed_1m / 3600:.1f} h",
              f"- embedding on {os.cpu_count()} idle cores (batch {idle['batch']}, {idle['idle_rate']:.0f} records/s "
              f"from CPU seconds): {1e6 / idle['idle_rate'] / 3600:.1f} h, "
              f"{1e6 / idle['idle_rate'] * os.cpu_count() / 3600:.1f} core-hours",
              f"- clustering: {cluster_1m / 60:.1f} min (time ~ n^{exponent:.2f} fitted between "
              f"{clusters[0]['n']:,} and {clusters[-1]['n']:,})",
              f"- embedding cache on disk: {cache['bytes_per_record'] * 1e6 / 2**30:.2f} GiB; a rerun reads it at "
              f"{cache['records'] / max(cache['warm_seconds'], 1e-9):,.0f} prompts/s instead of re-embedding",
              f"- vectors in memory for the clustering: {1e6 * 384 * 4 / 2**30:.2f} GiB"]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=4_000, help="distinct real prompts")
    parser.add_argument("--planted", type=int, default=600, help="planted paraphrases")
    parser.add_argument("--throughput-records", type=int, default=500, help="prompts timed per batch size")
    parser.add_argument("--batch-sizes", default="16,64,128")
    parser.add_argument("--scale", default="100000,200000", help="synthetic sizes for the clustering time")
    parser.add_argument("--partition-size", type=int, default=1_000,
                        help="cluster_size of the partitioned run on the corpus (the others search exactly)")
    parser.add_argument("--data", default=str(SHARED), help="folder with the real prompt files")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    texts, planted_of = corpus(args.records, args.planted, args.seed, Path(args.data))
    sample = random.Random(args.seed).sample(texts, min(args.throughput_records, len(texts)))
    rates = throughput(sample, [int(b) for b in args.batch_sizes.split(",")])
    print(f"throughput: {[round(r['rate']) for r in rates]} records/s", file=sys.stderr)
    cache, vectors = cache_costs(texts, max(rates, key=lambda r: r["rate"])["batch"])
    qualities = [pair_quality(texts, planted_of, vectors, t, len(texts)) for t in THRESHOLDS]
    partitioned = pair_quality(texts, planted_of, vectors, DEFAULT_THRESHOLD, args.partition_size)
    clusters = clustering_times(vectors, [int(n) for n in args.scale.split(",")], 5000)
    print(report(args, texts, planted_of, rates, qualities, partitioned, clusters, cache))
    return 0


if __name__ == "__main__":
    sys.exit(main())
