"""SFT end to end on CPU with the tiny Qwen3: packing keeps documents apart, loss falls, outputs, resume, reload.

    .venv/bin/pytest tests/test_train_sft.py

Runs `mixlab train sft` in-process on a learnable task (a few conversations, repeated) written as a curated folder.
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

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402

from mixlab.cli import main as mixlab_main  # noqa: E402
from mixlab.recipe import RecipeError  # noqa: E402
from mixlab.schema import KEPT_SCHEMAS, Kind, encode_row  # noqa: E402
from train.config import load_run_config  # noqa: E402
from train.launch import accelerate_command  # noqa: E402
from train.sft import build_trainer  # noqa: E402
from train.template import END_OF_TURN, PACKAGED_TOKENIZER  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TINY_MODEL = str(REPO / "configs" / "tiny" / "model" / "config.json")
TASK = {  # prompt -> the answer the model must learn
    "ping": "pong pong",
    "colour of the sky?": "blue",
    "two plus two?": "four",
}


def conversation(prompt: str, answer: str) -> list[dict]:
    return [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]


def write_curated(folder: Path) -> Path:
    """One conversation per source, so the mix report has something to count per source."""
    rows = [encode_row({"id": str(i), "source": f"src{i}", "messages": conversation(p, a), "meta": {}}, Kind.sft)
            for i, (p, a) in enumerate(TASK.items())]
    (folder / "data" / "sft").mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=KEPT_SCHEMAS[Kind.sft]), folder / "data" / "sft" / "0.parquet")
    return folder


def write_recipe(tmp_path: Path, **fields) -> Path:
    recipe = {"model_name_or_path": TINY_MODEL, "tokenizer_name_or_path": PACKAGED_TOKENIZER,
              "datasets": [{"path": str(write_curated(tmp_path / "curated")), "rows": 48}],
              "output_dir": str(tmp_path / "out"), "seed": 0, "assistant_only_loss": True,
              "packing": True, "packing_strategy": "bfd", "max_length": 64, "per_device_train_batch_size": 2,
              "learning_rate": 1.0e-2, "lr_scheduler_type": "constant", "max_steps": 30, "logging_steps": 1,
              "save_strategy": "steps", "save_steps": 15, "report_to": "tensorboard", "dataset_num_proc": 1,
              "disable_tqdm": True, **fields}
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def read_metrics(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_packed_batch_restarts_positions_and_keeps_documents_apart(tmp_path):
    cfg = load_run_config("sft", write_recipe(tmp_path, per_device_train_batch_size=1))
    trainer, _ = build_trainer(cfg)
    batch = next(iter(trainer.get_train_dataloader()))
    assert "attention_mask" not in batch  # padding-free: one flat row, documents told apart by position ids
    positions = batch["position_ids"][0].tolist()
    starts = [i for i, p in enumerate(positions) if p == 0]
    assert len(starts) >= 3  # bfd put several short conversations in one row
    bounds = [*starts, len(positions)]
    for start, end in zip(bounds, bounds[1:]):
        assert positions[start:end] == list(range(end - start))
    assert batch["cu_seq_lens_q"].tolist() == bounds
    assert all(batch["labels"][0, s] == -100 for s in starts)  # no document is trained to follow another

    model = trainer.model.eval()
    ids = batch["input_ids"].to(model.device)
    with torch.no_grad():
        packed = model(input_ids=ids, position_ids=batch["position_ids"].to(model.device)).logits[0]
        for start, end in zip(bounds, bounds[1:]):
            alone = model(input_ids=ids[:, start:end]).logits[0]
            torch.testing.assert_close(packed[start:end], alone, atol=1e-4, rtol=1e-4)


def generate(out: Path, prompt: str) -> tuple[str, list[int], int]:
    tokenizer = AutoTokenizer.from_pretrained(out)
    model = AutoModelForCausalLM.from_pretrained(out)
    ids = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                        return_tensors="pt", return_dict=True)["input_ids"]
    new = model.generate(ids, max_new_tokens=20, do_sample=False)[0, ids.shape[1]:].tolist()
    return tokenizer.decode(new, skip_special_tokens=True), new, tokenizer.convert_tokens_to_ids(END_OF_TURN)


def test_sft_learns_saves_resumes_and_reloads(tmp_path, capsys):
    recipe = write_recipe(tmp_path)
    out = tmp_path / "out"
    assert mixlab_main(["train", "sft", "--config", str(recipe)]) == 0
    assert "tensorboard is not installed" in capsys.readouterr().err or (out / "runs").is_dir()

    losses = [r["loss"] for r in read_metrics(out) if "loss" in r]
    assert len(losses) == 30
    assert sum(losses[-5:]) / 5 < 0.2 * sum(losses[:5]) / 5

    for name in ("config.json", "model.safetensors", "tokenizer.json", "generation_config.json", "config.yaml",
                 "mix.json", "plots/loss.png", "checkpoint-15", "checkpoint-30"):
        assert (out / name).exists(), name
    mix = json.loads((out / "mix.json").read_text())
    assert mix["rows"] == 48 and mix["sources"] == {"src0": 16, "src1": 16, "src2": 16}
    assert load_run_config("sft", out / "config.yaml").args.max_steps == 30  # the resolved config is a recipe

    tokenizer_config = json.loads((out / "tokenizer_config.json").read_text())
    generation_config = json.loads((out / "generation_config.json").read_text())
    assert tokenizer_config["eos_token"] == END_OF_TURN
    im_end = AutoTokenizer.from_pretrained(out).convert_tokens_to_ids(END_OF_TURN)
    assert im_end in generation_config["eos_token_id"]

    # --resume: continue from checkpoint-30 to step 40, not from step 0
    assert mixlab_main(["train", "sft", "--config", str(recipe), "max_steps=40", "--resume"]) == 0
    steps = [r["step"] for r in read_metrics(out) if "loss" in r]
    assert steps == list(range(1, 41))
    state = json.loads((out / "checkpoint-40" / "trainer_state.json").read_text())
    assert state["global_step"] == 40

    for prompt, answer in TASK.items():
        text, new_ids, stop = generate(out, prompt)
        assert text == answer
        assert new_ids[-1] == stop and len(new_ids) < 20  # stopped on <|im_end|>, not on max_new_tokens


def test_recipe_errors_name_the_field_and_line(tmp_path):
    recipe = write_recipe(tmp_path, learning_rat=1e-3)
    with pytest.raises(RecipeError, match=r"recipe.yaml:\d+: unknown field 'learning_rat'.*'learning_rate'"):
        load_run_config("sft", recipe)
    cfg = load_run_config("sft", write_recipe(tmp_path, bf16=True))
    assert cfg.args.bf16 is torch.cuda.is_available()
    if not torch.cuda.is_available():
        assert any("bf16 needs a GPU" in note for note in cfg.notes)


def test_several_gpus_go_through_accelerate_launch(tmp_path):
    recipe = str(write_recipe(tmp_path))
    command = accelerate_command("sft", recipe, ["learning_rate=1e-5"], num_gpus=4, resume=True)
    config_file = Path(command[command.index("--config_file") + 1])
    assert config_file.name == "fsdp2_4gpu.yaml" and config_file.is_file()
    assert command[command.index("--num_processes") + 1] == "4"
    assert command[-6:] == ["-m", "train.sft", "--config", recipe, "learning_rate=1e-5", "--resume"]
    zero3 = accelerate_command("dpo", recipe, ["accelerate_config=zero3"], num_gpus=2, resume=False)
    assert Path(zero3[zero3.index("--config_file") + 1]).name == "zero3_4gpu.yaml"
    assert yaml.safe_load(config_file.read_text())["distributed_type"] == "FSDP"
