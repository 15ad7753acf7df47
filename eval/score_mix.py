"""`mixlab score-mix`: rank candidate data mixes by curating each, a short SFT from one base model, a quick eval.

    mixlab score-mix --mixes mixes/a.yaml mixes/b.yaml --model configs/tiny/model/config.json --steps 30 \
        --suite quick --output runs/score-mix [--benchmark-dir BDIR] [--limit N] [--sft-recipe FILE] [--set K=V]

Per mix (eval/mixes.py says what a mix file holds): its `curate:` entries are curated into DIR/curated/<key>/, the
key being the curation's fingerprint (input sha256s + resolved recipe, as in its manifest.json), so a finished
folder is reused by a rerun and by any mix that curates the same inputs the same way (--cache-dir shares them
between score-mix runs); then train.sft runs --steps optimizer steps from --model on the mix (the --sft-recipe with
model, datasets, max_steps and output_dir overridden, checkpoints off), then eval.runner scores the trained model.
eval/leaderboard.py ranks the mixes: DIR/leaderboard.md, .png and .json.

    DIR/curated/<key>/                  curated folders (mixlab curate's layout)
    DIR/mixes/<name>/mix.yaml           the mix file as run
    DIR/mixes/<name>/sft/               the training run folder (config.yaml, mix.json, metrics.jsonl, the model)
    DIR/mixes/<name>/eval/              mixlab eval's outputs
    DIR/mixes/<name>/score.json         what the leaderboard reads: scores, data, cost per phase
"""

from __future__ import annotations

import gc
import json
import shlex
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from eval.mixes import CurateSpec, MixSpec, load_mixes
from eval.suite import InputError

REPO_ROOT = Path(__file__).resolve().parents[1]
CPU_SFT_RECIPE = REPO_ROOT / "configs" / "tiny" / "sft.yaml"
GPU_SFT_RECIPE = REPO_ROOT / "configs" / "qwen3-4b" / "sft.yaml"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")

USAGE = ("mixlab score-mix --mixes A.yaml [B.yaml ...] --model BASE --steps N --output DIR "
         "[--suite quick|mission|FILE] [--limit N] [--benchmark-dir BDIR] [--sft-recipe FILE] [--set KEY=VALUE] "
         "[--eval-set KEY=VALUE]")
DESCRIPTION = ("Score candidate data mixes: for each mix file, curate its `curate:` entries (cached by inputs and "
               "recipe), train a short SFT of N steps from BASE on the mix, evaluate it on the suite; then rank the "
               "mixes in DIR/leaderboard.md and DIR/leaderboard.png with each one's per-task scores and cost (wall "
               "time per phase, tokens trained). A mix file: `name`, `description`, `datasets:` (train's mix; an "
               "entry is {path, weight|rows} or {curate: {inputs, recipe, set}, weight|rows}).")


@dataclass
class ScoreMixRun:
    mixes: list[str]
    model: str
    steps: int
    output: str
    suite: str = "quick"
    limit: int | None = None
    benchmark_dir: str | None = None
    sft_recipe: str | None = None        # None: configs/tiny/sft.yaml on CPU, configs/qwen3-4b/sft.yaml on GPU
    sft_overrides: list[str] = field(default_factory=list)
    eval_overrides: list[str] = field(default_factory=list)
    backend: str | None = None
    allow_code_exec: bool = False
    cache_dir: str | None = None         # None: DIR/curated
    workers: int | None = None           # curation worker processes
    command: str = field(default_factory=lambda: shlex.join(["mixlab", *sys.argv[1:]]))


