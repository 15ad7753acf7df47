"""Non-finite gradient guard for every mixlab trainer: a step whose gradients hold NaN or inf is skipped, not applied.

    from train.guards import NonFiniteGradGuard
    trainer = SFTTrainer(..., callbacks=[NonFiniteGradGuard(), MetricsLogger(output_dir)])

transformers' Trainer applies the optimizer step whatever the gradients hold, and one NaN gradient turns every weight
into NaN: the run keeps going and fails later somewhere unrelated (GRPO inside sampling, with a device-side assert),
or saves NaN checkpoints. Just before each optimizer step the guard checks the gradients (all ranks agree through
one all-reduce), and if any is not finite it drops them all, so AdamW skips the step: weights and moments stay as
they were, like a mixed-precision loss scaler's skipped step. Skips are logged (`skipped_steps` in metrics.jsonl);
`max_consecutive` skips in a row stop the run with NonFiniteGradientsError, since the weights no longer recover.
Under DeepSpeed the engine owns gradients and step, so the guard sees none and stays inert.
"""

from __future__ import annotations

import sys

import torch
from transformers import TrainerCallback


class NonFiniteGradientsError(RuntimeError):
    """Too many optimizer steps in a row had NaN/inf gradients."""


def _local(grad: torch.Tensor) -> torch.Tensor:
    return grad.to_local() if hasattr(grad, "to_local") else grad  # FSDP2 shards are DTensors


def gradients_finite(params: list[torch.Tensor]) -> bool:
    """True when every gradient of `params` is finite on every rank."""
    flags = [torch.isfinite(_local(p.grad)).all() for p in params]
    device = flags[0].device if flags else torch.device("cpu")
    ok = torch.stack([f.to(device) for f in flags]).all() if flags else torch.tensor(True)
    ok = ok.to(torch.float32)
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.all_reduce(ok, op=torch.distributed.ReduceOp.MIN)
    return bool(ok.item())


class NonFiniteGradGuard(TrainerCallback):
    """Skip optimizer steps with non-finite gradients; stop after `max_consecutive` in a row."""

    def __init__(self, max_consecutive: int = 3):
        self.max_consecutive = max_consecutive
        self.consecutive = 0
        self.skipped: list[int] = []

    def on_pre_optimizer_step(self, args, state, control, optimizer=None, **kwargs):
        params = [p for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        if gradients_finite(params):
            self.consecutive = 0
            return
        for param in params:
            param.grad = None  # AdamW leaves a parameter without a gradient (and its moments) untouched
        step = state.global_step + 1
        self.consecutive += 1
        self.skipped.append(step)
        if self.consecutive >= self.max_consecutive:
            raise NonFiniteGradientsError(
                f"step {step}: NaN/inf gradients in {self.consecutive} optimizer steps in a row (steps "
                f"{', '.join(map(str, self.skipped[-self.consecutive:]))}), each skipped; stopping, since the run is "
                "not recovering. Usual causes: learning rate too high, adam_epsilon too small for bf16, a loss "
                "over an empty mask. Checkpoints saved so far are intact.")
        print(f"warning: step {step}: NaN/inf gradients; optimizer step skipped (weights unchanged), "
              f"{len(self.skipped)} skipped so far", file=sys.stderr)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.skipped and logs is not None:
            logs["skipped_steps"] = len(self.skipped)
