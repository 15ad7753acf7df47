"""The `math` verifier: does a response's final answer equal the gold (GSM8K `#### N`, a number or LaTeX)?

    verify({"name": "math", "answer": "Natalia sold ... #### 72"}, "<think>...</think> She sold \\boxed{72} clips.")

`<think>…</think>` is stripped first (an unclosed `<think>` means the answer never came). The final answer is
taken from the last `\\boxed{}`, else `#### N`, else "The answer is …", else math-verify's own extraction when
the tail is LaTeX, else the last number (GSM8K fallback). Plain numbers (commas, signs, decimals, `$`, `%`,
trailing units) compare numerically; anything else goes through `math_verify.parse/verify`.

Time bound: math-verify guards sympy with `signal.alarm`, which only works on the main thread. There we keep its
timeouts; on other threads we disable them and bound the work ourselves by capping what reaches sympy (the last
MAX_RESPONSE_CHARS of the response, answers of at most MAX_ANSWER_CHARS, LaTeX last lines of at most
MAX_LATEX_TAIL_CHARS, no exponent towers).
"""

from __future__ import annotations

import re
import threading

from mixlab.verifiers import register
from mixlab.verifiers.base import Result, VerifierError

MAX_RESPONSE_CHARS = 20_000
MAX_ANSWER_CHARS = 300
MAX_LATEX_TAIL_CHARS = 1_000
MV_TIMEOUT_S = 5
THINK_BLOCK = re.compile(r"<think>.*?</think>", re.DOTALL)
HASH_ANSWER = re.compile(r"####\s*([^\n]+)")
ANSWER_IS = re.compile(r"answer is[:\s]*([^\n]*?)(?:\.(?:\s|$)|\n|$)", re.IGNORECASE)  # to sentence end
NUMBER = re.compile(r"(?:(?<![\w)\]])-)?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|(?:(?<![\w)\]])-)?\.\d+")
PLAIN_NUMBER = re.compile(r"^([-+]?)\s*(?:\\?\$)?\s*((?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+)\s*(?:\\?%)?"
                          r"\s*(?:[A-Za-z][A-Za-z ]*)?\.?$")
LATEX_MARKERS = ("\\frac", "\\sqrt", "\\pi", "\\(", "\\[", "^", "\\dfrac", "\\cdot")  # "$" is money too
EXPONENT_TOWER = re.compile(r"\^\{?\s*[\d.]{1,8}\s*\^")  # 9^{9^9}, 2^3^4; not x^5 - x^4 + ...


def gold_answer(gold) -> str:
    """The gold answer as text: numbers as written, a GSM8K solution reduced to what follows its last `####`."""
    if isinstance(gold, bool) or not isinstance(gold, (int, float, str)):
        raise VerifierError(f"math verifier 'answer' must be a number or a string, got {type(gold).__name__}")
    text = str(gold).strip()
    if "####" in text:
        text = text.rsplit("####", 1)[1].strip()
    if not text:
        raise VerifierError("math verifier 'answer' is empty")
    return text


def strip_thinking(response: str) -> str:
    """Drop `<think>…</think>` blocks; text after an unclosed `<think>` (or before a lone `</think>`) is thinking."""
    text = THINK_BLOCK.sub(" ", response)
    if "</think>" in text:
        text = text.rsplit("</think>", 1)[1]
    if "<think>" in text:
        text = text.split("<think>", 1)[0]
    return text


def last_boxed(text: str) -> str | None:
    """Content of the last `\\boxed{...}` (or `\\fbox{...}`) with balanced braces, or None."""
    start = max(text.rfind("\\boxed{"), text.rfind("\\fbox{"))
    if start < 0:
        return None
    i = text.index("{", start) + 1
    depth = 1
    for j in range(i, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[i:j].strip()
    return None  # truncated inside the box


def extract_answer(response: str) -> tuple[str | None, str | None]:
    """(final answer text, how it was found) from a response without thinking; (None, None) when there is none."""
    text = response[-MAX_RESPONSE_CHARS:]
    boxed = last_boxed(text)
    if boxed:
        return boxed, "boxed"
    for pattern, method in ((HASH_ANSWER, "hash"), (ANSWER_IS, "answer_is")):
        found = [answer.strip().rstrip(".") for answer in pattern.findall(text)]
        if found and re.search(r"[\d\\]|^\$.+\$$", found[-1]):  # "the answer is not obvious" is no answer
            return found[-1], method
    tail = text.strip().splitlines()[-1] if text.strip() else ""
    if len(tail) <= MAX_LATEX_TAIL_CHARS and any(marker in tail for marker in LATEX_MARKERS) \
            and not EXPONENT_TOWER.search(tail):
        parsed = _parse(tail, wrap=False)
        if len(parsed) > 1:
            return parsed[1], "math_verify"
    numbers = NUMBER.findall(text)
    return (numbers[-1], "last_number") if numbers else (None, None)


def as_number(text: str) -> float | None:
    """The value of a plain number ("1,234", "-3.50", "$18", "25%", "18 dollars"), or None for anything else."""
    match = PLAIN_NUMBER.match(text.strip())
    if not match:
        return None
    value = float(match.group(2).replace(",", ""))
    return -value if match.group(1) == "-" else value


def _on_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _parse(text: str, *, wrap: bool = True) -> list:
    from math_verify import parse as mv_parse  # sympy: imported on first use, not when the CLI starts

    timeout = MV_TIMEOUT_S if _on_main_thread() else None
    return mv_parse(f"\\boxed{{{text}}}" if wrap else text, parsing_timeout=timeout)


def answers_match(gold: str, extracted: str) -> bool:
    """Numeric equality for plain numbers, math-verify's symbolic equivalence otherwise."""
    gold_value, extracted_value = as_number(gold), as_number(extracted)
    if gold_value is not None and extracted_value is not None:
        return abs(gold_value - extracted_value) <= 1e-6 * max(1.0, abs(gold_value))
    if len(extracted) > MAX_ANSWER_CHARS or EXPONENT_TOWER.search(extracted):
        return False  # refuse what could keep sympy busy for minutes off the main thread
    from math_verify import verify as mv_verify

    timeout = MV_TIMEOUT_S if _on_main_thread() else None
    return bool(mv_verify(_parse(gold), _parse(extracted), timeout_seconds=timeout))


@register("math")
def verify_math(verifier: dict, response: str) -> Result:
    """Score 1.0 when the response's final answer equals `verifier["answer"]`, else 0.0."""
    if "answer" not in verifier:
        raise VerifierError("math verifier needs field 'answer' (a number, LaTeX, or a GSM8K '#### N' solution)")
    gold = gold_answer(verifier["answer"])
    extracted, method = extract_answer(strip_thinking(response))
    correct = extracted is not None and answers_match(gold, extracted)
    return Result(1.0 if correct else 0.0, {"extracted": extracted, "gold": gold, "method": method})
