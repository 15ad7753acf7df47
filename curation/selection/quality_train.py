"""`mixlab quality train`: fit a fastText classifier of good vs. bad records and report held-out precision/recall.

    mixlab quality train --positive runs/verified --negative runs/raw/removed --output quality.bin

Each side is a curated folder (its data/ is read), a folder of parquet files (e.g. DIR/removed: only rows removed
by a filter are used unless --removed-by says otherwise, since dedup drops are copies of kept records), a
.parquet file or a .jsonl of canonical records. The text is the record as the filters see it
(curation.selection.quality.quality_text). A seeded hash of each record's id holds out --holdout of each class;
the model trained on the rest is saved with a report next to it (quality.json). If fastText diverges (NaN), the
learning rate is halved and training retried; the report gives the rate that was used.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
from pathlib import Path

import numpy as np
import polars as pl
import xxhash

from curation.read import InputError
from curation.selection.quality import NEGATIVE, POSITIVE, quality_text, score_texts
from mixlab.schema import decode_row

DEFAULT_REMOVED_BY = ("filter:",)
LR_RETRIES = 3


def record_files(path: Path) -> list[Path]:
    if path.is_dir() and (path / "data").is_dir():
        return sorted((path / "data").glob("*/*.parquet"))
    if path.is_dir():
        return sorted([*path.glob("*.parquet"), *path.glob("*.jsonl")])
    if path.is_file():
        return [path]
    raise FileNotFoundError(f"{path}: no such file or folder")


def read_records(paths: list[str], removed_by: tuple[str, ...] = DEFAULT_REMOVED_BY) -> list[dict]:
    """Canonical records of every path; rows of removed/ files only when removed_by starts with a prefix."""
    records = []
    for path in paths:
        for file in record_files(Path(path)):
            if file.suffix == ".jsonl":
                rows = [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]
            else:
                rows = pl.read_parquet(file).to_dicts()
            for row in rows:
                if "removed_by" in row and not str(row["removed_by"] or "").startswith(removed_by):
                    continue
                records.append(decode_row({k: v for k, v in row.items() if v is not None}))
    return records


def held_out(record: dict, fraction: float, seed: int) -> bool:
    return xxhash.xxh3_64_intdigest(f"{seed}:{record.get('id')}".encode()) / 2**64 < fraction


def split(positive: list[dict], negative: list[dict], fraction: float, seed: int):
    """(train lines, holdout texts, holdout labels 1/0)."""
    train, test, labels = [], [], []
    for records, label, flag in ((positive, POSITIVE, 1), (negative, NEGATIVE, 0)):
        for record in records:
            text = quality_text(record)
            if held_out(record, fraction, seed):
                test.append(text)
                labels.append(flag)
            else:
                train.append(f"{label} {text}")
    random.Random(seed).shuffle(train)  # SGD over blocks of one label at a time learns worse
    return train, test, np.asarray(labels, dtype=np.int64)


def auc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    """ROC AUC by ranks (ties averaged); None without both classes."""
    n_pos, n_neg = int(labels.sum()), int((1 - labels).sum())
    if not n_pos or not n_neg:
        return None
    ranks = pl.Series(scores).rank("average").to_numpy()
    return float((ranks[labels == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def holdout_metrics(labels: np.ndarray, scores: np.ndarray, threshold: float = 0.5) -> dict:
    predicted = scores >= threshold
    tp = int((predicted & (labels == 1)).sum())
    fp = int((predicted & (labels == 0)).sum())
    fn = int((~predicted & (labels == 1)).sum())
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    f1 = 2 * precision * recall / (precision + recall) if precision and recall else None
    return {"threshold": threshold, "positives": int(labels.sum()), "negatives": int((1 - labels).sum()),
            "precision": precision, "recall": recall, "f1": f1,
            "accuracy": float((predicted == (labels == 1)).mean()) if len(labels) else None,
            "auc": auc(labels, scores)}


def fit(path: str, lr: float, **params):
    """fastText supervised training; when it diverges (NaN, fastText's advice: too high a learning rate) it is
    retried at half the rate, up to LR_RETRIES times. Returns (model, the learning rate that trained it)."""
    import fasttext

    for attempt in range(LR_RETRIES + 1):
        try:
            return fasttext.train_supervised(input=path, lr=lr, verbose=0, **params), lr
        except RuntimeError as err:
            if "NaN" not in str(err) or attempt == LR_RETRIES:
                raise InputError(f"fastText training failed at --lr {lr}: {err}") from None
            lr /= 2


def train_quality_model(positive: list[str], negative: list[str], output: str, *, holdout: float = 0.1,
                        seed: int = 0, epoch: int = 10, lr: float = 0.1, dim: int = 64, word_ngrams: int = 2,
                        min_count: int = 1, bucket: int = 2**17, threads: int = 1,
                        removed_by: tuple[str, ...] = DEFAULT_REMOVED_BY) -> dict:
    pos, neg = read_records(positive, removed_by), read_records(negative, removed_by)
    if not pos or not neg:
        raise InputError(f"need records on both sides: {len(pos)} positive, {len(neg)} negative")
    train, test, labels = split(pos, neg, holdout, seed)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8", delete=False) as f:
        f.write("\n".join(train) + "\n")
    try:
        model, used_lr = fit(f.name, lr, epoch=epoch, dim=dim, wordNgrams=word_ngrams, minCount=min_count,
                             bucket=bucket, thread=threads, seed=seed)
    finally:
        os.unlink(f.name)
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    model.save_model(str(output))
    report = {"model": str(output), "positive": list(positive), "negative": list(negative),
              "records": {"positive": len(pos), "negative": len(neg), "train": len(train), "holdout": len(test)},
              "params": {"epoch": epoch, "lr": used_lr, "lr_requested": lr, "dim": dim, "word_ngrams": word_ngrams,
                         "min_count": min_count, "bucket": bucket, "threads": threads, "seed": seed, "holdout": holdout,
                         "removed_by": list(removed_by)},
              "holdout": holdout_metrics(labels, score_texts(model, test))}
    Path(output).with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def add_quality(sub) -> None:
    p = sub.add_parser("quality", help="train a fastText quality classifier (the curate step `quality`)",
                       description="Quality classifiers for `mixlab curate` recipes (quality.model).")
    commands = p.add_subparsers(dest="quality_command", required=True, metavar="<command>")
    t = commands.add_parser("train", help="fit a classifier of good (positive) vs. bad (negative) records",
                            description="Train a fastText classifier on good (--positive) vs. bad (--negative) "
                            "records, hold out a seeded fraction of each class and report precision/recall on it. "
                            "Use the model in a curate recipe as quality.model.")
    t.add_argument("--positive", nargs="+", required=True, help="curated folders / parquet / jsonl of good records")
    t.add_argument("--negative", nargs="+", required=True, help="the same for bad records (e.g. DIR/removed)")
    t.add_argument("--output", required=True, help="MODEL.bin (a report goes to MODEL.json)")
    t.add_argument("--removed-by", nargs="+", default=list(DEFAULT_REMOVED_BY), metavar="PREFIX",
                   help="rows of removed/ files used when removed_by starts with one of these (default: filter:)")
    t.add_argument("--holdout", type=float, default=0.1, help="fraction of each class held out (default 0.1)")
    t.add_argument("--epoch", type=int, default=10)
    t.add_argument("--lr", type=float, default=0.1)
    t.add_argument("--dim", type=int, default=64)
    t.add_argument("--word-ngrams", type=int, default=2)
    t.add_argument("--min-count", type=int, default=1)
    t.add_argument("--bucket", type=int, default=2**17, help="hashed n-gram buckets (model size ~ bucket * dim)")
    t.add_argument("--threads", type=int, default=1, help="more is faster, but not bit-reproducible")
    t.add_argument("--seed", type=int, default=0)
    t.set_defaults(handler=run_train)


def run_train(args) -> int:
    report = train_quality_model(args.positive, args.negative, args.output, holdout=args.holdout, seed=args.seed,
                                 epoch=args.epoch, lr=args.lr, dim=args.dim, word_ngrams=args.word_ngrams,
                                 min_count=args.min_count, bucket=args.bucket, threads=args.threads,
                                 removed_by=tuple(args.removed_by))
    counts, metrics = report["records"], report["holdout"]

    def pct(value):
        return "n/a" if value is None else f"{value:.3f}"

    print(f"trained on {counts['train']} records ({counts['positive']} positive, {counts['negative']} negative "
          f"in all); held out {counts['holdout']}")
    print(f"held-out at {metrics['threshold']}: precision {pct(metrics['precision'])}  recall "
          f"{pct(metrics['recall'])}  f1 {pct(metrics['f1'])}  auc {pct(metrics['auc'])}")
    if report["params"]["lr"] != args.lr:
        print(f"fastText diverged at --lr {args.lr}: trained at {report['params']['lr']:g} instead")
    print(f"model: {args.output}  report: {Path(args.output).with_suffix('.json')}")
    return 0
