"""Run a trainer in this process (1 GPU or CPU) or through `accelerate launch` on several GPUs.

    launch("sft", "configs/qwen3-4b/sft.yaml", ["learning_rate=1e-5"], num_gpus=4, resume=False)
    # -> accelerate launch --config_file configs/accelerate/fsdp2_4gpu.yaml --num_processes 4 -m train.sft ...

Multi-node uses the same accelerate files: run `accelerate launch` yourself on every node with
--num_machines, --machine_rank, --main_process_ip and --num_processes (all GPUs), `-m train.sft --config ...`.
"""

from __future__ import annotations

import importlib
import subprocess
import sys

from train.config import accelerate_config_path, load_run_args

TRAINERS = ("sft", "dpo", "grpo")


def trainer_argv(config: str, overrides: list[str], resume: bool) -> list[str]:
    return ["--config", config, *overrides, *(["--resume"] if resume else [])]


def accelerate_command(trainer: str, config: str, overrides: list[str], num_gpus: int, resume: bool) -> list[str]:
    run = load_run_args(config, overrides)
    return [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(accelerate_config_path(run)),
            "--num_processes", str(num_gpus), "-m", f"train.{trainer}", *trainer_argv(config, overrides, resume)]


def launch(trainer: str, config: str, overrides: list[str], num_gpus: int | None = None, resume: bool = False) -> int:
    """Exit code of the run; `num_gpus` None takes the recipe's `num_gpus`."""
    if trainer not in TRAINERS:
        raise ValueError(f"unknown trainer {trainer!r} (one of: {', '.join(TRAINERS)})")
    gpus = num_gpus if num_gpus is not None else load_run_args(config, overrides).num_gpus
    if gpus <= 1:
        module = importlib.import_module(f"train.{trainer}")
        return module.main(trainer_argv(config, overrides, resume))
    command = accelerate_command(trainer, config, overrides, gpus, resume)
    print("launching:", " ".join(command), file=sys.stderr)
    return subprocess.run(command, check=False).returncode