def add_score_mix(sub) -> None:
    p = sub.add_parser("score-mix", help="rank data mixes: curate, short SFT and quick eval of each",
                       usage=USAGE, description=DESCRIPTION)
    p.add_argument("--mixes", nargs="+", required=True, metavar="MIX.yaml", help="one YAML file per candidate mix")
    p.add_argument("--model", required=True, metavar="BASE", help="the base model folder (or a config.json: a "
                   "random-init tiny proxy, as train accepts)")
    p.add_argument("--steps", type=int, required=True, metavar="N", help="optimizer steps of each short SFT")
    p.add_argument("--output", required=True, metavar="DIR", help="output folder (leaderboard.md/.png/.json, mixes/)")
    p.add_argument("--suite", default="quick", help="eval suite: quick (default), mission, or a suite YAML")
    p.add_argument("--limit", type=int, metavar="N", help="docs per task (default: the suite's)")
    p.add_argument("--benchmark-dir", metavar="BDIR", help="BDIR/<task>.jsonl[.gz]|.parquet, as mixlab eval reads")
    p.add_argument("--sft-recipe", metavar="FILE", help="SFT recipe (default: configs/tiny/sft.yaml on CPU, "
                   "configs/qwen3-4b/sft.yaml with a GPU)")
    p.add_argument("--set", dest="sft_overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override an SFT recipe field, e.g. --set learning_rate=1e-5 (repeatable)")
    p.add_argument("--eval-set", dest="eval_overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a suite field, e.g. --eval-set tasks.gsm8k.max_gen_toks=256 (repeatable)")
    p.add_argument("--backend", choices=("vllm", "hf"), help="eval backend (default: vllm with a GPU, else hf)")
    p.add_argument("--allow-code-exec", action="store_true", help="score humaneval (runs generated code)")
    p.add_argument("--cache-dir", metavar="DIR", help="curated folders, reused across runs (default: OUTPUT/curated)")
    p.add_argument("--workers", type=int, help="curation worker processes (default: all cores)")
    p.set_defaults(handler=run_score_mix_command)


def run_score_mix_command(args) -> int:
    if args.steps < 1:
        raise InputError("--steps must be at least 1")
    run = ScoreMixRun(mixes=args.mixes, model=args.model, steps=args.steps, output=args.output, suite=args.suite,
                      limit=args.limit, benchmark_dir=args.benchmark_dir, sft_recipe=args.sft_recipe,
                      sft_overrides=args.sft_overrides, eval_overrides=args.eval_overrides, backend=args.backend,
                      allow_code_exec=args.allow_code_exec, cache_dir=args.cache_dir, workers=args.workers)
    score_mixes(run)
    return 0


