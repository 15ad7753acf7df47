"""Decontamination benchmark: mixlab's index against lm-eval's Janitor and datatrove's NGramsDecontFilter, same data.

    .venv/bin/python bench/decontam.py                       # needs ../shared/data (real benchmark splits)
    .venv/bin/python bench/decontam.py --clean 20000 --per-kind 100

Indexes all nine mission benchmarks from ../shared/data/benchmarks, then scans a corpus of generated clean chat
records plus real GSM8K train problems plus planted benchmark items of four kinds (verbatim; question in the user
turn and gold answer in the assistant turn; reformatted: recased, punctuation changed, options relabelled 1-4 and
reordered; embedded in a longer user turn). Prints index time, records/s, peak memory, recall per kind and
false-positive rates for each matcher. The references run as their libraries ship them except that datatrove's
default spaCy word tokenizer (not installed here) is replaced by str.split, which only makes it faster.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from decontam.benchmarks import load_items  # noqa: E402
from decontam.index import BenchmarkIndex  # noqa: E402
from decontam.items import MISSION_TASKS  # noqa: E402

BATCH = 512  # records per call; the references still look at one record at a time
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
WORDS = ("river engine teacher garden market village library station mountain kitchen farmer signal network bridge "
         "harbour lantern journey painter window student doctor forest machine valley island orchard council museum "
         "bakery tunnel compass ledger harvest canvas factory theatre meadow pilot quiet bright heavy narrow ancient "
         "modern gentle rapid careful hidden rural urban frozen golden silent builds carries watches repairs "
         "measures follows describes protects explores collects improves supports remembers delivers").split()


def clean_record(rng: random.Random) -> str:
    sentences = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 16))).capitalize() + "."
                 for _ in range(rng.randint(5, 12))]
    return " ".join(sentences)


def relabel(segments: list[str], rng: random.Random) -> str:
    head, options = segments[0], segments[1:]
    rng.shuffle(options)
    return head + "\n" + "\n".join(f"{i}) {o}" for i, o in enumerate(options, 1))


def plant(item, kind: str, rng: random.Random) -> list[str]:
    prompt, gold = list(item.prompt), " ".join(item.gold)
    if kind == "verbatim":
        return ["\n".join(prompt), gold]
    if kind == "gold_in_assistant":
        return ["\n".join(prompt[:1]), gold or "\n".join(prompt[1:])]
    if kind == "reformatted":
        text = relabel(prompt, rng) if len(prompt) > 2 else "\n".join(prompt)
        text = text.upper().replace(",", " ;").replace("?", " ??")
        return [text, gold.lower()]
    if kind == "embedded":
        return [f"{clean_record(rng)} Here is the exercise: {' '.join(prompt)} {clean_record(rng)}", gold]
    raise ValueError(kind)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class JanitorMatcher:
    """lm-eval's Janitor (13-grams, pure Python: the C++ janitor_util is not shipped) used as a detector."""

    name = "lm-eval Janitor"

    def __init__(self, items):
        from lm_eval.decontamination.janitor import Janitor, word_ngrams_indices

        self.ngrams = word_ngrams_indices
        self.janitor = Janitor(ngram_n=13)
        for item in items:
            self.janitor.register_contaminant_python("\n".join(item.prompt) + " " + " ".join(item.gold))

    def hits(self, records: list[list[str]]) -> list[bool]:
        norm, dirt = self.janitor.normalize_string, self.janitor.dirt_ngrams
        return [any(norm(ng) in dirt for text in texts for ng, _ in self.ngrams(text, 13)) for texts in records]


class DatatroveMatcher:
    """datatrove's NGramsDecontIndexer.compute_hashes (query + label, 12-grams) and NGramsDecontFilter.filter, called
    on a plain object: the steps' constructors want lighteval and spaCy (not installed; str.split stands in)."""

    name = "datatrove NGramsDecont"

    def __init__(self, items):
        from types import SimpleNamespace

        import xxhash
        from datatrove.data import Document
        from datatrove.pipeline.decont.n_grams import NGramsDecontConfig, NGramsDecontFilter, NGramsDecontIndexer

        config = NGramsDecontConfig(find_query_ngrams=True)
        # datatrove's xxhash64 passes str, which xxhash 4 rejects ("Strings must be encoded"): encode first
        self.state = SimpleNamespace(config=config, tokenizer=SimpleNamespace(word_tokenize=str.split),
                                     hash_func=lambda text: xxhash.xxh64_intdigest(text.encode()), _index_hashes={},
                                     stat_update=lambda *a, **k: None)
        for item in items:
            label = " ".join(item.gold) or item.prompt[-1]
            for h in NGramsDecontIndexer.compute_hashes(self.state, label, "\n".join(item.prompt)):
                self.state._index_hashes[h] = item.task
        self.filter, self.document = NGramsDecontFilter.filter, Document

    def hits(self, records: list[list[str]]) -> list[bool]:
        return [self.filter(self.state, self.document(text="\n".join(texts), id="x")) is not True
                for texts in records]


