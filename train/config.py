"""One recipe YAML = one run: TRL's SFTConfig / DPOConfig fields plus our few, with `key=value` overrides.

    cfg = load_run_config("sft", "configs/tiny/sft.yaml", ["max_steps=10", "output_dir=/tmp/x"])
    cfg.run.datasets, cfg.args.learning_rate, cfg.notes     # RunArgs, trl.SFTConfig, hardware adjustments

Our fields (RunArgs): model_name_or_path, tokenizer_name_or_path, datasets (the mix, see train/data.py), num_gpus,
accelerate_config; GRPO adds rewards, allow_code_exec and reward_workers (GRPORunArgs). Every other key goes to TRL's
config dataclass. Hardware-dependent fields are resolved here and reported in `notes`: bf16 only on GPU, liger kernels
when installed, TensorBoard only when installed, and for GRPO vLLM colocate generation only with vllm and a GPU.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

import torch

from mixlab.recipe import RecipeError, apply_overrides, field_line, from_dict, read_yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
ACCELERATE_CONFIGS = {"fsdp2": "configs/accelerate/fsdp2_4gpu.yaml", "zero3": "configs/accelerate/zero3_4gpu.yaml"}


@dataclass
class RunArgs:
    """The fields TRL's config does not have."""

    model_name_or_path: str = ""            # local model folder, or a config.json to init from (random weights)
    tokenizer_name_or_path: str | None = None  # default: the model folder; "qwen3-packaged" = shipped Qwen3 tokenizer
    datasets: list = field(default_factory=list)  # [{path, weight | rows}]: curated folders or raw inputs
    num_gpus: int = 1                        # > 1: `accelerate launch` with accelerate_config
    accelerate_config: str = "fsdp2"         # fsdp2 | zero3 | a path to an accelerate YAML


@dataclass
class GRPORunArgs(RunArgs):
    """GRPO's extra fields: which rewards, with what weights, and whether generated code may run."""

    # reward name -> weight. "verifier" scores each completion with its own row's `verifier` column (per-row
    # routing); any other registry name (e.g. "format") scores every row with that verifier, no arguments.
    # The weights become TRL's reward_weights (set them here, not there).
    rewards: dict = field(default_factory=lambda: {"verifier": 1.0})
    allow_code_exec: bool = False            # rows whose verifier runs code (`code`) are an error unless true
    reward_workers: int = 8                  # threads scoring one generation batch (the code sandbox waits on I/O)


GRPO_LOSS_TYPES = ("dapo", "dr_grpo", "grpo")  # token-sum / constant / per-sequence normalisation (see TRL docs)


@dataclass
class RunConfig:
    run: RunArgs
    args: object  # trl.SFTConfig/DPOConfig/GRPOConfig, model_init_kwargs moved out (we load the model ourselves)
    notes: list[str]
    model_init_kwargs: dict = field(default_factory=dict)

    def resolved(self) -> dict:
        """Every field with its final value: saved as OUTPUT/config.yaml (loadable as a recipe again)."""
        trl_fields = self.args.to_dict()
        for key in list(trl_fields):  # to_dict masks every *_token field; only hub_token is a secret
            if key.endswith("_token"):
                trl_fields[key] = None if key == "hub_token" else getattr(self.args, key)
        if trl_fields.get("steps_per_generation") is not None:  # GRPO derives one from the other: keep one
            trl_fields["generation_batch_size"] = None
        return {**dataclasses.asdict(self.run), **trl_fields, "model_init_kwargs": self.model_init_kwargs}


def trl_config_class(trainer: str):
    from trl import DPOConfig, GRPOConfig, SFTConfig

    classes = {"sft": SFTConfig, "dpo": DPOConfig, "grpo": GRPOConfig}
    if trainer not in classes:
        raise ValueError(f"unknown trainer {trainer!r} (sft, dpo or grpo)")
    return classes[trainer]


def run_args_class(trainer: str) -> type[RunArgs]:
    return GRPORunArgs if trainer == "grpo" else RunArgs


def read_recipe(path: str | Path, overrides: list[str] | None = None) -> dict:
    return apply_overrides(read_yaml(path), overrides or [])


def load_run_args(path: str | Path, overrides: list[str] | None = None, cls: type[RunArgs] = RunArgs) -> RunArgs:
    """Only our fields (cheap: the launcher reads these before any process touches a GPU)."""
    data = read_recipe(path, overrides)
    ours = {k: v for k, v in data.items() if k in {f.name for f in dataclasses.fields(cls)}}
    run = from_dict(cls, ours, str(path), source=path)
    if not run.model_name_or_path:
        raise RecipeError(f"{path}: field 'model_name_or_path' is required")
    return run


def accelerate_config_path(run: RunArgs) -> Path:
    name = ACCELERATE_CONFIGS.get(run.accelerate_config, run.accelerate_config)
    for candidate in (Path(name), REPO_ROOT / name):
        if candidate.is_file():
            return candidate
    raise RecipeError(f"accelerate config not found: {name} (fsdp2, zero3, or a path to an accelerate YAML)")


