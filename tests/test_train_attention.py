"""The varlen attention (train/attention.py) matches SDPA document by document, and never mixes packed documents.

    pytest tests/test_train_attention.py      # the GPU cases skip where CUDA / torch varlen_attn is missing
"""

from __future__ import annotations

import pytest
import torch
from transformers import AutoConfig, AutoModelForCausalLM

from train.attention import VARLEN_ATTENTION, register_varlen_attention, varlen_attention_available
from train.model import default_attention

CONFIG = "configs/tiny/model/config.json"
gpu = pytest.mark.skipif(not varlen_attention_available(), reason="needs CUDA and torch.nn.attention.varlen")


def test_cpu_default_attention_is_sdpa_even_for_packed_training():
    if torch.cuda.is_available():
        pytest.skip("CPU-only expectation")
    assert default_attention(padding_free=True) == "sdpa"


def test_padded_batches_are_refused_not_silently_wrong():
    from train.attention import varlen_attention_forward

    q = torch.zeros(1, 4, 6, 8)
    with pytest.raises(ValueError, match="padding-free"):
        varlen_attention_forward(None, q, q, q, attention_mask=torch.ones(1, 1, 6, 6))


def _model(attention: str):
    torch.manual_seed(0)
    config = AutoConfig.from_pretrained(CONFIG)
    return AutoModelForCausalLM.from_config(config, attn_implementation=attention, dtype=torch.bfloat16).cuda().eval()


@gpu
def test_packed_row_equals_each_document_alone():
    register_varlen_attention()
    lengths = [7, 19, 5]
    docs = [torch.randint(0, 1000, (n,), device="cuda") for n in lengths]
    packed = torch.cat(docs)[None]
    positions = torch.cat([torch.arange(n, device="cuda") for n in lengths])[None]
    cu = torch.tensor([0, 7, 26, 31], dtype=torch.int32, device="cuda")
    varlen, sdpa = _model(VARLEN_ATTENTION), _model("sdpa")
    sdpa.load_state_dict(varlen.state_dict())
    with torch.no_grad():
        packed_logits = varlen(input_ids=packed, position_ids=positions, cu_seq_lens_q=cu, cu_seq_lens_k=cu,
                               max_length_q=19, max_length_k=19).logits[0]
        alone = torch.cat([sdpa(input_ids=d[None]).logits[0] for d in docs])
    assert torch.allclose(packed_logits.float(), alone.float(), atol=3e-2, rtol=3e-2)


@gpu
def test_varlen_backward_runs_and_gives_gradients():
    register_varlen_attention()
    model = _model(VARLEN_ATTENTION).train()
    ids = torch.randint(0, 1000, (1, 32), device="cuda")
    cu = torch.tensor([0, 10, 32], dtype=torch.int32, device="cuda")
    positions = torch.cat([torch.arange(10), torch.arange(22)]).cuda()[None]
    out = model(input_ids=ids, labels=ids, position_ids=positions, cu_seq_lens_q=cu, cu_seq_lens_k=cu,
                max_length_q=22, max_length_k=22)
    out.loss.backward()
    grad = model.model.layers[0].self_attn.q_proj.weight.grad
    assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0
