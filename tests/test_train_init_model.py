"""train/init_model.py: the demo's base model folder holds exactly the random init a recipe gets from the same
config.json and seed, stops on <|endoftext|> like a base, and `mixlab eval` scores it without a chat template.

    .venv/bin/pytest tests/test_train_init_model.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from eval.checkpoint import decide_chat_template  # noqa: E402
from train.init_model import main  # noqa: E402
from train.model import load_model  # noqa: E402
from train.template import END_OF_TEXT, PACKAGED_TOKENIZER, install_chat_template, load_tokenizer  # noqa: E402

TINY_MODEL = str(Path(__file__).resolve().parents[1] / "configs" / "tiny" / "model" / "config.json")


def test_base_folder_is_the_recipes_random_init_and_scores_as_a_base(tmp_path):
    assert main(["--config", TINY_MODEL, "--output", str(tmp_path / "base"), "--seed", "3"]) == 0
    tokenizer = install_chat_template(load_tokenizer(PACKAGED_TOKENIZER))  # what an SFT recipe loads
    from_folder = load_model(str(tmp_path / "base"), tokenizer).state_dict()
    from_config = load_model(TINY_MODEL, tokenizer, seed=3).state_dict()
    other_seed = load_model(TINY_MODEL, tokenizer, seed=4).state_dict()
    assert all(torch.equal(from_folder[k], from_config[k]) for k in from_config)
    assert not all(torch.equal(other_seed[k], from_config[k]) for k in from_config)
    eos = json.loads((tmp_path / "base" / "generation_config.json").read_text())["eos_token_id"]
    assert eos == tokenizer.convert_tokens_to_ids(END_OF_TEXT)
    assert decide_chat_template(str(tmp_path / "base")) == (False, "base model: its tokenizer has no chat template")


def test_a_missing_config_is_a_clear_error(tmp_path, capsys):
    assert main(["--config", str(tmp_path / "nope.json"), "--output", str(tmp_path / "base")]) == 2
    assert f"--config {tmp_path / 'nope.json'}: not a model config.json" in capsys.readouterr().err
    assert not (tmp_path / "base").exists()
