"""The `ifeval` verifier on real lm-eval code, and the offline punkt_tab provisioning it needs.

    pytest -q tests/test_verifiers_ifeval.py
"""

import json
import os
import random
import subprocess
import sys
import textwrap

import pytest

from mixlab.cli import main as cli_main
from mixlab.verifiers import VerifierError, verify
from mixlab.verifiers.ifeval import lm_eval_ifeval
from mixlab.verifiers.punkt_tab import PUNKT_TAB_FILES, is_provisioned, write_punkt_tab

LOREM = "The river runs past the old mill and the farmers watch the water rise in spring"

# (instruction id, kwargs, response, strict verdict, loose verdict); loose also tries the response without its
# first line, without its last line, without both, and with every "*" removed
FAMILY_CASES = [
    ("punctuation:no_comma", {}, "No commas anywhere in this answer.", True, True),
    ("punctuation:no_comma", {}, "Sure, here you go:\nNo commas anywhere in this answer.", False, True),
    ("punctuation:no_comma", {}, "One, two, three.\nFour, five.", False, False),
    ("detectable_format:title", {}, "<<The Mill>>\n\n" + LOREM, True, True),
    ("detectable_format:title", {}, "<<>>\n" + LOREM, False, False),
    ("startend:quotation", {}, '"' + LOREM + '"', True, True),
    ("startend:quotation", {}, 'Here it is:\n"' + LOREM + '"', False, True),
    ("detectable_format:json_format", {}, '```json\n{"river": "mill"}\n```', True, True),
    ("detectable_format:json_format", {}, 'Here is the JSON:\n{"river": "mill"}', False, True),
    ("startend:end_checker", {"end_phrase": "Any other questions?"}, LOREM + ". Any other questions?", True, True),
    ("startend:end_checker", {"end_phrase": "Any other questions?"}, LOREM + ". Any other questions?**",
     False, True),
    ("startend:end_checker", {"end_phrase": "Any other questions?"}, LOREM + ". Any other questions?\nBye",
     False, True),
    ("change_case:english_lowercase", {}, LOREM.lower() + ".", True, True),
    ("change_case:english_lowercase", {}, "Sure!\n" + LOREM.lower() + ".", False, True),
    ("change_case:english_capital", {}, LOREM.upper() + ".", True, True),
    ("change_case:english_capital", {}, LOREM + ".", False, False),
    ("change_case:capital_word_frequency", {"capital_frequency": 2, "capital_relation": "at least"},
     "The RIVER runs past the OLD mill.", True, True),
    ("change_case:capital_word_frequency", {"capital_frequency": 2, "capital_relation": "less than"},
     "The RIVER runs past the OLD mill.", False, False),
    ("keywords:existence", {"keywords": ["river", "mill"]}, LOREM, True, True),
    ("keywords:existence", {"keywords": ["river", "bakery"]}, LOREM, False, False),
    ("keywords:forbidden_words", {"forbidden_words": ["bakery"]}, LOREM, True, True),
    ("keywords:forbidden_words", {"forbidden_words": ["mill"]}, LOREM, False, False),
    ("keywords:frequency", {"keyword": "the", "frequency": 3, "relation": "at least"}, LOREM, True, True),
    ("keywords:frequency", {"keyword": "the", "frequency": 3, "relation": "less than"}, LOREM, False, False),
    ("keywords:letter_frequency", {"letter": "r", "let_frequency": 5, "let_relation": "at least"}, LOREM,
     True, True),
    ("keywords:letter_frequency", {"letter": "z", "let_frequency": 1, "let_relation": "less than"}, LOREM,
     True, True),
    ("language:response_language", {"language": "fr"},
     "La rivière coule près du vieux moulin et les paysans regardent l'eau monter au printemps.", True, True),
    ("language:response_language", {"language": "fr"}, LOREM + ".", False, False),
    # Punkt must know "Dr." is an abbreviation: two sentences, not three
    ("length_constraints:number_sentences", {"num_sentences": 3, "relation": "less than"},
     "Dr. Smith went home. He was tired.", True, True),
    ("length_constraints:number_sentences", {"num_sentences": 3, "relation": "at least"},
     "Dr. Smith went home. He was tired.", False, False),
    ("length_constraints:number_words", {"num_words": 10, "relation": "at least"}, LOREM, True, True),
    ("length_constraints:number_words", {"num_words": 10, "relation": "less than"}, LOREM, False, False),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2}, "First part.\n***\nSecond part.", True, True),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2}, "First.\n***\n\n***\nSecond.", False, False),
    ("length_constraints:nth_paragraph_first_word", {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "river"},
     "The mill.\n\nRiver, water and farmers.", True, True),
    ("length_constraints:nth_paragraph_first_word", {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "river"},
     "The mill.\n\nThe river.", False, False),
    ("detectable_content:number_placeholders", {"num_placeholders": 2}, "Dear [name], see [address].", True, True),
    ("detectable_content:number_placeholders", {"num_placeholders": 3}, "Dear [name], see [address].",
     False, False),
    ("detectable_content:postscript", {"postscript_marker": "P.S."}, LOREM + ".\n\nP.S. See you soon.", True, True),
    ("detectable_content:postscript", {"postscript_marker": "P.P.S"}, LOREM + ".\n\nP.S. See you soon.",
     False, False),
    ("detectable_format:number_bullet_lists", {"num_bullets": 2}, "* river\n* mill", True, True),
    ("detectable_format:number_bullet_lists", {"num_bullets": 2}, "* river\n* mill\n- farmers", False, True),
    ("detectable_format:number_bullet_lists", {"num_bullets": 2}, "* a\n* b\n* c\n* d\n* e", False, False),
    ("detectable_format:number_highlighted_sections", {"num_highlights": 2}, "*river* and **mill**", True, True),
    ("detectable_format:number_highlighted_sections", {"num_highlights": 2}, "*river* and ** **", False, False),
    ("detectable_format:multiple_sections", {"section_spliter": "Section", "num_sections": 2},
     "Section 1\nThe river.\nSection 2\nThe mill.", True, True),
    ("detectable_format:multiple_sections", {"section_spliter": "SECTION", "num_sections": 2},
     "Section 1\nThe river.\nSection 2\nThe mill.", False, False),
    ("detectable_format:constrained_response", {}, "My answer is yes.", True, True),
    ("detectable_format:constrained_response", {}, "Yes.", False, False),
    ("combination:two_responses", {}, "The river.\n******\nThe mill.", True, True),
    ("combination:two_responses", {}, "The river.\n******\nThe river.", False, False),
    ("combination:repeat_prompt", {"prompt_to_repeat": "Describe a mill."}, "Describe a mill. It grinds grain.",
     True, True),
    ("combination:repeat_prompt", {"prompt_to_repeat": "Describe a mill."}, "A mill grinds grain.", False, False),
]


