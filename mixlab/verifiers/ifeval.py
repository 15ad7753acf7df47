"""The `ifeval` verifier: does a response follow IFEval-style instructions? Scored by lm-eval's own IFEval code.

    verify({"name": "ifeval", "instruction_id_list": ["punctuation:no_comma", "length_constraints:number_words"],
            "kwargs": [{}, {"relation": "less than", "num_words": 50}]}, "A short answer without commas.")
    # Result(score=1.0, details={"follow_instruction_list": [True, True], "follow_all_instructions": True, ...})

Spec: `instruction_id_list` (ids of lm-eval's `INSTRUCTION_DICT`), `kwargs` (one object per id; None values are
dropped, as lm-eval does; omitted = all `{}`), `loose` (default false: strict), optional `prompt` (passed to
instructions that take one, as lm-eval does). Score = fraction of instructions followed; details carry
`follow_instruction_list` (in `instruction_id_list` order), `follow_all_instructions` (IFEval's prompt-level
verdict) and `loose`. Scoring calls lm-eval's `test_instruction_following_strict/loose` itself, so it agrees with
lm-eval by construction; `<think>…</think>` is stripped first (as in the math verifier).

Where lm-eval would fill a missing or invalid argument at random (e.g. no `num_words`), the spec is refused with a
VerifierError instead: a reward must not be a coin flip. langdetect (used by the language and case checks) is
seeded so that the same response always gets the same score.
"""

from __future__ import annotations

import difflib
import functools
import json
import random
import threading

from mixlab.verifiers import register
from mixlab.verifiers.base import Result, VerifierError
from mixlab.verifiers.math import strip_thinking

SEEDS_FOR_DETERMINISM_CHECK = (0, 1, 2, 3)
MAX_CACHED_SPECS = 100_000
_global_random_lock = threading.Lock()
_spec_problems: dict[str, str | None] = {}


@functools.cache
def lm_eval_ifeval():
    """lm-eval's IFEval (instructions_registry, utils) modules, imported once the punkt_tab files are in place."""
    from mixlab.verifiers.punkt_tab import ensure_punkt_tab

    ensure_punkt_tab()  # before the import: instructions_util calls nltk.download("punkt_tab") when it is missing
    import langdetect
    from lm_eval.tasks.ifeval import instructions_registry, utils

    langdetect.DetectorFactory.seed = 0
    return instructions_registry, utils


def instruction_ids() -> list[str]:
    """Every instruction id the verifier accepts (lm-eval's registry)."""
    registry, _ = lm_eval_ifeval()
    return sorted(registry.INSTRUCTION_DICT)


def _built_args(instruction_cls, instruction_id: str, kwargs: dict, seed: int) -> dict:
    """The instruction's arguments after lm-eval's build_description with the global random seeded to `seed`."""
    state = random.getstate()
    random.seed(seed)
    try:
        instruction = instruction_cls(instruction_id)
        instruction.build_description(**kwargs)
        return instruction.get_instruction_args() or {}
    finally:
        random.setstate(state)


def spec_problem(instruction_id: str, kwargs: dict) -> str | None:
    """Why lm-eval could not build `instruction_id` from `kwargs` deterministically, or None when it can."""
    key = json.dumps([instruction_id, kwargs], sort_keys=True, default=repr)
    if key not in _spec_problems:
        if len(_spec_problems) >= MAX_CACHED_SPECS:
            _spec_problems.clear()
        registry, _ = lm_eval_ifeval()
        instruction_cls = registry.INSTRUCTION_DICT[instruction_id]
        given = {name: value for name, value in kwargs.items() if value}  # lm-eval drops None (and other falsy)
        with _global_random_lock:
            try:
                builds = [_built_args(instruction_cls, instruction_id, given, seed)
                          for seed in SEEDS_FOR_DETERMINISM_CHECK]
            except (TypeError, ValueError) as err:
                _spec_problems[key] = f"lm-eval rejects kwargs {kwargs}: {err}"
                return _spec_problems[key]
        varying = sorted({name for build in builds for name in build if build.get(name) != builds[0].get(name)})
        missing = [name for name in instruction_cls(instruction_id).get_instruction_args_keys() if name not in given]
        unset = sorted(set(varying) | set(missing))
        _spec_problems[key] = (f"kwargs {kwargs} leave {', '.join(unset)} unset or invalid, so lm-eval would pick "
                               "random values") if unset else None
    return _spec_problems[key]


def parse_spec(verifier: dict) -> tuple[list[str], list[dict], bool, str]:
    """(instruction ids, kwargs, loose, prompt) from a verifier spec, or VerifierError naming what is wrong."""
    registry, _ = lm_eval_ifeval()
    ids = verifier.get("instruction_id_list")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise VerifierError("ifeval verifier needs 'instruction_id_list': a non-empty list of instruction ids")
    for instruction_id in ids:
        if instruction_id not in registry.INSTRUCTION_DICT:
            close = difflib.get_close_matches(instruction_id, registry.INSTRUCTION_DICT, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(instruction_ids())})"
            raise VerifierError(f"ifeval verifier: unknown instruction id {instruction_id!r}{hint}")
    kwargs = verifier.get("kwargs", [{} for _ in ids])
    if not isinstance(kwargs, list) or not all(isinstance(k, dict) for k in kwargs):
        raise VerifierError("ifeval verifier 'kwargs' must be a list of objects, one per instruction id")
    if len(kwargs) != len(ids):
        raise VerifierError(f"ifeval verifier has {len(ids)} instruction ids but {len(kwargs)} kwargs objects")
    loose = verifier.get("loose", False)
    if not isinstance(loose, bool):
        raise VerifierError(f"ifeval verifier 'loose' must be true or false, got {loose!r}")
    prompt = verifier.get("prompt") or ""
    if not isinstance(prompt, str):
        raise VerifierError(f"ifeval verifier 'prompt' must be a string, got {type(prompt).__name__}")
    for instruction_id, instruction_kwargs in zip(ids, kwargs):
        problem = spec_problem(instruction_id, instruction_kwargs)
        if problem:
            raise VerifierError(f"ifeval verifier, instruction {instruction_id!r}: {problem}")
    return ids, kwargs, loose, prompt


def answer_text(response: str) -> str:
    """The response without its thinking; the answer's leading whitespace goes too when thinking was removed."""
    answer = strip_thinking(response)
    return answer.lstrip() if answer != response else answer


@register("ifeval")
def verify_ifeval(verifier: dict, response: str) -> Result:
    """Score = fraction of the spec's instructions that `response` follows, by lm-eval's strict or loose test."""
    ids, kwargs, loose, prompt = parse_spec(verifier)
    _, utils = lm_eval_ifeval()
    example = utils.InputExample(key=0, instruction_id_list=ids, prompt=prompt, kwargs=kwargs)
    test = utils.test_instruction_following_loose if loose else utils.test_instruction_following_strict
    outcome = test(example, answer_text(response))
    followed = [bool(f) for f in outcome.follow_instruction_list]
    return Result(sum(followed) / len(followed), {
        "follow_instruction_list": followed,
        "follow_all_instructions": bool(outcome.follow_all_instructions),
        "loose": loose,
    })
