"""`mixlab train sft|dpo|grpo --config RECIPE.yaml [key=value ...] [--num-gpus N] [--resume]` (via mixlab.cli).

    mixlab train sft --config configs/tiny/sft.yaml
    mixlab train dpo --config configs/qwen3-4b/dpo.yaml --num-gpus 4 model_name_or_path=runs/sft-4b
    mixlab train grpo --config configs/tiny/grpo.yaml
"""

from __future__ import annotations

RECIPE_HELP = ("One YAML is one run: TRL's {cls} fields (learning_rate, max_length, ...) plus model_name_or_path, "
               "tokenizer_name_or_path, datasets (the mix: curated folders or raw inputs with weights), num_gpus and "
               "accelerate_config. OUTPUT (output_dir) gets checkpoints, the final model + tokenizer + "
               "generation_config.json, config.yaml (resolved), mix.json (rows per source), metrics.jsonl and "
               "plots/loss.png.{extra}")
GRPO_HELP = (" GRPO adds rewards ({verifier: 1.0} scores each row with its own verifier; other registry names, e.g. "
             "format, score every row), allow_code_exec (rows with the code verifier are an error without it) and "
             "reward_workers; plots/reward.png.")


def add_train(sub) -> None:
    p = sub.add_parser("train", help="SFT, DPO or GRPO with TRL on curated data (a recipe YAML is one run)",
                       description="Train with TRL on curated folders: `sft` (assistant-only loss, bfd packing), "
                       "`dpo` (length-normalised DPO) or `grpo` (verifiable rewards routed per row by each RL "
                       "record's verifier). Several GPUs go through `accelerate launch` with configs/accelerate/.")
    trainers = p.add_subparsers(dest="trainer", required=True, metavar="<trainer>")
    for name, cls, what in (("sft", "SFTConfig", "supervised fine-tuning on data/sft"),
                            ("dpo", "DPOConfig", "direct preference optimisation on data/preference"),
                            ("grpo", "GRPOConfig", "GRPO on data/rl, rewards from the verifier registry")):
        t = trainers.add_parser(name, help=what, description=RECIPE_HELP.format(
            cls=cls, extra=GRPO_HELP if name == "grpo" else ""))
        t.add_argument("--config", required=True, metavar="RECIPE.yaml",
                       help=f"run recipe, e.g. configs/tiny/{name}.yaml or configs/qwen3-4b/{name}.yaml")
        t.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                       help="override recipe fields, e.g. learning_rate=1e-5 output_dir=runs/x "
                       "datasets='[{path: runs/mix, weight: 1}]'")
        t.add_argument("--num-gpus", type=int, metavar="N",
                       help="processes/GPUs (default: the recipe's num_gpus); N > 1 runs `accelerate launch` "
                       "with the recipe's accelerate_config (fsdp2 or zero3)")
        t.add_argument("--resume", action="store_true",
                       help="continue from the last checkpoint in output_dir (global step, optimizer, scheduler)")
    p.set_defaults(handler=run_train)


def run_train(args) -> int:
    from train.launch import launch

    return launch(args.trainer, args.config, args.overrides, num_gpus=args.num_gpus, resume=args.resume)
