"""Decide from a checkpoint whether lm-eval should wrap prompts in its chat template (`chat_template: auto`).

    decision = decide_chat_template("runs/sft", "auto")   # ChatDecision(on=True, reason="post-trained: ...")

A post-trained checkpoint stops generating on its chat template's end-of-turn token: our SFT saves eos
<|im_end|> in the tokenizer and generation_config.json, and <|im_end|> closes every turn of its template. A base
model stops on end-of-text (Qwen3-Base: <|endoftext|>), which its template (if it ships one) never writes; it is
scored on plain prompts, as its few-shot numbers are usually reported.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple


class ChatDecision(NamedTuple):
    on: bool
    reason: str


def decide_chat_template(model: str, setting: str = "auto") -> ChatDecision:
    """`setting` on/off is obeyed; auto: on iff a stop token of the checkpoint ends turns in its chat template."""
    if setting != "auto":
        return ChatDecision(setting == "on", f"chat_template: {setting} (set by the suite or --chat-template)")
    tokenizer = _load_tokenizer(model)
    template = _template_text(tokenizer.chat_template)
    if not template:
        return ChatDecision(False, "base model: its tokenizer has no chat template")
    stops = stop_tokens(model, tokenizer)
    turn_ends = [token for token in stops if token in template]
    if turn_ends:
        return ChatDecision(True, f"post-trained: it stops on {turn_ends[0]}, which ends each turn of its chat "
                            "template")
    return ChatDecision(False, f"base model: it stops on {', '.join(stops) or 'no token'}, which its chat "
                        "template never writes")


def stop_tokens(model: str, tokenizer) -> list[str]:
    """The tokens generation stops on: the tokenizer's eos and generation_config.json's eos_token_id(s)."""
    ids = _generation_eos_ids(model)
    tokens = [tokenizer.eos_token] + [tokenizer.convert_ids_to_tokens(i) for i in ids]
    return [token for token in dict.fromkeys(tokens) if token]


def _load_tokenizer(model: str):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model, local_files_only=Path(model).is_dir())


def _generation_eos_ids(model: str) -> list[int]:
    from transformers import GenerationConfig

    try:
        config = GenerationConfig.from_pretrained(model, local_files_only=Path(model).is_dir())
    except OSError:  # no generation_config.json
        return []
    eos = config.eos_token_id
    if eos is None:
        return []
    return list(eos) if isinstance(eos, (list, tuple)) else [eos]


def _template_text(template) -> str:
    """A tokenizer's chat template as text (some tokenizers hold several named templates)."""
    if isinstance(template, dict):
        return "\n".join(template.values())
    if isinstance(template, list):
        return "\n".join(entry.get("template", "") for entry in template)
    return template or ""