def score_mixes(run: ScoreMixRun) -> list[dict]:
    """Score every mix, write the leaderboard; returns each mix's score.json content."""
    from eval.leaderboard import write_leaderboard
    from eval.suite import load_suite

    mixes = load_mixes(run.mixes)
    suite = load_suite(run.suite, run.eval_overrides)  # a bad suite fails before any training
    recipe = sft_recipe(run)
    check_model(run.model)
    out = Path(run.output)
    check_recipes(mixes, run, recipe, out)
    scores = []
    for i, mix in enumerate(mixes, 1):
        print(f"\n== score-mix {i}/{len(mixes)}: {mix.name} ({mix.file})", flush=True)
        scores.append(score_mix(mix, run, suite, recipe, out))
    settings = {"command": run.command, "model": run.model, "steps": run.steps, "sft_recipe": str(recipe),
                "sft_overrides": run.sft_overrides, "suite": suite.name, "limit": run.limit or suite.limit,
                "benchmark_dir": run.benchmark_dir, "devices": device_description(),
                "created": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    paths = write_leaderboard(out, scores, suite, settings)
    print(f"\nleaderboard: {paths[0]}\nplot: {paths[1]}")
    return scores


def sft_recipe(run: ScoreMixRun) -> Path:
    if run.sft_recipe:
        path = Path(run.sft_recipe)
        if not path.is_file():
            raise FileNotFoundError(f"--sft-recipe {path}: not found")
        return path
    import torch

    return GPU_SFT_RECIPE if torch.cuda.is_available() else CPU_SFT_RECIPE


def check_recipes(mixes: list[MixSpec], run: ScoreMixRun, recipe: Path, out: Path) -> None:
    """Every curation recipe and the SFT recipe with its overrides load: a typo fails before any work."""
    from train.config import load_run_config

    for mix in mixes:
        for entry in mix.entries:
            if entry.curate is not None:
                curation_recipe(entry.curate, mix.name)
    load_run_config("sft", recipe, sft_overrides([{"path": "."}], run, out / "mixes" / "check"))


def check_model(model: str) -> None:
    path = Path(model)
    if not (path.is_dir() or (path.is_file() and path.suffix == ".json")):
        raise FileNotFoundError(f"--model {model}: not a model folder nor a config.json")


def score_mix(mix: MixSpec, run: ScoreMixRun, suite, recipe: Path, out: Path) -> dict:
    folder = out / "mixes" / mix.name
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(mix.file, folder / "mix.yaml")
    cache = Path(run.cache_dir) if run.cache_dir else out / "curated"
    datasets, curations = [], []
    for entry in mix.entries:
        path = entry.path
        if entry.curate is not None:
            curation = curate_cached(entry.curate, cache, run.workers, mix.name)
            curations.append(curation)
            path = curation["folder"]
        datasets.append(entry.train_entry(path))
    training = train_mix(datasets, run, recipe, folder / "sft")
    evaluation = eval_mix(folder / "sft", run, suite, folder / "eval")
    curate_seconds = sum(c["seconds"] for c in curations)
    score = {"name": mix.name, "file": str(mix.file), "description": mix.description, "datasets": datasets,
             "curations": curations, "sft": training, "eval": evaluation,
             "cost": {"curate_seconds": round(curate_seconds, 1), "sft_seconds": training["seconds"],
                      "eval_seconds": evaluation["seconds"],
                      "total_seconds": round(curate_seconds + training["seconds"] + evaluation["seconds"], 1),
                      "tokens_trained": training["tokens"]}}
    (folder / "score.json").write_text(json.dumps(score, indent=2) + "\n", encoding="utf-8")
    return score


# ---- curation (cached) -------------------------------------------------------------------------------------

def curate_cached(spec: CurateSpec, cache: Path, workers: int | None, mix_name: str) -> dict:
    """The curated folder of `spec`: reused when a finished one with the same fingerprint is in the cache."""
    from curation.pipeline import curate
    from curation.read import discover_inputs
    from mixlab.manifest import RunManifest
    from mixlab.recipe import recipe_to_dict

    recipe = curation_recipe(spec, mix_name)
    files = discover_inputs(spec.inputs)
    # the same fingerprint curate's manifest gets (command and recipe_path are not part of it)
    fingerprint = RunManifest.for_run(cache, command="", recipe=recipe_to_dict(recipe), inputs=[f.path for f in files],
                                      extra={"tokenizer": None}).data["fingerprint"]
    folder = cache / fingerprint[:16]
    info = {"inputs": spec.inputs, "recipe": spec.recipe, "set": spec.overrides, "folder": str(folder),
            "fingerprint": fingerprint}
    if finished_curation(folder, fingerprint):
        print(f"curate: reusing {folder} (same inputs and recipe)", flush=True)
        return {**info, "reused": True, "seconds": 0.0, "kept": kept_records(folder)}
    started = time.monotonic()
    command = shlex.join(["mixlab", "curate", *spec.inputs, "--output", str(folder),
                          *(["--recipe", spec.recipe] if spec.recipe else []),
                          *(arg for o in spec.overrides for arg in ("--set", o))])
    curate(spec.inputs, str(folder), recipe, recipe_path=spec.recipe, workers=workers,
           command=f"{command}  # by mixlab score-mix, mix {mix_name}")
    seconds = round(time.monotonic() - started, 1)
    print(f"curate: {folder} in {seconds:.0f} s", flush=True)
    return {**info, "reused": False, "seconds": seconds, "kept": kept_records(folder)}


def curation_recipe(spec: CurateSpec, mix_name: str):
    from curation.recipe import CurationRecipe
    from mixlab.recipe import load_recipe

    recipe = load_recipe(CurationRecipe, spec.recipe, spec.overrides)
    if recipe.executor.type != "local":
        raise InputError(f"mix {mix_name}: score-mix curates in this process (executor.type local); curate on "
                         f"{recipe.executor.type} with `mixlab curate` and list the folder as `path:` instead")
    return recipe


def finished_curation(folder: Path, fingerprint: str) -> bool:
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        return False
    data = json.loads(manifest.read_text(encoding="utf-8"))
    return data.get("status") == "complete" and data.get("fingerprint") == fingerprint


def kept_records(folder: Path) -> int | None:
    card = folder / "datacard.json"
    if not card.is_file():
        return None
    return json.loads(card.read_text(encoding="utf-8"))["counts"]["total"]["kept"]


# ---- short SFT and quick eval ------------------------------------------------------------------------------

def sft_overrides(datasets: list[dict], run: ScoreMixRun, output_dir: Path) -> list[str]:
    """The recipe's fields a score run sets (JSON values are YAML, so odd paths survive), then the user's --set."""
    overrides = [f"model_name_or_path={json.dumps(run.model)}", f"datasets={json.dumps(datasets)}",
                 f"max_steps={run.steps}", f"output_dir={json.dumps(str(output_dir))}", "save_strategy=\"no\""]
    model = Path(run.model)
    if model.is_dir() and any((model / name).is_file() for name in TOKENIZER_FILES):
        overrides.append("tokenizer_name_or_path=null")  # the base folder's own tokenizer
    return [*overrides, *run.sft_overrides]


def train_mix(datasets: list[dict], run: ScoreMixRun, recipe: Path, output_dir: Path) -> dict:
    from train.launch import launch
    from train.outputs import read_metrics

    started = time.monotonic()
    code = launch("sft", str(recipe), sft_overrides(datasets, run, output_dir))
    if code:
        raise RuntimeError(f"SFT of {output_dir} failed with exit code {code}")
    seconds = round(time.monotonic() - started, 1)
    release_accelerator_memory()
    rows = read_metrics(output_dir)
    losses = [r["loss"] for r in rows if "loss" in r]
    tokens = next((r["num_tokens"] for r in reversed(rows) if "num_tokens" in r), None)
    mix = json.loads((output_dir / "mix.json").read_text(encoding="utf-8"))
    return {"dir": str(output_dir), "steps": run.steps, "rows": mix["rows"], "sources": mix["sources"],
            "tokens": int(tokens) if tokens is not None else None, "first_loss": losses[0] if losses else None,
            "final_loss": losses[-1] if losses else None, "seconds": seconds}


def eval_mix(model_dir: Path, run: ScoreMixRun, suite, output_dir: Path) -> dict:
    from eval.runner import EvalRun, run_eval

    command = ["mixlab", "eval", str(model_dir), "--output", str(output_dir), "--suite", run.suite,
               *(["--limit", str(run.limit)] if run.limit is not None else []),
               *(["--benchmark-dir", run.benchmark_dir] if run.benchmark_dir else []),
               *(arg for o in run.eval_overrides for arg in ("--set", o))]
    started = time.monotonic()
    summary = run_eval(EvalRun(model=str(model_dir), output=str(output_dir), suite=suite, backend=run.backend,
                               limit=run.limit, benchmark_dir=run.benchmark_dir,
                               allow_code_exec=run.allow_code_exec, command=shlex.join(command)))
    seconds = round(time.monotonic() - started, 1)
    release_accelerator_memory()
    return {"dir": str(output_dir), "summary": summary, "seconds": seconds}


def release_accelerator_memory() -> None:
    """Training and eval share this process: free the previous model's GPU memory before the next loads."""
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def device_description() -> str:
    import torch

    if torch.cuda.is_available():
        return f"{torch.cuda.device_count()}x {torch.cuda.get_device_name(0)}"
    import os

    return f"CPU ({os.cpu_count()} cores)"
