"""The `code` verifier: run a completion against its record's tests (HumanEval schema) in the sandbox; 1.0 if they pass.

    verify({"name": "code", "prompt": PROMPT, "test": TEST, "entry_point": "add", "timeout": 5},
           "```python\\ndef add(a, b):\\n    return a + b\\n```", allow_code_exec=True)   # Result(1.0, {...})
    verify_code_batch(specs, responses, workers=4)   # many at once (GRPO batches), in a thread pool

The code is taken from the response after `<think>…</think>` is stripped: from its fenced blocks (```python or
```py, else unlabelled ones) the last one that defines `entry_point`, else the longest; without fences the whole
text. The program is HumanEval's: code + test + `check(entry_point)`. When the code does not define the entry
point (a body-only completion) it is appended to the prompt; when it does, the prompt still goes first if it is
valid Python on its own, so the imports and helper functions the prompt declares exist (the completion's
definition replaces the prompt's stub). The program running to its end with exit status 0 scores 1.0; anything
else 0.0, with the sandbox status (ok | failed | timeout | memory | output_limit | killed | error, or exited_early
for exit status 0 from sys.exit()/os._exit() before the tests ran), the isolation level, the stderr tail and the
duration in details. Refused unless code execution is allowed (`--allow-code-exec`).
"""

from __future__ import annotations

import os
import re
import textwrap
from concurrent.futures import ThreadPoolExecutor

from mixlab.verifiers import register, verify
from mixlab.verifiers.base import Result, VerifierError
from mixlab.verifiers.math import strip_thinking
from mixlab.verifiers.sandbox import SandboxUnavailable, run_python

DEFAULT_TIMEOUT_S = 10.0
MAX_TIMEOUT_S = 300.0
MEMORY_MB = 1024
STDERR_TAIL_CHARS = 1000
FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
PYTHON_TAGS = ("python", "py", "python3")


def code_arguments(verifier: dict) -> tuple[str, str, str, float]:
    """(test, entry_point, prompt, timeout) from the spec, checking their types."""
    for field in ("test", "entry_point"):
        if not isinstance(verifier.get(field), str) or not verifier[field].strip():
            raise VerifierError(f"code verifier needs field {field!r} (a non-empty string)")
    prompt = verifier.get("prompt", "")
    if not isinstance(prompt, str):
        raise VerifierError(f"code verifier 'prompt' must be a string, got {type(prompt).__name__}")
    timeout = verifier.get("timeout", DEFAULT_TIMEOUT_S)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= MAX_TIMEOUT_S:
        raise VerifierError(f"code verifier 'timeout' must be a number of seconds in (0, {MAX_TIMEOUT_S:g}]")
    return verifier["test"], verifier["entry_point"].strip(), prompt, float(timeout)


def extract_code(response: str, entry_point: str) -> str:
    """The code in a response: the best fenced block, or the whole text when there is no fence."""
    text = strip_thinking(response)
    blocks = [(tag.lower(), body) for tag, body in FENCE.findall(text)]
    if not blocks:
        return text
    python = [body for tag, body in blocks if tag in PYTHON_TAGS] or [body for tag, body in blocks if not tag]
    if not python:
        return text
    defining = [body for body in python if defines(body, entry_point)]
    return defining[-1] if defining else max(python, key=len)


def defines(code: str, entry_point: str) -> bool:
    definition = rf"^[ \t]*(?:async[ \t]+)?def[ \t]+{re.escape(entry_point)}[ \t]*\("
    return re.search(definition, code, re.MULTILINE) is not None


def compiles(source: str) -> bool:
    try:
        compile(source, "<candidate>", "exec")
    except (SyntaxError, ValueError):
        return False
    return True


def build_program(code: str, prompt: str, test: str, entry_point: str) -> tuple[str, bool]:
    """(program, whether the prompt was prepended) following HumanEval: code + test + check(entry_point)."""
    if defines(code, entry_point):
        prepend = bool(prompt.strip()) and compiles(prompt)
        solution = f"{prompt}\n{code}" if prepend else code
    else:
        prepend = True
        solution = prompt + code
        indented = prompt + textwrap.indent(textwrap.dedent(code), "    ")
        if not compiles(solution) and compiles(indented):
            solution = indented  # a body written flush left
    return f"{solution}\n\n{test}\n\ncheck({entry_point})\n", prepend


@register("code", runs_code=True)
def verify_code(verifier: dict, response: str) -> Result:
    """Score 1.0 when the completion passes the record's tests in the sandbox, else 0.0."""
    test, entry_point, prompt, timeout = code_arguments(verifier)
    program, prepended = build_program(extract_code(response, entry_point), prompt, test, entry_point)
    try:
        run = run_python(program, timeout=timeout, memory_mb=MEMORY_MB)
    except SandboxUnavailable as err:
        raise VerifierError(f"code verifier: {err}") from None
    passed = run.passed and run.completed  # exit status 0 from sys.exit(0) before the tests ran is no pass
    status = "exited_early" if run.passed and not run.completed else run.status
    details = {"status": status, "isolation": run.isolation, "returncode": run.returncode,
               "duration_s": run.wall_s, "prompt_prepended": prepended, "stderr": run.stderr[-STDERR_TAIL_CHARS:]}
    return Result(1.0 if passed else 0.0, details)


def verify_code_batch(verifiers: list[dict], responses: list[str], *, workers: int | None = None,
                      allow_code_exec: bool = False) -> list[Result]:
    """verify() over many rows at once, `workers` sandboxes in parallel (default: one per CPU, at most 8)."""
    if len(verifiers) != len(responses):
        raise ValueError(f"{len(verifiers)} verifiers for {len(responses)} responses")
    workers = workers or min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda pair: verify(*pair, allow_code_exec=allow_code_exec), zip(verifiers, responses)))
