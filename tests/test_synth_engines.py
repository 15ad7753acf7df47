"""The synth engines: vLLM request building (no vllm needed), the transformers engine on a tiny random Qwen3.

    .venv/bin/pytest tests/test_synth_engines.py

The vLLM engine itself runs only where vllm and a GPU exist (skipped with the reason otherwise).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from synth.engines import (  # noqa: E402
    HFEngine,
    build_engine,
    derive_seed,
    resolve_engine,
    vllm_requests,
    vllm_usable,
)
from train.template import END_OF_TURN, PACKAGED_TOKENIZER, install_chat_template, load_tokenizer  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PROMPTS = [[{"role": "user", "content": "Name a colour."}],
           [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Two plus two, in words?"}]]


@pytest.fixture(scope="module")
def tokenizer():
    return install_chat_template(load_tokenizer(PACKAGED_TOKENIZER))


@pytest.fixture(scope="module")
def model(tmp_path_factory, tokenizer) -> str:
    from train.model import load_model

    folder = tmp_path_factory.mktemp("tiny-model")
    load_model(str(REPO / "configs" / "tiny" / "model" / "config.json"), tokenizer, {"dtype": "float32"},
               seed=0).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def engine(model) -> HFEngine:
    return HFEngine(model, batch_size=8)


def test_vllm_requests_render_the_chat_template_and_seed_each_prompt(tokenizer):
    stops = [tokenizer.convert_tokens_to_ids(END_OF_TURN)]
    texts, params = vllm_requests(tokenizer, PROMPTS, n=4, temperature=0.6, max_new_tokens=99, seed=5, stop_ids=stops)
    assert texts[0] == "<|im_start|>user\nName a colour.<|im_end|>\n<|im_start|>assistant\n"
    assert texts[1].startswith("<|im_start|>system\nBe terse.<|im_end|>\n") and texts[1].endswith("assistant\n")
    assert [p["seed"] for p in params] == [derive_seed(5, 0), derive_seed(5, 1)]
    assert params[0]["seed"] != params[1]["seed"]
    assert params[0] | {"seed": 0} == {"n": 4, "temperature": 0.6, "top_p": 1.0, "top_k": -1, "max_tokens": 99,
                                       "seed": 0, "stop_token_ids": stops, "skip_special_tokens": True}


def test_stop_tokens_come_from_tokenizer_and_generation_config(model, tokenizer):
    from synth.engines import generation_eos, stop_token_ids

    im_end, end_of_text = (tokenizer.convert_tokens_to_ids(t) for t in (END_OF_TURN, "<|endoftext|>"))
    assert generation_eos(model) == [im_end, end_of_text] and generation_eos(str(REPO)) is None
    assert stop_token_ids(tokenizer, 7) == [im_end, 7]


def test_engine_choice():
    assert resolve_engine("hf") == "hf"
    assert resolve_engine("auto") == ("vllm" if vllm_usable() else "hf")
    with pytest.raises(ValueError, match="unknown engine"):
        resolve_engine("tgi")
    with pytest.raises(FileNotFoundError, match="model not found"):
        build_engine("hf", "/no/such/model")


def test_hf_engine_samples_are_seeded_and_shaped(engine):
    first = engine.generate(PROMPTS, n=4, temperature=1.0, max_new_tokens=8, seed=1)
    assert [len(group) for group in first] == [4, 4] and all(isinstance(s, str) for g in first for s in g)
    assert first == engine.generate(PROMPTS, n=4, temperature=1.0, max_new_tokens=8, seed=1)
    assert first != engine.generate(PROMPTS, n=4, temperature=1.0, max_new_tokens=8, seed=2)
    assert len(set(first[0])) > 1  # samples of one prompt differ


def test_hf_engine_greedy_does_not_depend_on_batching(model, engine):
    batched = engine.generate(PROMPTS, n=2, temperature=0, max_new_tokens=8, seed=0)
    single = HFEngine(model, batch_size=1).generate(PROMPTS, n=2, temperature=0, max_new_tokens=8, seed=0)
    assert batched == single  # left padding and the attention mask keep rows independent
    assert all(len(set(group)) == 1 for group in batched)


def test_static_cache_path_matches_the_dynamic_one(model, engine):
    """The GPU path (padded rows, bucketed prompt widths, one StaticCache reused and grown), run here on CPU."""
    prompts = [*PROMPTS, [{"role": "user", "content": "A much longer question. " * 30}]]
    static = HFEngine(model, batch_size=4, static_cache=True)
    assert static.generate(PROMPTS, n=1, temperature=0, max_new_tokens=6, seed=0) == \
        engine.generate(PROMPTS, n=1, temperature=0, max_new_tokens=6, seed=0)
    short_cache = static.cache_length
    assert static.generate(prompts, n=1, temperature=0, max_new_tokens=6, seed=0) == \
        engine.generate(prompts, n=1, temperature=0, max_new_tokens=6, seed=0)
    assert static.cache_length > short_cache  # a longer prompt bucket grew the cache
    assert static.generated_tokens == 3 * 6 + 2 * 6  # random weights never stop early: every row runs to the limit


def test_hf_engine_stops_on_the_models_eos(model, engine, tmp_path):
    """Make the token greedy decoding emits first an eos of the model (generation_config): generation stops there."""
    import torch

    from synth.engines import render_prompt

    ids = engine.tokenizer(render_prompt(engine.tokenizer, PROMPTS[0]), return_tensors="pt")["input_ids"]
    with torch.no_grad():
        first_token = int(engine.model(ids).logits[0, -1].argmax())
    first = engine.tokenizer.decode([first_token])
    text = engine.generate(PROMPTS[:1], n=1, temperature=0, max_new_tokens=8, seed=0)[0][0]
    assert text.startswith(first) and len(text) > len(first)
    stopping = tmp_path / "stopping-model"
    shutil.copytree(model, stopping)
    config = json.loads((stopping / "generation_config.json").read_text())
    config["eos_token_id"] = [first_token]
    (stopping / "generation_config.json").write_text(json.dumps(config))
    stopped = HFEngine(str(stopping)).generate(PROMPTS[:1], n=1, temperature=0, max_new_tokens=8, seed=0)[0][0]
    assert stopped == first
    assert END_OF_TURN not in text and engine.tokenizer.convert_tokens_to_ids(END_OF_TURN) in engine.stop_ids


@pytest.mark.skipif(not vllm_usable(), reason="vllm is not installed or no GPU is visible")
def test_vllm_engine_generates(model):
    from synth.engines import VLLMEngine

    samples = VLLMEngine(model, seed=0).generate(PROMPTS, n=2, temperature=1.0, max_new_tokens=8, seed=0)
    assert [len(group) for group in samples] == [2, 2]
