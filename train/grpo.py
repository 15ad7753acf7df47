"""GRPO with verifiable rewards: TRL's GRPOTrainer on the recipe's RL mix, each completion scored by its row's verifier.

    python -m train.grpo --config configs/tiny/grpo.yaml [key=value ...] [--resume]
    mixlab train grpo --config configs/qwen3-4b/grpo.yaml --num-gpus 4

RL records (curated data/rl/ or raw question/answer and rl inputs) give `prompt` (chat messages: TRL applies our
chat template with the generation prompt) and `verifier` (routed per row by train/rewards.py; weights in the
recipe's `rewards`). Defaults worth knowing: loss_type dapo (validated: dapo | dr_grpo | grpo), truncated
completions masked from the loss, vLLM colocate generation only when vllm and a GPU are present (else transformers
`generate`, with a note). OUTPUT gets what SFT writes plus plots/reward.png (mean reward ± std per logged step).
"""

from __future__ import annotations

import sys
from pathlib import Path

from trl import GRPOTrainer

from mixlab.recipe import RecipeError
from train.config import RunConfig, load_run_config
from train.data import build_mix
from train.model import is_config_init
from train.outputs import read_metrics, save_run_plot
from train.rewards import reward_functions
from train.sft import callbacks_for, model_for, parse_args, run_training, tokenizer_for


def check_reference(cfg: RunConfig) -> None:
    """beta > 0 needs a reference model, which TRL reloads from the model folder: a config.json has none."""
    if cfg.args.beta != 0.0 and is_config_init(cfg.run.model_name_or_path):
        raise RecipeError(f"beta={cfg.args.beta} needs a reference model loaded from a model folder, but "
                          f"{cfg.run.model_name_or_path} is a config (random init): use beta: 0.0 or a model folder")


def build_trainer(cfg: RunConfig) -> tuple[GRPOTrainer, dict]:
    """The trainer for `cfg` and the resolved mix; reward names and code permission are checked first."""
    check_reference(cfg)
    dataset, mix = build_mix(cfg.run.datasets, "rl", seed=cfg.args.seed)
    funcs = reward_functions(cfg.run, dataset["verifier"])
    tokenizer = tokenizer_for(cfg)
    model = model_for(cfg, tokenizer)
    trainer = GRPOTrainer(model=model, reward_funcs=funcs, args=cfg.args, train_dataset=dataset,
                          processing_class=tokenizer, callbacks=callbacks_for(cfg))
    return trainer, mix


def plot_rewards(output_dir: str | Path) -> Path | None:
    """plots/reward.png: mean reward per logged step with its spread across completions."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in read_metrics(output_dir) if "reward" in r]
    if not rows:
        return None
    steps = [r["step"] for r in rows]
    mean = [r["reward"] for r in rows]
    std = [r.get("reward_std", 0.0) for r in rows]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(steps, mean, marker=".", color="tab:green")
    ax.fill_between(steps, [m - s for m, s in zip(mean, std)], [m + s for m, s in zip(mean, std)],
                    color="tab:green", alpha=0.2)
    ax.set(xlabel="step", ylabel="mean reward", title="reward (± std over completions)")
    return save_run_plot(fig, output_dir, "reward.png")


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv, "python -m train.grpo")
    cfg = load_run_config("grpo", opts.config, opts.overrides)
    trainer, mix = build_trainer(cfg)
    run_training(trainer, cfg, mix, opts.resume)
    if trainer.is_world_process_zero():
        plot_rewards(cfg.args.output_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
