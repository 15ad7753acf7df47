"""GRPO rewards from the verifier registry: TRL reward functions that route each completion to its row's verifier.

    funcs = reward_functions(run, dataset["verifier"])     # run.rewards = {"verifier": 1.0, "format": 0.2}
    GRPOTrainer(..., reward_funcs=funcs)                    # weights: cfg.args.reward_weights, same order

TRL calls each function as `f(prompts=..., completions=..., verifier=[...], log_metric=..., ...)` and wants one
float per completion. "verifier" scores a completion with the `verifier` JSON of the row it was sampled for (so a
mixed math + ifeval + code set is data, not code); any other name applies that registry verifier, without
arguments, to every row (shaping such as `format`). A batch is scored on `reward_workers` threads. A row whose
verifier is unknown, or runs code without `allow_code_exec: true`, stops the run before training starts; a
verifier error during training stops it too, naming the row's verifier (a reward is never silently 0).
"""

from __future__ import annotations

import json
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

from mixlab.recipe import RecipeError
from mixlab.verifiers import RUNS_CODE, VERIFIERS, VerifierError, verify

ROW_VERIFIER = "verifier"  # the reward that reads each row's own verifier column


def parse_spec(spec) -> dict:
    """A row's verifier: JSON text as stored in parquet (or an already decoded dict)."""
    if isinstance(spec, str):
        try:
            spec = json.loads(spec)
        except json.JSONDecodeError as err:
            raise VerifierError(f"verifier column is not valid JSON ({err}): {spec[:200]!r}") from err
    if not isinstance(spec, dict) or "name" not in spec:
        raise VerifierError(f"a row's verifier must be an object with a 'name', got {spec!r:.200}")
    return spec


def completion_text(completion) -> str:
    """TRL passes conversational completions as [{"role": "assistant", "content": ...}], plain ones as str."""
    if isinstance(completion, str):
        return completion
    return completion[-1]["content"]


class VerifierReward:
    """One TRL reward function: `verifier` routes per row; a fixed spec (e.g. {"name": "format"}) scores every row."""

    def __init__(self, fixed: dict | None = None, allow_code_exec: bool = False, workers: int = 8):
        self.fixed = fixed
        self.allow_code_exec = allow_code_exec
        self.workers = max(1, workers)
        self.__name__ = fixed["name"] if fixed else ROW_VERIFIER  # TRL logs rewards/<__name__>/mean

    def score(self, spec: dict, completion) -> float:
        try:
            return verify(spec, completion_text(completion), allow_code_exec=self.allow_code_exec).score
        except VerifierError as err:
            raise VerifierError(f"reward {self.__name__!r}: verifier {json.dumps(spec)[:300]}: {err}") from err

    def __call__(self, completions: list, verifier: list | None = None, log_metric=None, **_) -> list[float]:
        if self.fixed is not None:
            specs = [self.fixed] * len(completions)
        elif verifier is None:
            raise VerifierError("reward 'verifier' needs a 'verifier' column in the training data (RL records)")
        else:
            specs = [parse_spec(s) for s in verifier]
        if self.workers == 1:  # on the calling thread (math-verify keeps its own signal-based timeouts there)
            scores = [self.score(spec, c) for spec, c in zip(specs, completions)]
        else:
            with ThreadPoolExecutor(max_workers=min(self.workers, len(completions) or 1)) as pool:
                scores = list(pool.map(self.score, specs, completions))
        if log_metric is not None and self.fixed is None:
            for name, values in scores_by_verifier(specs, scores).items():
                log_metric(f"rewards/{ROW_VERIFIER}/{name}", sum(values) / len(values))
        return scores


def scores_by_verifier(specs: list[dict], scores: list[float]) -> dict[str, list[float]]:
    by_name: dict[str, list[float]] = defaultdict(list)
    for spec, score in zip(specs, scores):
        by_name[spec["name"]].append(score)
    return dict(by_name)


def check_verifier_names(names: set[str], allow_code_exec: bool, where: str) -> None:
    """Unknown verifiers and code execution without permission are errors before any generation."""
    unknown = sorted(n for n in names if n not in VERIFIERS)
    if unknown:
        raise RecipeError(f"{where}: unknown verifier(s) {', '.join(map(repr, unknown))} "
                          f"(registered: {', '.join(sorted(VERIFIERS))})")
    runs_code = sorted(names & RUNS_CODE)
    if runs_code and not allow_code_exec:
        raise RecipeError(f"{where}: verifier(s) {', '.join(map(repr, runs_code))} run generated code; set "
                          "`allow_code_exec: true` in the recipe to run it in the sandbox (it is never skipped)")


def reward_functions(run, row_verifiers: list | None) -> list[VerifierReward]:
    """The recipe's `rewards` (name -> weight, in order) as TRL reward functions, checked against the data."""
    funcs = []
    for name in run.rewards:
        if name == ROW_VERIFIER:
            if row_verifiers is None:
                raise RecipeError("rewards: 'verifier' needs RL records with a 'verifier' column")
            try:
                names = {parse_spec(spec)["name"] for spec in row_verifiers}
            except VerifierError as err:
                raise RecipeError(f"training data: {err}") from err
            check_verifier_names(names, run.allow_code_exec, "training data")
            funcs.append(VerifierReward(None, run.allow_code_exec, run.reward_workers))
        else:
            check_verifier_names({name}, run.allow_code_exec, f"rewards: {name!r}")
            funcs.append(VerifierReward({"name": name}, run.allow_code_exec, run.reward_workers))
    return funcs
