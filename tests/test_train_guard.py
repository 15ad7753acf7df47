"""The non-finite gradient guard on a real tiny SFT run: a NaN gradient skips its step, a run that keeps producing
them stops with a clear error, and the weights never turn NaN.

    .venv/bin/pytest tests/test_train_guard.py

The NaN is written into one real gradient by a callback that runs just before the guard (fault injection: the
trainer, model and optimizer are all real).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
import yaml
from transformers import TrainerCallback

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from mixlab.schema import KEPT_SCHEMAS, Kind, encode_row  # noqa: E402
from train.config import load_run_config  # noqa: E402
from train.guards import NonFiniteGradGuard, NonFiniteGradientsError  # noqa: E402
from train.sft import build_trainer  # noqa: E402
from train.template import PACKAGED_TOKENIZER  # noqa: E402

TINY_MODEL = str(Path(__file__).resolve().parents[1] / "configs" / "tiny" / "model" / "config.json")


def recipe(tmp_path: Path, max_steps: int) -> Path:
    rows = [encode_row({"id": str(i), "source": "s", "meta": {}, "messages": [
        {"role": "user", "content": f"say {word}"}, {"role": "assistant", "content": word}]}, Kind.sft)
        for i, word in enumerate(["one", "two", "three", "four"])]
    (tmp_path / "data" / "data" / "sft").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=KEPT_SCHEMAS[Kind.sft]), tmp_path / "data/data/sft/0.parquet")
    fields = {"model_name_or_path": TINY_MODEL, "tokenizer_name_or_path": PACKAGED_TOKENIZER,
              "datasets": [{"path": str(tmp_path / "data"), "rows": 32}], "output_dir": str(tmp_path / "out"),
              "seed": 0, "assistant_only_loss": True, "packing": True, "packing_strategy": "bfd", "max_length": 64,
              "per_device_train_batch_size": 2, "learning_rate": 1.0e-2, "lr_scheduler_type": "constant",
              "max_steps": max_steps, "logging_steps": 1, "save_strategy": "no", "report_to": "none",
              "dataset_num_proc": 1, "disable_tqdm": True}
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(fields))
    return path


class PoisonGradient(TrainerCallback):
    """Writes a NaN into one gradient at the given steps and snapshots the weights around every step."""

    def __init__(self, steps):
        self.steps, self.before, self.changed = set(steps), {}, {}

    def on_pre_optimizer_step(self, args, state, control, model=None, **kwargs):
        step = state.global_step + 1
        self.before = {n: p.detach().clone() for n, p in model.named_parameters()}
        if step in self.steps:
            grad = next(p.grad for p in model.parameters() if p.grad is not None)
            grad.view(-1)[0] = float("nan")

    def on_step_end(self, args, state, control, model=None, **kwargs):
        self.changed[state.global_step] = any(not torch.equal(self.before[n], p.detach())
                                              for n, p in model.named_parameters())


def trainer_with_poison(tmp_path, max_steps, steps):
    trainer, _ = build_trainer(load_run_config("sft", recipe(tmp_path, max_steps)))
    poison = PoisonGradient(steps)
    trainer.callback_handler.callbacks.insert(0, poison)  # before the guard, like a real NaN from backward
    assert any(isinstance(c, NonFiniteGradGuard) for c in trainer.callback_handler.callbacks)
    return trainer, poison


def test_a_nan_gradient_skips_its_step_and_training_goes_on(tmp_path):
    trainer, poison = trainer_with_poison(tmp_path, max_steps=5, steps={2})
    trainer.train()
    assert poison.changed == {1: True, 2: False, 3: True, 4: True, 5: True}
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())
    metrics = [json.loads(line) for line in (tmp_path / "out" / "metrics.jsonl").read_text().splitlines()]
    skipped = {row["step"]: row.get("skipped_steps") for row in metrics if "loss" in row}
    assert skipped == {1: None, 2: 1, 3: 1, 4: 1, 5: 1}


def test_nan_gradients_in_a_row_stop_the_run_with_a_clear_error(tmp_path):
    trainer, poison = trainer_with_poison(tmp_path, max_steps=8, steps=range(2, 9))
    with pytest.raises(NonFiniteGradientsError, match=r"step 4: NaN/inf gradients in 3 optimizer steps in a row "
                                                      r"\(steps 2, 3, 4\)"):
        trainer.train()
    assert poison.changed == {1: True, 2: False, 3: False}
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())


def test_without_the_guard_one_nan_gradient_poisons_every_weight(tmp_path):
    """The failure the guard exists for: transformers applies the step and the whole model turns NaN."""
    trainer, _ = trainer_with_poison(tmp_path, max_steps=2, steps={1})
    trainer.callback_handler.callbacks = [c for c in trainer.callback_handler.callbacks
                                          if not isinstance(c, NonFiniteGradGuard)]
    trainer.train()
    assert not torch.isfinite(trainer.model.get_input_embeddings().weight).all()
