"""Direct preference optimisation: TRL's DPOTrainer on the recipe's preference mix, with our chat template.

    python -m train.dpo --config configs/tiny/dpo.yaml [key=value ...] [--resume]
    mixlab train dpo --config configs/qwen3-4b/dpo.yaml --num-gpus 4

Length-normalised DPO (Tülu 3) is TRL's `loss_type: sigmoid_norm`: the policy/reference log-ratio is averaged
over each completion's tokens before the sigmoid, so beta is on a per-token scale (Tülu 3 uses beta 5).
The reference model is a frozen copy of the starting policy.
"""

from __future__ import annotations

import copy
import sys

from trl import DPOTrainer

from train.config import RunConfig, load_run_config
from train.data import build_mix
from train.model import is_config_init
from train.sft import callbacks_for, model_for, parse_args, run_training, tokenizer_for


def reference_model_for(cfg: RunConfig, model):
    """A model initialised from a config has no folder TRL could reload the reference from: copy it instead."""
    if cfg.args.precompute_ref_log_probs or not is_config_init(cfg.run.model_name_or_path):
        return None  # TRL loads the reference from the model folder (or needs none after precomputing)
    return copy.deepcopy(model).eval()


def build_trainer(cfg: RunConfig) -> tuple[DPOTrainer, dict]:
    dataset, mix = build_mix(cfg.run.datasets, "preference", seed=cfg.args.seed)
    tokenizer = tokenizer_for(cfg)
    model = model_for(cfg, tokenizer)
    trainer = DPOTrainer(model=model, ref_model=reference_model_for(cfg, model), args=cfg.args,
                         train_dataset=dataset, processing_class=tokenizer, callbacks=callbacks_for(cfg))
    return trainer, mix


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv, "python -m train.dpo")
    cfg = load_run_config("dpo", opts.config, opts.overrides)
    trainer, mix = build_trainer(cfg)
    run_training(trainer, cfg, mix, opts.resume)
    return 0


if __name__ == "__main__":
    sys.exit(main())
