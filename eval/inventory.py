"""What a run produced: its curated datasets, training runs and evals, and the compute each stage spent.

    found = discover(["runs/"])          # Inventory(datasets=[...], trainings=[...], evals=[...])
    rows = compute_rows(found)           # one row per stage: wall seconds, processes, process-hours

A folder is a dataset when it holds datacard.json (a curated folder: curate, decontam, synth), a training run when
it holds config.yaml and metrics.jsonl (`mixlab train`), an eval when it holds summary.json and eval.json
(`mixlab eval`); RUN_DIRs are searched recursively. Wall time: a curation stage's from its datatrove executor.json
(written at launch) to its merged stats.json (written at the end), a training run's train_runtime, an eval's
wall_seconds. Processes: datatrove workers, training processes (num_gpus), vLLM data-parallel replicas.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

TRAINER_OF_KIND = {"sft": "sft", "preference": "dpo", "rl": "grpo"}


@dataclass
class Inventory:
    datasets: list[Path] = field(default_factory=list)
    trainings: list[Path] = field(default_factory=list)
    evals: list[Path] = field(default_factory=list)
    roots: list[Path] = field(default_factory=list)

    def shown(self, folder) -> str:
        """A folder as the reader knows it: its path inside the RUN_DIR it was found in (the RUN_DIR's name if it
        is the RUN_DIR itself)."""
        folder = Path(folder)
        for root in self.roots:
            if folder == root:
                return root.name
            if folder.is_relative_to(root):
                return str(folder.relative_to(root))
        return str(folder)


def discover(run_dirs: list[str]) -> Inventory:
    """Every dataset, training run and eval under the RUN_DIRs: in argument order, then in the order they finished."""
    found = Inventory()
    for run_dir in run_dirs:
        root = Path(run_dir)
        if not root.is_dir():
            raise FileNotFoundError(f"{run_dir}: no such folder")
        found.roots.append(root)
        here = Inventory()
        for folder, subdirs, files in os.walk(root):
            leaf = _classify(Path(folder), set(files), here)
            # a dataset's or an eval's subfolders are its own internals; a training run may hold its evals
            subdirs[:] = [] if leaf else sorted(d for d in subdirs if not d.startswith(("checkpoint-", ".")))
        found.datasets += sorted(here.datasets, key=lambda f: _finished(f / "datacard.json"))
        found.trainings += sorted(here.trainings, key=lambda f: _finished(f / "metrics.jsonl"))
        found.evals += sorted(here.evals, key=lambda f: _finished(f / "summary.json"))
    return found


def _finished(path: Path) -> float:
    return path.stat().st_mtime


def _classify(folder: Path, files: set[str], found: Inventory) -> bool:
    """Record what `folder` is; True when nothing else can be inside it."""
    if {"config.yaml", "metrics.jsonl"} <= files:
        found.trainings.append(folder)
    if "datacard.json" in files:
        found.datasets.append(folder)
        return True
    if {"summary.json", "eval.json"} <= files:
        found.evals.append(folder)
        return True
    return False


def read_json(path: Path, default=None):
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else default


def training_info(folder: Path) -> dict:
    """The recipe, the mix, the logged metrics and the final numbers of one `mixlab train` run."""
    config = yaml.safe_load((folder / "config.yaml").read_text(encoding="utf-8")) or {}
    mix = read_json(folder / "mix.json", {})
    rows = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines() if line.strip()]
    final = next((row for row in reversed(rows) if "train_runtime" in row), {})
    losses = [row["loss"] for row in rows if "loss" in row]
    return {
        "trainer": TRAINER_OF_KIND.get(mix.get("kind"), mix.get("kind") or "?"),
        "config": config, "mix": mix,
        "model": config.get("model_name_or_path"), "steps": final.get("step") or (rows[-1]["step"] if rows else 0),
        "runtime_s": final.get("train_runtime"), "processes": config.get("num_gpus") or 1,
        "first_loss": losses[0] if losses else None, "last_loss": losses[-1] if losses else None,
    }


def curation_stages(folder: Path) -> list[dict]:
    """One entry per datatrove stage in folder/logs: wall seconds, workers, CPU seconds inside pipeline steps."""
    stages = []
    for stage_dir in sorted((folder / "logs").glob("*/executor.json"), key=_finished):
        stage_dir = stage_dir.parent
        executor, stats = stage_dir / "executor.json", stage_dir / "stats.json"
        if not (executor.is_file() and stats.is_file()):
            continue
        steps = read_json(stats, [])
        cpu = sum(step["time_stats"]["total"] for step in steps
                  if isinstance(step, dict) and isinstance(step.get("time_stats"), dict))
        stages.append({"stage": stage_dir.name, "wall_s": max(0.0, stats.stat().st_mtime - executor.stat().st_mtime),
                       "processes": read_json(executor, {}).get("workers") or 1, "cpu_s": cpu})
    return stages


def compute_rows(found: Inventory) -> list[dict]:
    """{stage, folder, wall_s, processes, note} for every stage of every folder, in pipeline order."""
    rows = []
    for folder in found.datasets:
        step = "decontam" if (folder / "report.json").is_file() else "curate"
        for stage in curation_stages(folder):
            rows.append({"stage": f"{step}: {stage['stage']}", "folder": str(folder), "wall_s": stage["wall_s"],
                         "processes": stage["processes"], "note": f"{stage['cpu_s']:.1f} CPU-s in pipeline steps"})
    for folder in found.trainings:
        info = training_info(folder)
        rows.append({"stage": f"train {info['trainer']}", "folder": str(folder), "wall_s": info["runtime_s"],
                     "processes": info["processes"], "note": f"{info['steps']} steps"})
    for folder in found.evals:
        settings = read_json(folder / "eval.json", {})
        processes = (settings.get("model_args") or {}).get("data_parallel_size") or 1
        rows.append({"stage": f"eval {settings.get('suite', '')}", "folder": str(folder),
                     "wall_s": settings.get("wall_seconds"), "processes": processes,
                     "note": f"{settings.get('backend', '?')} backend, limit {settings.get('limit')}"})
    return rows
