"""Attach IFEval-style verifiable constraints to an instruction prompt (the Tülu 3 RLVR recipe), for synth and RL data.

    import random
    from mixlab.verifiers.constraints import sample_constraints
    text, verifier = sample_constraints("Write a short story about a lighthouse.", random.Random(7))
    prompt = "Write a short story about a lighthouse. " + text   # the RL record's user turn
    # verifier == {"name": "ifeval", "instruction_id_list": [...], "kwargs": [...], "loose": False}

Instruction ids come from lm-eval's IFEval registry, and their arguments and wording from the instruction classes'
own `build_description` (run with Python's global `random` seeded from `rng` and restored afterwards, under the
lock the ifeval verifier uses). Chosen ids never conflict: lm-eval's INSTRUCTION_CONFLICTS made symmetric, plus
a few pairs it misses that no response can satisfy together (EXTRA_CONFLICTS), at most one length constraint, and
no word both required and forbidden. Argument draws lm-eval allows but no response can meet (paragraph n of n-1,
fewer than 1 sentence) are redrawn.
"""

from __future__ import annotations

import copy
import functools
import random
from collections.abc import Iterable

from mixlab.verifiers.ifeval import _global_random_lock, lm_eval_ifeval

LENGTH_PREFIX = "length_constraints:"
EXTRA_CONFLICTS = {  # the section check is case-sensitive ("Section 1" / "SECTION 1")
    "change_case:english_lowercase": {"detectable_format:multiple_sections"},
    "change_case:english_capital": {"detectable_format:multiple_sections"},
}
MAX_DRAWS = 20


@functools.cache
def conflicts() -> dict[str, frozenset[str]]:
    """Symmetric conflict sets: lm-eval's INSTRUCTION_CONFLICTS through its own conflict_make, plus ours."""
    registry, _ = lm_eval_ifeval()
    table = copy.deepcopy(registry.INSTRUCTION_CONFLICTS)  # conflict_make mutates its argument
    for instruction_id, others in EXTRA_CONFLICTS.items():
        table[instruction_id] |= others
    lengths = {i for i in registry.INSTRUCTION_DICT if i.startswith(LENGTH_PREFIX)}
    for instruction_id in lengths:
        table[instruction_id] |= lengths
    return {i: frozenset(others) for i, others in registry.conflict_make(table).items()}


def build_instruction(instruction_id: str, seed: int, **fixed) -> tuple[str, dict]:
    """(description, kwargs) from lm-eval's build_description with the global random seeded to `seed`."""
    registry, _ = lm_eval_ifeval()
    instruction = registry.INSTRUCTION_DICT[instruction_id](instruction_id)
    with _global_random_lock:
        state = random.getstate()
        random.seed(seed)
        try:
            description = instruction.build_description(**fixed)
        finally:
            random.setstate(state)
    return description, dict(instruction.get_instruction_args() or {})


def required_words(instruction_id: str, kwargs: dict) -> set[str]:
    if instruction_id == "keywords:existence":
        return {w.lower() for w in kwargs["keywords"]}
    if instruction_id == "keywords:frequency" and kwargs["relation"] == "at least":
        return {kwargs["keyword"].lower()}
    if instruction_id == "length_constraints:nth_paragraph_first_word":
        return {kwargs["first_word"].lower()}
    return set()


def satisfiable(instruction_id: str, kwargs: dict, chosen: list[tuple[str, dict]]) -> bool:
    """False for draws no response can meet, alone or together with the constraints already chosen."""
    if instruction_id == "length_constraints:nth_paragraph_first_word" \
            and kwargs["nth_paragraph"] > kwargs["num_paragraphs"]:
        return False
    if instruction_id == "length_constraints:number_sentences" \
            and kwargs["relation"] == "less than" and kwargs["num_sentences"] <= 1:
        return False
    everything = [*chosen, (instruction_id, kwargs)]
    required = set().union(*(required_words(i, k) for i, k in everything))
    forbidden = {w.lower() for i, k in everything if i == "keywords:forbidden_words" for w in k["forbidden_words"]}
    return not required & forbidden


def sample_constraints(prompt_text: str, rng: random.Random, k: int | None = None, *,
                       allowed: Iterable[str] | None = None) -> tuple[str, dict]:
    """(instruction text to append to the prompt, `ifeval` verifier spec) with up to `k` compatible constraints.

    `k` defaults to a draw from 1..3; fewer are returned when conflicts leave no candidate (e.g. after
    `detectable_format:constrained_response`, which conflicts with everything). `allowed` limits the ids.
    """
    registry, _ = lm_eval_ifeval()
    candidates = sorted(allowed if allowed is not None else registry.INSTRUCTION_DICT)
    unknown = set(candidates) - set(registry.INSTRUCTION_DICT)
    if unknown:
        raise ValueError(f"unknown IFEval instruction ids: {sorted(unknown)}")
    if not prompt_text.strip():  # nothing to repeat
        candidates = [i for i in candidates if i != "combination:repeat_prompt"]
    k = rng.randint(1, 3) if k is None else k
    chosen: list[tuple[str, dict]] = []
    descriptions: list[str] = []
    while len(chosen) < k and candidates:
        instruction_id = rng.choice(candidates)
        candidates.remove(instruction_id)
        fixed = {"prompt_to_repeat": prompt_text} if instruction_id == "combination:repeat_prompt" else {}
        for _ in range(MAX_DRAWS):
            description, kwargs = build_instruction(instruction_id, rng.getrandbits(64), **fixed)
            if satisfiable(instruction_id, kwargs, chosen):
                chosen.append((instruction_id, kwargs))
                descriptions.append(description)
                candidates = [c for c in candidates if c not in conflicts()[instruction_id]]
                break
    verifier = {"name": "ifeval", "instruction_id_list": [i for i, _ in chosen],
                "kwargs": [kwargs for _, kwargs in chosen], "loose": False}
    return " ".join(descriptions), verifier