def spec(instruction_ids, kwargs, loose=False, **extra):
    return {"name": "ifeval", "instruction_id_list": instruction_ids, "kwargs": kwargs, "loose": loose, **extra}


def lm_eval_scores(doc, response):
    _, utils = lm_eval_ifeval()
    return utils.process_results(doc, [response])


def test_every_registered_instruction_has_table_cases():
    registry, _ = lm_eval_ifeval()
    assert {case[0] for case in FAMILY_CASES} == set(registry.INSTRUCTION_DICT)


@pytest.mark.parametrize(("instruction_id", "kwargs", "response", "strict", "loose"), FAMILY_CASES)
def test_instruction_family_table(instruction_id, kwargs, response, strict, loose):
    for mode, expected in (("strict", strict), ("loose", loose)):
        result = verify(spec([instruction_id], [kwargs], loose=mode == "loose"), response)
        assert result.details["follow_instruction_list"] == [expected], mode
        assert result.score == float(expected)
        doc = {"key": 1, "prompt": "", "instruction_id_list": [instruction_id], "kwargs": [kwargs]}
        assert lm_eval_scores(doc, response)[f"inst_level_{mode}_acc"] == [expected], mode


HANDWRITTEN_DOCS = [
    ({"key": 1, "prompt": "Write about a mill. No commas. Answer in lowercase.",
      "instruction_id_list": ["punctuation:no_comma", "change_case:english_lowercase"], "kwargs": [{}, {}]},
     ["the mill grinds grain all day long and the river turns its wheel.",
      "Here you go:\nthe mill grinds grain all day long and the river turns its wheel.",
      "The mill, the river, the wheel."]),
    ({"key": 2, "prompt": "Give a titled answer of at least 12 words that ends with 'Any other questions?'.",
      "instruction_id_list": ["detectable_format:title", "length_constraints:number_words", "startend:end_checker"],
      "kwargs": [{}, {"num_words": 12, "relation": "at least"}, {"end_phrase": "Any other questions?"}]},
     ["<<Mills>>\n" + LOREM + ". Any other questions?",
      "<<Mills>>\n" + LOREM + ". Any other questions?\n(I hope this helps)",
      "Mills are great. Any other questions?"]),
    ({"key": 3, "prompt": "Two bullet points in JSON? Wrap in quotes, highlight 1 section, add a P.S.",
      "instruction_id_list": ["startend:quotation", "detectable_format:number_highlighted_sections",
                              "detectable_content:postscript", "detectable_format:number_bullet_lists"],
      "kwargs": [{}, {"num_highlights": 1}, {"postscript_marker": "P.S."}, {"num_bullets": 2}]},
     ['"*The mill*\n* grinds grain\n* turns\nP.S. bye"',
      'Sure:\n"*The mill*\n* grinds grain\n* turns\nP.S. bye"',
      "* one\n* two\n* three"]),
]


