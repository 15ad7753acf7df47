"""What a training run leaves in OUTPUT/: config.yaml, mix.json, metrics.jsonl, plots/loss.png, the final model.

    callback = MetricsLogger(output_dir)          # Trainer callback: one JSON line per log step
    save_run_files(output_dir, cfg.resolved(), mix)
    save_final_model(trainer, output_dir)         # model + tokenizer + generation_config.json (stops on <|im_end|>)
    plot_metrics(output_dir)                      # plots/loss.png from metrics.jsonl

Checkpoints (OUTPUT/checkpoint-<step>/) and TensorBoard logs are written by the HF Trainer itself.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from transformers import TrainerCallback

METRICS_FILE = "metrics.jsonl"
# second panel of the plot: what tells whether the run is learning beyond the loss
PROGRESS_METRICS = ("rewards/margins", "rewards/accuracies", "mean_token_accuracy")


class MetricsLogger(TrainerCallback):
    """Appends every Trainer log (loss, lr, grad norm, DPO rewards, ...) to OUTPUT/metrics.jsonl."""

    def __init__(self, output_dir: str | Path):
        self.path = Path(output_dir) / METRICS_FILE

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        row = {"step": state.global_step, "epoch": state.epoch, **logs}
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")


def read_metrics(output_dir: str | Path) -> list[dict]:
    """Logged rows, the last one per (step, kind) kept: a resumed run re-logs the steps after its checkpoint."""
    path = Path(output_dir) / METRICS_FILE
    if not path.is_file():
        return []
    rows = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        rows[(row["step"], "train_runtime" in row, any(k.startswith("eval_") for k in row))] = row
    return sorted(rows.values(), key=lambda r: r["step"])


def save_run_files(output_dir: str | Path, resolved_config: dict, mix: dict) -> None:
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(yaml.safe_dump(resolved_config, sort_keys=False), encoding="utf-8")
    (out / "mix.json").write_text(json.dumps(mix, indent=2) + "\n", encoding="utf-8")


def save_final_model(trainer, output_dir: str | Path) -> None:
    """Full weights, tokenizer (eos <|im_end|>, our chat template) and generation_config.json in OUTPUT/."""
    fsdp_plugin = getattr(trainer.accelerator.state, "fsdp_plugin", None)
    if fsdp_plugin is not None:  # gather the shards into one state dict for a plain from_pretrained later
        fsdp_plugin.set_state_dict_type("FULL_STATE_DICT")
    trainer.save_model(str(output_dir))


def plot_metrics(output_dir: str | Path) -> Path | None:
    """plots/loss.png: training loss per step, and the run's progress metric (DPO margins, token accuracy)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in read_metrics(output_dir) if "loss" in r]
    if not rows:
        return None
    progress = next((m for m in PROGRESS_METRICS if any(m in r for r in rows)), None)
    panels = 2 if progress else 1
    fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 3.5), squeeze=False)
    steps = [r["step"] for r in rows]
    axes[0][0].plot(steps, [r["loss"] for r in rows], marker=".")
    axes[0][0].set(xlabel="step", ylabel="training loss", title="loss")
    if progress:
        points = [(r["step"], r[progress]) for r in rows if progress in r]
        axes[0][1].plot(*zip(*points), marker=".", color="tab:green")
        axes[0][1].set(xlabel="step", ylabel=progress, title=progress)
    return save_run_plot(fig, output_dir, "loss.png")


def save_run_plot(fig, output_dir: str | Path, name: str) -> Path:
    """OUTPUT/plots/NAME from a finished figure (then closed)."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path = Path(output_dir) / "plots" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
