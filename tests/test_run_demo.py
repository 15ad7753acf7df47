"""configs/demo/pipeline.yaml end to end (what `make demo` runs), with small settings: every stage for real on CPU,
then a rerun that skips everything and a recipe edit that redoes one training stage and what reads it.

    pytest tests/test_run_demo.py      # slow: a few minutes on 2 cores
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mixlab.cli import main

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "configs" / "demo" / "pipeline.yaml"
STAGES = ["corpus", "curate", "curate-rl", "decontam", "base", "sft", "dpo", "grpo", "eval-base", "eval-sft",
          "eval-dpo", "eval-grpo", "compare", "report"]
SMALL = ["corpus.records=600", "sft.set=[max_steps=4, save_steps=4]", "dpo.set=[max_steps=2, save_steps=2]",
         "grpo.set=[max_steps=1, save_steps=1]", "eval-base.limit=2", "eval-sft.limit=2", "eval-dpo.limit=2",
         "eval-grpo.limit=2"]


def run_args(out: Path, dpo_recipe: Path) -> list[str]:
    return [str(DEMO), "--output", str(out), *[a for item in SMALL for a in ("--set", item)],
            "--set", f"dpo.recipe={dpo_recipe}"]


def mixlab_run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mixlab.cli", "run", *args], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"},
                          timeout=1200)


def progress(stdout: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for match in re.finditer(r"^\[\s*\d+/\d+\] (\S+)\s+(\S+)", stdout, re.MULTILINE):
        found.setdefault(match[1], []).append(match[2])
    return found


def record(out: Path) -> dict:
    return json.loads((out / "run.json").read_text())["stages"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """(run folder, the dpo recipe copy the pipeline reads, the first run's stdout)."""
    root = tmp_path_factory.mktemp("demo")
    dpo_recipe = Path(shutil.copy(REPO / "configs" / "tiny" / "dpo.yaml", root / "dpo.yaml"))
    out = root / "run"
    done = mixlab_run(*run_args(out, dpo_recipe))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out, dpo_recipe, done.stdout


def test_every_stage_runs_and_leaves_its_outputs(demo):
    out, _, stdout = demo
    assert progress(stdout) == {name: ["running", "done"] for name in STAGES}
    for name in ("curate", "curate-rl", "decontam"):  # every dataset's counts, as its card reconciles them
        total = json.loads((out / name / "datacard.json").read_text())["counts"]["total"]
        assert (f"{name:<10} ✓ in {total['in']} = kept {total['kept']} + removed {total['removed']} "
                f"+ quarantined {total['quarantined']}") in stdout
    entries = record(out)
    for name in STAGES:
        entry = entries[name]
        assert entry["status"] == "complete" and entry["exit_code"] == 0 and entry["elapsed_s"] > 0
        assert (out / "logs" / f"{name}.log").is_file() and len(entry["config_sha256"]) == 64
    assert set(entries["sft"]["inputs"]) == {str(out / "base"), str(out / "decontam")}
    base_eval = json.loads((out / "eval-base" / "eval.json").read_text())
    assert not base_eval["chat_template"]["on"]  # the base stops on <|endoftext|> and has no chat template
    assert json.loads((out / "eval-sft" / "eval.json").read_text())["chat_template"]["on"]
    assert all(len(digest) == 64 for digest in entries["eval-dpo"]["inputs"].values())
    removed = json.loads((out / "decontam" / "report.json").read_text())
    assert removed["benchmarks"]["gsm8k"]["items_hit"] >= 4 and removed["records_removed"] > 0
    for trainer in ("sft", "dpo", "grpo"):
        assert (out / trainer / "model.safetensors").is_file()
    assert json.loads((out / "dpo" / "mix.json").read_text())  # trained on the decontaminated preference pairs
    summary = json.loads((out / "eval-grpo" / "summary.json").read_text())
    assert set(summary) == {"arc_challenge", "gsm8k"} and summary["gsm8k"]["n"] == 2
    table = (out / "compare" / "compare.md").read_text()
    assert "| eval-base | eval-sft (Δ) | eval-dpo (Δ) | eval-grpo (Δ) |" in table  # deltas against the base
    assert (out / "report" / "report.html").stat().st_size > 10_000 and (out / "report" / "report.pdf").is_file()


def test_rerun_skips_every_finished_stage(demo):
    out, dpo_recipe, _ = demo
    before = record(out)
    again = mixlab_run(*run_args(out, dpo_recipe))
    assert again.returncode == 0, again.stderr
    assert progress(again.stdout) == {name: ["skip"] for name in STAGES}
    assert "0 ran, 14 up to date" in again.stdout
    assert record(out) == before


def test_recipe_edit_redoes_that_stage_and_what_reads_it(demo, capsys):
    out, dpo_recipe, _ = demo
    dpo_recipe.write_text(dpo_recipe.read_text().replace("learning_rate: 2.0e-4", "learning_rate: 1.0e-4"))
    assert main(["run", *run_args(out, dpo_recipe), "--dry-run"]) == 0
    dry = capsys.readouterr().out
    rows = {line.split()[0]: line.split()[1] for line in dry.splitlines()
            if line.startswith("  ") and len(line.split()) > 1 and line.split()[1] in ("run", "skip")}
    assert {name for name, action in rows.items() if action == "run"} == {"dpo", "eval-dpo", "compare", "report"}
    assert re.search(r"^  dpo +run +recipe or command changed$", dry, re.MULTILINE)
    assert "upstream dpo reruns" in dry
    assert re.search(r"4 of 14 stages would run; ETA \d+(s|m\d\ds)$", dry, re.MULTILINE)  # from the first run's times
    assert re.search(r"  sft +[\d,]+ tokens, 4 steps", dry)  # mixlab plan on the tiny SFT recipe and the real mix

    before = record(out)
    sft_weights = (out / "sft" / "model.safetensors").stat().st_mtime_ns
    redo = mixlab_run(*run_args(out, dpo_recipe), "--until", "dpo")
    assert redo.returncode == 0, redo.stdout + redo.stderr
    steps = progress(redo.stdout)
    assert steps["dpo"] == ["running", "done"] and steps["sft"] == ["skip"] and steps["grpo"] == ["outside"]
    assert re.search(r"dpo +running \(recipe or command changed; last took \d+s\)", redo.stdout)
    after = record(out)
    assert after["dpo"]["mode"] == "redo" and after["dpo"]["started"] != before["dpo"]["started"]
    assert after["sft"] == before["sft"] and (out / "sft" / "model.safetensors").stat().st_mtime_ns == sft_weights
    assert "learning_rate: 0.0001" in (out / "dpo" / "config.yaml").read_text()

    assert main(["run", *run_args(out, dpo_recipe), "--dry-run"]) == 0
    dry = capsys.readouterr().out
    assert f"input changed: {out / 'dpo'}" in dry  # the new DPO model: its eval is now out of date