@pytest.mark.parametrize(("doc", "responses"), HANDWRITTEN_DOCS)
def test_equals_lm_eval_process_results(doc, responses):
    for response in responses:
        expected = lm_eval_scores(doc, response)
        for mode in ("strict", "loose"):
            result = verify(spec(doc["instruction_id_list"], doc["kwargs"], mode == "loose", prompt=doc["prompt"]),
                            response)
            assert result.details["follow_instruction_list"] == expected[f"inst_level_{mode}_acc"]
            assert result.details["follow_all_instructions"] == expected[f"prompt_level_{mode}_acc"]
            followed = expected[f"inst_level_{mode}_acc"]
            assert result.score == pytest.approx(sum(followed) / len(followed))
            assert result.details["loose"] == (mode == "loose")
    # the table above must exercise both verdicts and a strict/loose difference
    verdicts = [lm_eval_scores(doc, r) for r in responses]
    assert {v["prompt_level_loose_acc"] for v in verdicts} == {True, False}
    assert any(v["inst_level_strict_acc"] != v["inst_level_loose_acc"] for v in verdicts)


@pytest.mark.parametrize(("response", "score"), [
    ("<think>First, list ideas, then pick one.</think>\n\nthe mill grinds grain", 1.0),
    ("<think>first, the mill</think>the mill grinds grain, slowly", 0.5),  # lowercase yes, comma no
    ("<think>the mill grinds grain and I never finish thinking", 0.0),
    ("the mill grinds grain", 1.0),
])
def test_thinking_is_stripped(response, score):
    result = verify(spec(["punctuation:no_comma", "change_case:english_lowercase"], [{}, {}]), response)
    assert result.score == score, result.details


def test_partial_score_is_fraction_followed():
    result = verify(spec(["punctuation:no_comma", "keywords:existence", "detectable_format:title"],
                         [{}, {"keywords": ["mill"]}, {}]), "The mill grinds grain.")
    assert result.details["follow_instruction_list"] == [True, True, False]
    assert result.score == pytest.approx(2 / 3)
    assert result.details["follow_all_instructions"] is False


def test_none_kwargs_are_dropped_like_lm_eval():
    hf_style = {"num_highlights": None, "relation": "less than", "num_words": 5, "keywords": None, "letter": None}
    result = verify(spec(["length_constraints:number_words"], [hf_style]), "Three short words")
    assert result.details["follow_instruction_list"] == [True]
    assert verify(spec(["length_constraints:number_words"], [hf_style]), "Now five short words here").score == 0.0
    assert verify({"name": "ifeval", "instruction_id_list": ["punctuation:no_comma"]}, "ok").score == 1.0


@pytest.mark.parametrize(("bad", "message"), [
    (spec(["punctuation:no_coma"], [{}]), "unknown instruction id 'punctuation:no_coma' (did you mean"),
    (spec(["punctuation:no_comma"], [{}, {}]), "1 instruction ids but 2 kwargs"),
    (spec([], []), "non-empty list"),
    (spec("punctuation:no_comma", [{}]), "non-empty list"),
    (spec(["punctuation:no_comma"], {}), "list of objects"),
    (spec(["punctuation:no_comma"], [{}], loose="yes"), "'loose' must be true or false"),
    (spec(["length_constraints:number_words"], [{"num_words": 5, "relation": None}]), "leave relation unset"),
    (spec(["length_constraints:number_words"], [{"num_words": 5, "relation": "about"}]), "lm-eval rejects"),
    (spec(["length_constraints:number_words"], [{"num_words": 5, "relation": "at least", "x": 1}]),
     "unexpected keyword argument 'x'"),
    (spec(["keywords:letter_frequency"], [{"letter": "#", "let_frequency": 4, "let_relation": "at least"}]),
     "leave letter unset or invalid"),
    (spec(["combination:repeat_prompt"], [{}]), "prompt_to_repeat must be set"),
])
def test_bad_specs_raise(bad, message):
    with pytest.raises(VerifierError, match="ifeval verifier") as raised:
        verify(bad, "The mill grinds grain.")
    assert message in str(raised.value)


