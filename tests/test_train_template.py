"""Chat template and assistant-only labels at the token level, with the real Qwen3 tokenizer (no hub, no training).

    .venv/bin/pytest tests/test_train_template.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from mixlab.schema import KEPT_SCHEMAS, Kind, encode_row  # noqa: E402
from train.config import load_run_config  # noqa: E402
from train.model import load_model  # noqa: E402
from train.sft import EmptyLossMaskError, build_trainer  # noqa: E402
from train.template import (  # noqa: E402
    END_OF_TEXT,
    END_OF_TURN,
    PACKAGED_TOKENIZER,
    install_chat_template,
    load_tokenizer,
    packaged_tokenizer_file,
)

TINY_MODEL = str(Path(__file__).resolve().parents[1] / "configs" / "tiny" / "model" / "config.json")
CONVERSATION = [
    {"role": "system", "content": "Answer briefly."},
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "Paris."},
    {"role": "user", "content": "And of Italy?"},
    {"role": "assistant", "content": "Rome, since 1871."},
]


def write_curated(folder: Path, conversations: list[list[dict]]) -> Path:
    rows = [encode_row({"id": str(i), "source": "unit", "messages": m, "meta": {}}, Kind.sft)
            for i, m in enumerate(conversations)]
    (folder / "data" / "sft").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=KEPT_SCHEMAS[Kind.sft]), folder / "data" / "sft" / "0.parquet")
    return folder


def sft_config(tmp_path: Path, conversations: list[list[dict]], **fields):
    recipe = {"model_name_or_path": TINY_MODEL, "tokenizer_name_or_path": PACKAGED_TOKENIZER,
              "datasets": [{"path": str(write_curated(tmp_path / "curated", conversations))}],
              "output_dir": str(tmp_path / "out"), "assistant_only_loss": True, "max_length": 256,
              "report_to": "none", "dataset_num_proc": 1, "disable_tqdm": True, **fields}
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return load_run_config("sft", path)


@pytest.fixture(scope="module")
def tokenizer():
    return install_chat_template(load_tokenizer(PACKAGED_TOKENIZER))


def test_template_renders_qwen3_chatml(tokenizer):
    text = tokenizer.apply_chat_template(CONVERSATION[:3], tokenize=False)
    assert text == ("<|im_start|>system\nAnswer briefly.<|im_end|>\n<|im_start|>user\nWhat is the capital of "
                    "France?<|im_end|>\n<|im_start|>assistant\nParis.<|im_end|>\n")
    prompt = tokenizer.apply_chat_template(CONVERSATION[:2], tokenize=False, add_generation_prompt=True)
    assert prompt.endswith("<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n")


def test_base_tokenizer_switches_its_eos_to_im_end(tokenizer):
    base = load_tokenizer(str(packaged_tokenizer_file()))  # a bare tokenizer.json, set up like Qwen3-4B-Base
    assert base.eos_token == END_OF_TEXT
    assert tokenizer.eos_token == END_OF_TURN and tokenizer.pad_token == END_OF_TEXT
    model = load_model(TINY_MODEL, tokenizer)
    im_end, endoftext = tokenizer.convert_tokens_to_ids([END_OF_TURN, END_OF_TEXT])
    assert model.config.eos_token_id == im_end
    assert model.generation_config.eos_token_id == [im_end, endoftext]
    assert model.generation_config.pad_token_id == endoftext


def expected_tokens(tokenizer, conversation: list[dict]) -> tuple[list[int], list[int]]:
    """input ids and labels built piece by piece, independently of the template's generation markers."""
    ids, labels = [], []

    def add(text: str, trained: bool):
        piece = tokenizer.encode(text, add_special_tokens=False)
        ids.extend(piece)
        labels.extend(piece if trained else [-100] * len(piece))

    for message in conversation:
        add(f"<|im_start|>{message['role']}\n", False)
        if message["role"] == "assistant":
            add(message["content"] + END_OF_TURN, True)
            add("\n", False)
        else:
            add(message["content"] + END_OF_TURN + "\n", False)
    return ids, labels


def test_labels_are_exactly_the_assistant_tokens_and_im_end(tmp_path, tokenizer):
    cfg = sft_config(tmp_path, [CONVERSATION], packing=False)
    trainer, _ = build_trainer(cfg)
    row = trainer.train_dataset[0]
    ids, labels = expected_tokens(tokenizer, CONVERSATION)
    assert row["input_ids"] == ids
    assert row["labels"] == labels
    im_end = tokenizer.convert_tokens_to_ids(END_OF_TURN)
    trained = [t for t in row["labels"] if t != -100]
    assert trained.count(im_end) == 2  # each assistant turn ends on a trained <|im_end|>
    assert tokenizer.decode(trained) == "Paris.<|im_end|>Rome, since 1871.<|im_end|>"


def test_conversation_without_assistant_tokens_is_an_error(tmp_path):
    no_answer = [{"role": "user", "content": "Hello?"}]
    with pytest.raises(RuntimeError, match="no assistant tokens"):
        build_trainer(sft_config(tmp_path, [CONVERSATION, no_answer], packing=False))


def test_batch_with_an_empty_assistant_mask_is_an_error(tmp_path):
    long_prompt = [{"role": "user", "content": "Tell me everything about rivers. " * 20},
                   {"role": "assistant", "content": "Rivers flow."}]
    cfg = sft_config(tmp_path, [long_prompt] * 2, packing=True, max_length=24, max_steps=1,
                     per_device_train_batch_size=1, save_strategy="no")
    trainer, _ = build_trainer(cfg)  # bfd packing cut every assistant turn off at 24 tokens
    with pytest.raises(EmptyLossMaskError, match="no assistant tokens"):
        trainer.train()
