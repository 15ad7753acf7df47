"""Padding-free packed attention without flash-attn: PyTorch's varlen flash kernel behind transformers' interface.

    from train.attention import VARLEN_ATTENTION, register_varlen_attention
    register_varlen_attention()
    model = AutoModelForCausalLM.from_config(config, attn_implementation=VARLEN_ATTENTION)

TRL's padding-free collator (SFT with `bfd` packing) hands the model one flattened row plus `cu_seq_lens_q` /
`max_length_q`; this attention runs `torch.nn.attention.varlen.varlen_attn` over exactly those documents, so no
token attends across a document boundary and no block-diagonal mask is materialised (SDPA's fallback builds a
dense seq x seq mask and loses the flash kernel). Needs CUDA; padded batches are refused (SFT packs, it never pads).
"""

from __future__ import annotations

import importlib.util
import inspect

import torch

VARLEN_ATTENTION = "mixlab_varlen"


def varlen_attention_available() -> bool:
    return torch.cuda.is_available() and importlib.util.find_spec("torch.nn.attention.varlen") is not None


def _varlen_call_options() -> dict:
    """Keyword arguments for causal GQA attention, across the torch versions that have varlen_attn."""
    from torch.nn.attention.varlen import varlen_attn

    params = inspect.signature(varlen_attn).parameters
    options = {"window_size": (-1, 0)} if "window_size" in params else {"is_causal": True}
    if "enable_gqa" in params:
        options["enable_gqa"] = True
    return options


def _compute_dtype(query: torch.Tensor) -> torch.dtype:
    if query.dtype in (torch.bfloat16, torch.float16):
        return query.dtype
    if torch.is_autocast_enabled("cuda"):
        return torch.get_autocast_dtype("cuda")
    return torch.bfloat16  # fp32 q/k/v (an fp32 RMSNorm weight upcasts them): the kernel needs half precision


def varlen_attention_forward(module, query, key, value, attention_mask, dropout: float = 0.0,
                             scaling: float | None = None, sliding_window: int | None = None, **kwargs):
    """transformers attention function: (batch, heads, seq, dim) in, (batch, seq, heads, dim) out."""
    from torch.nn.attention.varlen import varlen_attn

    batch, heads, seq, dim = query.shape
    if attention_mask is not None or key.shape[2] != seq:
        raise ValueError(f"{VARLEN_ATTENTION} attention serves padding-free packed training only: use sdpa for "
                         "padded batches and generation")
    if dropout or sliding_window:
        raise ValueError(f"{VARLEN_ATTENTION} attention supports neither dropout nor sliding windows")
    cu_seq_lens = kwargs.get("cu_seq_lens_q")
    if cu_seq_lens is None:  # unpacked rows of equal length: each row is one document
        cu_seq_lens = torch.arange(0, (batch + 1) * seq, seq, dtype=torch.int32, device=query.device)
        max_length = seq
    else:
        if batch != 1:
            raise ValueError(f"packed inputs come as one flattened row, got a batch of {batch}")
        cu_seq_lens = cu_seq_lens.to(device=query.device, dtype=torch.int32)
        max_length = int(kwargs["max_length_q"])
    dtype = _compute_dtype(query)
    q, k, v = (t.transpose(1, 2).reshape(batch * seq, t.shape[1], dim).to(dtype) for t in (query, key, value))
    options = _varlen_call_options()
    if "enable_gqa" not in options and k.shape[1] != heads:
        k, v = (t.repeat_interleave(heads // t.shape[1], dim=1) for t in (k, v))
    out = varlen_attn(q, k, v, cu_seq_lens, cu_seq_lens, max_length, max_length, scale=scaling, **options)
    return out.view(batch, seq, heads, dim), None


def register_varlen_attention() -> None:
    """Make `attn_implementation="mixlab_varlen"` known to transformers (idempotent)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, flash_attention_mask

    AttentionInterface.register(VARLEN_ATTENTION, varlen_attention_forward)
    ALL_MASK_ATTENTION_FUNCTIONS.register(VARLEN_ATTENTION, flash_attention_mask)