def test_scoring_leaves_global_random_alone():
    random.seed(123)
    state = random.getstate()
    verify(spec(["keywords:existence", "language:response_language"],  # kwargs not seen before: checked afresh
                [{"keywords": ["grain", "stone"]}, {"language": "en"}]), "The mill grinds grain.")
    with pytest.raises(VerifierError):
        verify(spec(["length_constraints:number_words"], [{"num_words": 7, "relation": None}]), "x")
    assert random.getstate() == state


def test_verify_cli_writes_follow_instruction_list(tmp_path):
    row = {"verifier": spec(["punctuation:no_comma", "detectable_format:title"], [{}, {}]), "response": "a, b"}
    (tmp_path / "in.jsonl").write_text(json.dumps(row) + "\n")
    assert cli_main(["verify", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "out.jsonl")]) == 0
    out = json.loads((tmp_path / "out.jsonl").read_text())
    assert out["score"] == 0.0
    assert out["details"]["follow_instruction_list"] == [False, False]


def test_written_punkt_tab_loads_in_nltk_as_the_bundled_model(tmp_path):
    import nltk
    import punkt
    from nltk.tokenize.punkt import PunktTokenizer, load_punkt_params

    write_punkt_tab(tmp_path)
    assert is_provisioned(tmp_path)
    assert sorted(p.name for p in (tmp_path / "tokenizers/punkt_tab/english").iterdir()) == sorted(PUNKT_TAB_FILES)
    nltk.data.path.insert(0, str(tmp_path))
    try:
        loaded = load_punkt_params(nltk.data.find("tokenizers/punkt_tab/english/"))
        bundled = punkt.load_model("english")
        assert loaded.abbrev_types == set(bundled.abbrev_types) and "dr" in loaded.abbrev_types
        assert loaded.collocations == set(bundled.collocations)
        assert loaded.sent_starters == set(bundled.sent_starters)
        assert dict(loaded.ortho_context) == dict(bundled.ortho_context)
        text = "Dr. Smith met Mr. Jones at 3 p.m. in Washington. They talked. It went well, e.g. on prices."
        assert PunktTokenizer("english").tokenize(text) == punkt.sent_tokenize(text)
    finally:
        nltk.data.path.remove(str(tmp_path))


OFFLINE_SCRIPT = textwrap.dedent("""
    import json, sys
    attempts = []
    def no_network(event, args):
        if event in ("socket.connect", "socket.getaddrinfo", "urllib.Request"):
            attempts.append(event)
            raise OSError("network blocked")
    sys.addaudithook(no_network)
    import nltk
    nltk.data.path[:] = []  # only the directory mixlab provisions may satisfy the lookups
    if sys.argv[1] == "provisioned":
        from mixlab.verifiers import verify
        spec = {"name": "ifeval", "instruction_id_list": ["length_constraints:number_sentences"],
                "kwargs": [{"num_sentences": 3, "relation": "less than"}]}
        print(json.dumps({"score": verify(spec, "Dr. Smith went home. He was tired.").score,
                          "sentences": nltk.sent_tokenize("Dr. Smith went home. He was tired."),
                          "path": nltk.data.path[0], "attempts": attempts}))
    else:
        import lm_eval.tasks.ifeval.instructions_util
        print(json.dumps({"attempts": attempts}))
""")


def run_offline(mode, data_dir):
    env = {**os.environ, "MIXLAB_NLTK_DATA": str(data_dir), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", OFFLINE_SCRIPT, mode], env=env, capture_output=True, text=True,
                          timeout=120, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_first_use_provisions_punkt_tab_without_network(tmp_path):
    out = run_offline("provisioned", tmp_path / "nltk_data")
    assert out == {"score": 1.0, "sentences": ["Dr. Smith went home.", "He was tired."],
                   "path": str(tmp_path / "nltk_data"), "attempts": []}
    assert is_provisioned(tmp_path / "nltk_data")
    # control: without the files, importing lm-eval's IFEval util tries nltk.download("punkt_tab")
    assert run_offline("bare", tmp_path / "unused")["attempts"]
