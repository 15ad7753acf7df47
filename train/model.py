"""Load the model a recipe names: a local model folder (from_pretrained) or a config.json (random init).

    model = load_model("configs/tiny/model/config.json", tokenizer, {"dtype": "float32"})
    model = load_model("/afs/share/Qwen3-4B-Base", tokenizer, {"dtype": "bfloat16"})

`init_kwargs` are TRL's `model_init_kwargs` (dtype, attn_implementation, ...). Attention defaults to
flash_attention_2 on GPU when flash-attn is installed; else, for padding-free packed training on GPU, PyTorch's own
varlen flash kernel (train/attention.py); else sdpa, which builds the block-diagonal mask of packed documents from
their position ids (correct, but a dense mask and no flash kernel).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForCausalLM, PreTrainedModel, PreTrainedTokenizerBase

from train.attention import VARLEN_ATTENTION, register_varlen_attention, varlen_attention_available
from train.template import align_model_eos


def default_attention(padding_free: bool = False) -> str:
    if torch.cuda.is_available() and importlib.util.find_spec("flash_attn") is not None:
        return "flash_attention_2"
    if padding_free and varlen_attention_available():
        register_varlen_attention()
        return VARLEN_ATTENTION
    return "sdpa"


def _dtype(value) -> torch.dtype:
    if value in (None, "auto"):
        return torch.float32  # TRL's default too: fp32 master weights, bf16 autocast on GPU
    return value if isinstance(value, torch.dtype) else getattr(torch, value)


def load_model(name_or_path: str, tokenizer: PreTrainedTokenizerBase, init_kwargs: dict | None = None,
               seed: int = 0, padding_free: bool = False) -> PreTrainedModel:
    """The model, its embeddings sized for the tokenizer and its eos/pad aligned with it. `padding_free`: it will
    only see packed, unpadded rows (SFT with bfd packing), so the varlen attention may serve it."""
    kwargs = dict(init_kwargs or {})
    kwargs["dtype"] = _dtype(kwargs.get("dtype"))
    if kwargs.get("attn_implementation") == VARLEN_ATTENTION:
        register_varlen_attention()
    kwargs.setdefault("attn_implementation", default_attention(padding_free))
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