def _hardware_fields(data: dict, notes: list[str]) -> dict:
    data = dict(data)
    on_gpu = torch.cuda.is_available()
    if data.get("bf16") and not on_gpu:
        notes.append("bf16 needs a GPU: training in fp32 on CPU")
    data["bf16"] = bool(data.get("bf16", True)) and on_gpu
    liger = importlib.util.find_spec("liger_kernel") is not None
    if data.get("use_liger_kernel") and not liger:
        raise RecipeError("use_liger_kernel: true, but liger-kernel is not installed (pip install liger-kernel)")
    data.setdefault("use_liger_kernel", liger and on_gpu)
    reports = data.get("report_to", "none")
    reports = [reports] if isinstance(reports, str) else list(reports or [])
    tensorboard = any(importlib.util.find_spec(m) for m in ("tensorboard", "tensorboardX"))
    if "tensorboard" in reports and not tensorboard:
        notes.append("tensorboard is not installed: no TensorBoard logs (metrics.jsonl and plots/loss.png still "
                     "written; pip install tensorboard to get them)")
        reports.remove("tensorboard")
    data["report_to"] = reports or "none"
    return data


def _grpo_fields(data: dict, run: GRPORunArgs, path: str | Path, notes: list[str]) -> dict:
    """vLLM only where it can run, a known loss_type, truncated completions masked, weights from `rewards`."""
    data = dict(data)
    vllm_usable = torch.cuda.is_available() and importlib.util.find_spec("vllm") is not None
    if data.get("use_vllm") and not vllm_usable:
        why = "no GPU" if not torch.cuda.is_available() else "vllm is not installed"
        notes.append(f"use_vllm: true, but {why}: generating with transformers instead")
    data["use_vllm"] = bool(data.get("use_vllm", vllm_usable)) and vllm_usable
    if data["use_vllm"]:
        data.setdefault("vllm_mode", "colocate")  # the trainer's own GPUs generate: no separate vLLM server
    loss_type = data.setdefault("loss_type", "dapo")
    if loss_type not in GRPO_LOSS_TYPES:
        line = field_line(path, "loss_type")
        where = f"{path}:{line}" if line else str(path)
        raise RecipeError(f"{where}: loss_type {loss_type!r} is not one of {', '.join(GRPO_LOSS_TYPES)}")
    data.setdefault("mask_truncated_completions", True)  # DAPO: a cut-off answer is not a wrong answer
    if not isinstance(run.rewards, dict) or not run.rewards:
        raise RecipeError(f"{path}: 'rewards' must map reward names to weights, e.g. {{verifier: 1.0}}")
    if not all(isinstance(w, (int, float)) and not isinstance(w, bool) for w in run.rewards.values()):
        raise RecipeError(f"{path}: 'rewards' weights must be numbers, got {run.rewards!r}")
    weights = [float(w) for w in run.rewards.values()]
    if data.get("reward_weights") not in (None, weights):  # a resolved config.yaml carries both, equal
        raise RecipeError(f"{path}: set reward weights in 'rewards' ({{name: weight}}), not in 'reward_weights'")
    data["reward_weights"] = weights
    return data


def _build_trl_config(cls, data: dict, path: str | Path):
    valid = {f.name for f in dataclasses.fields(cls) if f.init}
    for key in data:
        if key not in valid:
            line = field_line(path, key)
            hint = difflib.get_close_matches(key, valid | {f.name for f in dataclasses.fields(RunArgs)}, n=1)
            where = f"{path}:{line}" if line else str(path)
            raise RecipeError(f"{where}: unknown field {key!r} for {cls.__name__}"
                              + (f" (did you mean {hint[0]!r}?)" if hint else ""))
    try:
        return cls(**data)
    except (ValueError, TypeError) as err:
        raise RecipeError(f"{path}: {cls.__name__}: {err}") from err


def load_run_config(trainer: str, path: str | Path, overrides: list[str] | None = None) -> RunConfig:
    run = load_run_args(path, overrides, run_args_class(trainer))
    run_fields = {f.name for f in dataclasses.fields(run)}
    data = {k: v for k, v in read_recipe(path, overrides).items() if k not in run_fields}
    if not data.get("output_dir"):
        raise RecipeError(f"{path}: field 'output_dir' is required")
    init_kwargs = data.pop("model_init_kwargs", None) or {}
    if not isinstance(init_kwargs, dict):
        raise RecipeError(f"{path}: field 'model_init_kwargs': expected a mapping, got {init_kwargs!r}")
    notes: list[str] = []
    data = _hardware_fields(data, notes)
    if trainer == "grpo":
        data = _grpo_fields(data, run, path, notes)
    args = _build_trl_config(trl_config_class(trainer), data, path)
    return RunConfig(run, args, notes, init_kwargs)
