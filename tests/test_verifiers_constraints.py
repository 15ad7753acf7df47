"""IFEval constraint sampling for RL prompts: compatible ids, lm-eval's own wording, specs that the verifier scores.

    pytest -q tests/test_verifiers_constraints.py
"""

import random

import pytest

from mixlab.verifiers import verify
from mixlab.verifiers.constraints import sample_constraints
from mixlab.verifiers.ifeval import lm_eval_ifeval

PROMPT = "Write a short note about a trip to the seaside."
SEEDS = range(300)
# no word of lm-eval's keyword list (forbidden words are drawn from it), so it never breaks a forbidden_words draw
BODY = ("we spent hours strolling along the harbour and chatting about novels that our grandparents had kept on "
        "shelves in their cottage as gulls circled above small boats near lighthouses. the tide rose slowly and "
        "we returned happy.")


def lm_eval_conflicts():
    """Symmetric conflicts computed straight from lm-eval's table (independently of the module under test)."""
    registry, _ = lm_eval_ifeval()
    table = {key: set(value) for key, value in registry.INSTRUCTION_CONFLICTS.items()}
    return registry.conflict_make(table)


@pytest.fixture(scope="module")
def samples():
    return [sample_constraints(PROMPT, random.Random(seed)) for seed in SEEDS]


def test_sampled_ids_never_conflict(samples):
    conflicts = lm_eval_conflicts()
    for _, verifier in samples:
        ids = verifier["instruction_id_list"]
        assert 1 <= len(ids) <= 3 and len(set(ids)) == len(ids)
        assert sum(i.startswith("length_constraints:") for i in ids) <= 1
        for a in ids:
            for b in ids:
                assert a == b or b not in conflicts[a], (a, b)


def test_samples_cover_the_registry_and_vary_in_size(samples):
    registry, _ = lm_eval_ifeval()
    seen = {i for _, verifier in samples for i in verifier["instruction_id_list"]}
    assert seen == set(registry.INSTRUCTION_DICT)
    assert {len(verifier["instruction_id_list"]) for _, verifier in samples} == {1, 2, 3}


def test_text_is_lm_evals_wording_and_spec_round_trips(samples):
    registry, _ = lm_eval_ifeval()
    for text, verifier in samples[:60]:
        assert set(verifier) == {"name", "instruction_id_list", "kwargs", "loose"} and verifier["name"] == "ifeval"
        rebuilt = []
        for instruction_id, kwargs in zip(verifier["instruction_id_list"], verifier["kwargs"]):
            instruction = registry.INSTRUCTION_DICT[instruction_id](instruction_id)
            rebuilt.append(instruction.build_description(**kwargs))
        assert text == " ".join(rebuilt)
        result = verify(verifier, PROMPT + " " + text)  # a spec the verifier accepts (no VerifierError)
        assert len(result.details["follow_instruction_list"]) == len(verifier["instruction_id_list"])


def test_draws_are_satisfiable(samples):
    for _, verifier in samples:
        spec = dict(zip(verifier["instruction_id_list"], verifier["kwargs"]))
        if "length_constraints:nth_paragraph_first_word" in spec:
            kwargs = spec["length_constraints:nth_paragraph_first_word"]
            assert kwargs["nth_paragraph"] <= kwargs["num_paragraphs"]
        if "keywords:forbidden_words" in spec:
            forbidden = set(spec["keywords:forbidden_words"]["forbidden_words"])
            assert not forbidden & set(spec.get("keywords:existence", {}).get("keywords", []))
            assert spec.get("length_constraints:nth_paragraph_first_word", {}).get("first_word") not in forbidden


def test_same_seed_same_constraints_and_global_random_untouched():
    random.seed(5)
    state = random.getstate()
    first = sample_constraints(PROMPT, random.Random(42), k=3)
    assert random.getstate() == state
    assert sample_constraints(PROMPT, random.Random(42), k=3) == first
    assert len({str(sample_constraints(PROMPT, random.Random(s), k=3)) for s in range(20)}) >= 15


def test_k_and_allowed():
    only = ["punctuation:no_comma", "detectable_format:title"]
    text, verifier = sample_constraints(PROMPT, random.Random(0), k=3, allowed=only)
    assert sorted(verifier["instruction_id_list"]) == sorted(only)  # only two are allowed
    pair = ["detectable_format:constrained_response", "punctuation:no_comma"]  # the first conflicts with all
    drawn = [sample_constraints(PROMPT, random.Random(s), k=3, allowed=pair)[1]["instruction_id_list"]
             for s in range(10)]
    assert all(len(ids) == 1 for ids in drawn) and {ids[0] for ids in drawn} == set(pair)
    _, verifier = sample_constraints("  ", random.Random(0), k=1, allowed=["combination:repeat_prompt"])
    assert verifier["instruction_id_list"] == []  # nothing to repeat
    with pytest.raises(ValueError, match="unknown IFEval instruction ids"):
        sample_constraints(PROMPT, random.Random(0), allowed=["punctuation:no_coma"])


def test_repeat_prompt_repeats_the_prompt_text():
    _, verifier = sample_constraints(PROMPT, random.Random(0), k=1, allowed=["combination:repeat_prompt"])
    assert verifier["kwargs"] == [{"prompt_to_repeat": PROMPT}]
    assert verify(verifier, PROMPT + " It was sunny.").score == 1.0


SIMPLE = ["punctuation:no_comma", "change_case:english_lowercase", "change_case:english_capital",
          "startend:end_checker", "detectable_content:postscript", "detectable_format:title",
          "detectable_format:number_highlighted_sections", "keywords:existence", "keywords:forbidden_words",
          "startend:quotation", "detectable_content:number_placeholders"]


def satisfying_response(verifier) -> str:
    """A response built to follow every (simple) constraint of `verifier`."""
    spec = dict(zip(verifier["instruction_id_list"], verifier["kwargs"]))
    parts = [BODY]
    if "detectable_format:title" in spec:
        parts.insert(0, "<<a day by the sea>>")
    if "keywords:existence" in spec:
        parts.append("we also noticed " + " and ".join(spec["keywords:existence"]["keywords"]) + ".")
    for n in range(spec.get("detectable_format:number_highlighted_sections", {}).get("num_highlights", 0)):
        parts.append(f"*highlight number {n + 1}*")
    parts.append(" ".join("[place]" for _ in range(
        spec.get("detectable_content:number_placeholders", {}).get("num_placeholders", 0))))
    if "detectable_content:postscript" in spec:
        parts.append(spec["detectable_content:postscript"]["postscript_marker"] + " we will go back soon.")
    if "startend:end_checker" in spec:
        parts.append(spec["startend:end_checker"]["end_phrase"])
    text = "\n\n".join(p for p in parts if p)
    if "change_case:english_lowercase" in spec:
        text = text.lower()
    if "change_case:english_capital" in spec:
        text = text.upper()
    if "startend:quotation" in spec:
        text = f'"{text}"'
    return text


def test_built_responses_satisfy_simple_constraints():
    assert "," not in BODY
    for seed in range(150):
        _, verifier = sample_constraints(PROMPT, random.Random(seed), allowed=SIMPLE)
        response = satisfying_response(verifier)
        result = verify(verifier, response)
        assert result.score == 1.0, (verifier, response, result.details)
        # and a response that ignores them fails at least one (each simple constraint is checkable)
        assert verify(verifier, "Sure, " + BODY.capitalize() + " Thanks, bye").score < 1.0 or all(
            i in ("keywords:forbidden_words", "detectable_content:number_placeholders")
            for i in verifier["instruction_id_list"]), verifier
