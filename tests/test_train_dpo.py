"""DPO end to end on CPU with the tiny Qwen3: length-normalised loss, reward margins rise, outputs stop on <|im_end|>.

    .venv/bin/pytest tests/test_train_dpo.py

Runs `mixlab train dpo` in-process on preference pairs written as a curated folder; the policy starts from the
tiny config (random init), so the reference is a frozen copy of it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from mixlab.cli import main as mixlab_main  # noqa: E402
from mixlab.schema import KEPT_SCHEMAS, Kind, encode_row  # noqa: E402
from train.config import load_run_config  # noqa: E402
from train.template import END_OF_TURN, PACKAGED_TOKENIZER  # noqa: E402

TINY_MODEL = str(Path(__file__).resolve().parents[1] / "configs" / "tiny" / "model" / "config.json")
PAIRS = [  # (prompt, chosen, rejected)
    ("What is 2 + 2?", "4", "I am not sure, maybe 5 or 6."),
    ("Name a primary colour.", "Red.", "Purple is a primary colour."),
    ("Is water wet?", "Yes.", "No, water is a kind of rock."),
    ("Capital of Spain?", "Madrid.", "Barcelona, Valencia or Seville."),
]


def message(role: str, content: str) -> list[dict]:
    return [{"role": role, "content": content}]


def write_curated(folder: Path) -> Path:
    rows = [encode_row({"id": str(i), "source": "pairs" if i % 2 else "more_pairs", "prompt": message("user", p),
                        "chosen": message("assistant", c), "rejected": message("assistant", r), "meta": {}},
                       Kind.preference)
            for i, (p, c, r) in enumerate(PAIRS)]
    (folder / "data" / "preference").mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pylist(rows, schema=KEPT_SCHEMAS[Kind.preference])
    pq.write_table(table, folder / "data" / "preference" / "0.parquet")
    return folder


def write_recipe(tmp_path: Path, **fields) -> Path:
    recipe = {"model_name_or_path": TINY_MODEL, "tokenizer_name_or_path": PACKAGED_TOKENIZER,
              "datasets": [{"path": str(write_curated(tmp_path / "curated")), "weight": 4}],
              "output_dir": str(tmp_path / "out"), "seed": 0, "loss_type": "sigmoid_norm", "beta": 5.0,
              "max_length": 64, "per_device_train_batch_size": 4, "learning_rate": 5.0e-4,
              "lr_scheduler_type": "constant", "max_steps": 12, "logging_steps": 1, "save_strategy": "no",
              "report_to": "none", "dataset_num_proc": 1, "disable_tqdm": True, **fields}
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def test_dpo_reward_margins_rise_and_the_model_stops_on_im_end(tmp_path):
    recipe = write_recipe(tmp_path)
    out = tmp_path / "out"
    assert mixlab_main(["train", "dpo", "--config", str(recipe)]) == 0

    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    margins = [r["rewards/margins"] for r in rows if "rewards/margins" in r]
    accuracies = [r["rewards/accuracies"] for r in rows if "rewards/accuracies" in r]
    assert len(margins) == 12
    assert abs(margins[0]) < 1e-3  # step 1: the policy is still the reference
    assert min(margins[-3:]) > 0.5 and sum(margins[-3:]) > sum(margins[:3]) + 1.5
    assert accuracies[-1] == 1.0

    mix = json.loads((out / "mix.json").read_text())
    assert mix["kind"] == "preference" and mix["sources"] == {"more_pairs": 8, "pairs": 8}
    assert (out / "plots" / "loss.png").is_file()
    assert load_run_config("dpo", out / "config.yaml").args.loss_type == ["sigmoid_norm"]
    assert json.loads((out / "tokenizer_config.json").read_text())["eos_token"] == END_OF_TURN
    eos_ids = json.loads((out / "generation_config.json").read_text())["eos_token_id"]
    assert eos_ids[0] == json.loads((out / "config.json").read_text())["eos_token_id"] != eos_ids[1]