class MixlabMatcher:
    name = "mixlab BenchmarkIndex"

    def __init__(self, items_by_task):
        self.index = BenchmarkIndex.build(items_by_task, ngram=8)

    def hits(self, records: list[list[str]]) -> list[bool]:
        return [bool(found) for found in self.index.matches_batch(records, threshold=0.5)]


def build_corpus(items_by_task, n_clean: int, per_kind: int, seed: int = 0):
    rng = random.Random(seed)
    corpus = [("clean", [f"Tell me about the {rng.choice(WORDS)}.", clean_record(rng)]) for _ in range(n_clean)]
    gsm_train = SHARED / "gsm8k" / "train.jsonl"
    corpus += [("gsm8k_train", [r["question"], r["answer"]]) for r in map(json.loads, gsm_train.open())]
    pool = [item for task in MISSION_TASKS for item in items_by_task[task]]
    for kind in ("verbatim", "gold_in_assistant", "reformatted", "embedded"):
        corpus += [(kind, plant(item, kind, rng)) for item in rng.sample(pool, per_kind)]
    rng.shuffle(corpus)
    return corpus


def measure(matcher_factory, arg, corpus, limit: int | None):
    started = time.perf_counter()
    matcher = matcher_factory(arg)
    index_s = time.perf_counter() - started
    sample = corpus if limit is None else corpus[:limit]
    hits: dict[str, list[int]] = {}
    started = time.perf_counter()
    for start in range(0, len(sample), BATCH):
        chunk = sample[start:start + BATCH]
        for (kind, _), hit in zip(chunk, matcher.hits([texts for _, texts in chunk])):
            hits.setdefault(kind, [0, 0])
            hits[kind][0] += hit
            hits[kind][1] += 1
    scan_s = time.perf_counter() - started
    return {"name": matcher.name, "index_s": index_s, "rate": len(sample) / scan_s, "hits": hits,
            "rss": peak_rss_mb(), "scanned": len(sample)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clean", type=int, default=100_000, help="generated clean records")
    ap.add_argument("--per-kind", type=int, default=500, help="planted items per kind")
    ap.add_argument("--reference-limit", type=int, default=20_000,
                    help="records the (slow) references scan; their rates are per record, recall on what they saw")
    args = ap.parse_args()
    started = time.perf_counter()
    items = load_items(list(MISSION_TASKS), str(SHARED / "benchmarks"))
    load_s = time.perf_counter() - started
    flat = [item for task in MISSION_TASKS for item in items[task]]
    corpus = build_corpus(items, args.clean, args.per_kind)
    print(f"{len(flat)} benchmark items loaded and rendered in {load_s:.1f}s; corpus {len(corpus)} records",
          file=sys.stderr)
    results = [measure(MixlabMatcher, items, corpus, None),
               measure(DatatroveMatcher, flat, corpus, args.reference_limit),
               measure(JanitorMatcher, flat, corpus, args.reference_limit)]
    kinds = ["verbatim", "gold_in_assistant", "reformatted", "embedded"]
    print(f"\n| {'measure':<32} | " + " | ".join(f"{r['name']:>22}" for r in results) + " |")
    print(f"|{'-' * 34}|" + "|".join("-" * 24 for _ in results) + "|")

    def row(label, values):
        print(f"| {label:<32} | " + " | ".join(f"{v:>22}" for v in values) + " |")

    row("records scanned", [r["scanned"] for r in results])
    row("index build s (after loading)", [f"{r['index_s']:.1f}" for r in results])
    row("scan records/s (1 core)", [f"{r['rate']:.0f}" for r in results])
    row("peak RSS MB (process, cumulative)", [f"{r['rss']:.0f}" for r in results])
    for kind in kinds:
        row(f"recall {kind}", [f"{r['hits'].get(kind, [0, 0])[0] / max(1, r['hits'].get(kind, [0, 1])[1]):.3f}"
                               for r in results])
    row("false positives, clean", [f"{r['hits']['clean'][0] / r['hits']['clean'][1]:.4%}" for r in results])
    row("GSM8K train flagged", [f"{r['hits']['gsm8k_train'][0] / r['hits']['gsm8k_train'][1]:.3%}"
                                for r in results])
    mine = results[0]["rate"]
    for r in results[1:]:
        print(f"mixlab scan speed vs {r['name']}: {mine / r['rate']:.1f}x")


if __name__ == "__main__":
    if not (SHARED / "benchmarks").is_dir():
        sys.exit(f"needs {SHARED / 'benchmarks'} (the shared benchmark splits)")
    main()
