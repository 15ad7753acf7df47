"""The `format` verifier: 1.0 when a response is one `<think>…</think>` block followed by a non-empty answer.

    verify({"name": "format"}, "<think>2+2 is 4</think>The answer is 4.")  # Result(1.0, {"reason": "ok"})

Optional reward shaping for reasoning models; details["reason"] says why a layout scored 0.
"""

from __future__ import annotations

from mixlab.verifiers import register
from mixlab.verifiers.base import Result

OPEN, CLOSE = "<think>", "</think>"


def layout_problem(response: str) -> str | None:
    """The first thing wrong with the think-then-answer layout, or None when it is well formed."""
    text = response.strip()
    opens, closes = text.count(OPEN), text.count(CLOSE)
    if opens == 0 and closes == 0:
        return "no_think_block"
    if opens > 1 or closes > 1:
        return "multiple_think_blocks"
    if opens == 0 or closes == 0 or text.index(CLOSE) < text.index(OPEN):
        return "unbalanced_think_tags"
    if not text.startswith(OPEN):
        return "text_before_think"
    if not text[text.index(CLOSE) + len(CLOSE):].strip():
        return "empty_answer"
    return None


@register("format")
def verify_format(verifier: dict, response: str) -> Result:
    """Score the `<think>` / answer layout of `response` (the spec takes no arguments)."""
    problem = layout_problem(response)
    return Result(0.0 if problem else 1.0, {"reason": problem or "ok"})
