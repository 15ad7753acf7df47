"""The one verifier registry used by synthesis, GRPO rewards and `mixlab verify`: route a row by `verifier["name"]`.

    from mixlab.verifiers import verify
    verify({"name": "math", "answer": "#### 18"}, "... so she makes $18 every day.")  # Result(score=1.0, ...)

A verifier is a function `(verifier: dict, response: str) -> Result` registered with `@register("name")`;
`register("name", runs_code=True)` marks one that executes generated code, refused unless `allow_code_exec`.
"""

from __future__ import annotations

from collections.abc import Callable

from mixlab.verifiers.base import Result, VerifierError

VerifierFn = Callable[[dict, str], Result]
VERIFIERS: dict[str, VerifierFn] = {}
RUNS_CODE: set[str] = set()


def register(name: str, *, runs_code: bool = False) -> Callable[[VerifierFn], VerifierFn]:
    """Decorator adding a verifier function to VERIFIERS under `name`."""

    def add(fn: VerifierFn) -> VerifierFn:
        if name in VERIFIERS:
            raise ValueError(f"verifier {name!r} is already registered")
        VERIFIERS[name] = fn
        if runs_code:
            RUNS_CODE.add(name)
        return fn

    return add


def verify(verifier: dict, response: str, *, allow_code_exec: bool = False) -> Result:
    """Score `response` with the verifier named in `verifier["name"]`, passing the whole spec as its arguments."""
    if not isinstance(verifier, dict):
        raise VerifierError(f"verifier must be an object with a 'name', got {type(verifier).__name__}")
    name = verifier.get("name")
    if name not in VERIFIERS:
        known = ", ".join(sorted(VERIFIERS))
        raise VerifierError(f"unknown verifier {name!r} (known: {known})")
    if name in RUNS_CODE and not allow_code_exec:
        raise VerifierError(f"verifier {name!r} runs generated code: enable it with --allow-code-exec")
    if not isinstance(response, str):
        raise VerifierError(f"response must be a string, got {type(response).__name__}")
    return VERIFIERS[name](verifier, response)


# the built-in verifiers register themselves on import
from mixlab.verifiers import code as _code  # noqa: E402, F401
from mixlab.verifiers import format as _format  # noqa: E402, F401
from mixlab.verifiers import ifeval as _ifeval  # noqa: E402, F401
from mixlab.verifiers import math as _math  # noqa: E402, F401

__all__ = ["VERIFIERS", "Result", "VerifierError", "register", "verify"]
