"""Load the model a recipe names: a local model folder (from_pretrained) or a config.json (random init).

    model = load_model("configs/tiny/model/config.json", tokenizer, {"dtype": "float32"})
    model = load_model("/afs/share/Qwen3-4B-Base", tokenizer, {"dtype": "bfloat16"})

`init_kwargs` are TRL's `model_init_kwargs` (dtype, attn_implementation, ...). Attention defaults to
flash_attention_2 on GPU when flash-attn is installed (varlen kernels for padding-free packing), else sdpa, which
builds the block-diagonal mask of packed documents from their position ids.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForCausalLM, PreTrainedModel, PreTrainedTokenizerBase

from train.template import align_model_eos


def default_attention() -> str:
    if torch.cuda.is_available() and importlib.util.find_spec("flash_attn") is not None:
        return "flash_attention_2"
    return "sdpa"


def _dtype(value) -> torch.dtype:
    if value in (None, "auto"):
        return torch.float32  # TRL's default too: fp32 master weights, bf16 autocast on GPU
    return value if isinstance(value, torch.dtype) else getattr(torch, value)


def load_model(name_or_path: str, tokenizer: PreTrainedTokenizerBase, init_kwargs: dict | None = None,
               seed: int = 0) -> PreTrainedModel:
    """The model, its embeddings sized for the tokenizer and its eos/pad aligned with it."""
    kwargs = dict(init_kwargs or {})
    kwargs["dtype"] = _dtype(kwargs.get("dtype"))
    kwargs.setdefault("attn_implementation", default_attention())
    path = Path(name_or_path)
    if path.is_file() and path.suffix == ".json":
        torch.manual_seed(seed)  # the random init is part of the run: same seed, same weights
        config = AutoConfig.from_pretrained(path)
        model = AutoModelForCausalLM.from_config(config, **kwargs)
    elif path.is_dir():
        model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, **kwargs)
    else:
        raise FileNotFoundError(f"model not found: {name_or_path} (a local model folder or a config.json)")
    if len(tokenizer) > model.get_input_embeddings().num_embeddings:
        model.resize_token_embeddings(len(tokenizer), pad_to_multiple_of=64)
    align_model_eos(model, tokenizer)
    return model


def is_config_init(name_or_path: str) -> bool:
    return Path(name_or_path).suffix == ".json"
