"""What every verifier returns: `Result(score, details)`, plus the error for a malformed verifier spec.

    from mixlab.verifiers.base import Result
    Result(1.0, {"extracted": "18", "gold": "18", "method": "boxed"})
"""

from __future__ import annotations

from dataclasses import dataclass, field


class VerifierError(ValueError):
    """A verifier spec that cannot be checked (unknown name, missing or mistyped argument)."""


@dataclass(frozen=True)
class Result:
    """A verifier's verdict: `score` in [0, 1] and JSON-serialisable `details` explaining it."""

    score: float
    details: dict = field(default_factory=dict)

    def __post_init__(self):
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(f"verifier score must be in [0, 1], got {self.score}")
