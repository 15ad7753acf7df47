"""Supervised fine-tuning: TRL's SFTTrainer on the recipe's mix, with our chat template and run outputs.

    python -m train.sft --config configs/tiny/sft.yaml [key=value ...] [--resume]
    mixlab train sft --config configs/qwen3-4b/sft.yaml --num-gpus 4      # the same through accelerate

Loss is on assistant tokens only (assistant_only_loss + the template's generation markers), <|im_end|> included;
a batch without a single trained token is an error. Packing `bfd` is padding-free: documents in a packed row get
their own position ids, so attention never crosses them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from trl import SFTConfig, SFTTrainer

from train.config import RunConfig, load_run_config
from train.data import build_mix, format_mix
from train.guards import NonFiniteGradGuard
from train.model import load_model
from train.outputs import METRICS_FILE, MetricsLogger, plot_metrics, save_final_model, save_run_files
from train.template import PACKAGED_TOKENIZER, install_chat_template, load_tokenizer


class EmptyLossMaskError(RuntimeError):
    """A training batch in which no token is trained (every label is -100)."""


def check_batch_labels(labels: torch.Tensor) -> None:
    if not bool((labels != -100).any()):
        raise EmptyLossMaskError(
            "a training batch has no assistant tokens to train on (every label is -100): the assistant turns "
            "were cut off by max_length, or the chat template lost its {% generation %} markers. Raise "
            "max_length, or drop conversations whose prompt alone fills it.")


class MixlabSFTTrainer(SFTTrainer):
    """SFTTrainer that refuses batches with an empty assistant mask instead of training on nothing."""

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if self.model.training:
            check_batch_labels(inputs["labels"])
        return super().compute_loss(model, inputs, return_outputs=return_outputs,
                                    num_items_in_batch=num_items_in_batch)


def tokenizer_for(cfg: RunConfig):
    name = cfg.run.tokenizer_name_or_path or cfg.run.model_name_or_path
    if name.endswith("config.json") and cfg.run.tokenizer_name_or_path is None:
        name = PACKAGED_TOKENIZER  # a model initialised from a config has no tokenizer folder of its own
    return install_chat_template(load_tokenizer(name))


def model_for(cfg: RunConfig, tokenizer):
    """Load (or init) the model ourselves so a config.json works; TRL then gets an instance, not a name."""
    # TRL's SFT collator passes cu_seq_lens for padding-free rows; other trainers' collators do not
    padding_free = isinstance(cfg.args, SFTConfig) and (cfg.args.padding_free or (
        cfg.args.packing and cfg.args.packing_strategy in {"bfd", "bfd_split"}))
    return load_model(cfg.run.model_name_or_path, tokenizer, cfg.model_init_kwargs, seed=cfg.args.seed,
                      padding_free=padding_free)


def callbacks_for(cfg: RunConfig) -> list:
    """Every mixlab trainer's callbacks: skip steps with NaN/inf gradients, log metrics.jsonl."""
    return [NonFiniteGradGuard(), MetricsLogger(cfg.args.output_dir)]


def build_trainer(cfg: RunConfig) -> tuple[MixlabSFTTrainer, dict]:
    """The trainer for `cfg` and the resolved mix (nothing is written yet)."""
    dataset, mix = build_mix(cfg.run.datasets, "sft", seed=cfg.args.seed)
    tokenizer = tokenizer_for(cfg)
    model = model_for(cfg, tokenizer)
    trainer = MixlabSFTTrainer(model=model, args=cfg.args, train_dataset=dataset, processing_class=tokenizer,
                               callbacks=callbacks_for(cfg))
    return trainer, mix


def run_training(trainer, cfg: RunConfig, mix: dict, resume: bool) -> dict:
    """Train (from the last checkpoint with `resume`), then save the final model, config, mix and plot."""
    main_process = trainer.is_world_process_zero()
    if main_process:
        if not resume:  # a fresh run in an old output_dir must not append to the old run's metrics
            (Path(cfg.args.output_dir) / METRICS_FILE).unlink(missing_ok=True)
        for note in cfg.notes:
            print(f"note: {note}", file=sys.stderr)
        print(format_mix(mix))
        save_run_files(cfg.args.output_dir, cfg.resolved(), mix)
    result = trainer.train(resume_from_checkpoint=True if resume else None)
    save_final_model(trainer, cfg.args.output_dir)
    if main_process:
        plot_metrics(cfg.args.output_dir)
    return result.metrics


def parse_args(argv: list[str] | None, prog: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="recipe YAML (one run)")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="override recipe fields")
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint in output_dir")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv, "python -m train.sft")
    cfg = load_run_config("sft", opts.config, opts.overrides)
    trainer, mix = build_trainer(cfg)
    run_training(trainer, cfg, mix, opts.resume)
    return 0


if __name__ == "__main__":
    sys.exit(main())
