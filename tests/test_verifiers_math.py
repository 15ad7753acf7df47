"""Table tests for the verifier registry, `math` (real math-verify) and `format`.

    pytest -q tests/test_verifiers_math.py
"""

import threading

import pytest

from mixlab.verifiers import VERIFIERS, VerifierError, verify

GSM8K_GOLD = ("Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.\n"
              "She makes 9 * 2 = $<<9*2=18>>18 every day at the farmer's market.\n#### 18")

MATH_CASES = [
    # (gold, response, expected score, expected method)
    (GSM8K_GOLD, "She sells 9 eggs at $2 each, so she makes $18 every day.", 1.0, "last_number"),
    (GSM8K_GOLD, "The answer is 18.", 1.0, "answer_is"),
    (GSM8K_GOLD, "9 * 2 = 18, so \\boxed{18}", 1.0, "boxed"),
    (GSM8K_GOLD, "18.0", 1.0, "last_number"),
    (GSM8K_GOLD, "She earns 9 * 2 dollars.\n#### 18", 1.0, "hash"),
    (GSM8K_GOLD, "The answer is 18 dollars.", 1.0, "answer_is"),
    (GSM8K_GOLD, "She makes $17 every day.", 0.0, "last_number"),
    (GSM8K_GOLD, "\\boxed{19}", 0.0, "boxed"),
    ("#### 1,234", "In total there are 1234 apples.", 1.0, "last_number"),
    (1234, "In total there are 1,234 apples.", 1.0, "last_number"),
    (1234, "In total there are 1,243 apples.", 0.0, "last_number"),
    ("#### -5", "The temperature drops to -5 degrees.", 1.0, "last_number"),
    ("#### -5", "The temperature drops to 5 degrees.", 0.0, "last_number"),
    ("-5", "\\boxed{-5}", 1.0, "boxed"),
    ("3.5", "It costs $3.50.", 1.0, "last_number"),
    ("#### 25", "The discount is 25%.", 1.0, "last_number"),
    (0.5, "Half of it: \\boxed{\\frac{1}{2}}", 1.0, "boxed"),
    ("\\frac{1}{2}", "\\boxed{0.5}", 1.0, "boxed"),
    ("\\frac{1}{2}", "So the probability is $\\frac{1}{2}$", 1.0, "math_verify"),
    ("\\frac{1}{2}", "\\boxed{\\frac{1}{3}}", 0.0, "boxed"),
    ("\\sqrt{2}", "The side is \\boxed{\\sqrt 2}.", 1.0, "boxed"),
    ("\\sqrt{2}", "\\boxed{2}", 0.0, "boxed"),
    ("\\frac{\\sqrt{3}}{2}", "The answer is $\\frac{\\sqrt3}{2}$.", 1.0, "answer_is"),
    ("\\boxed{\\frac{\\pi}{4}}", "We get \\boxed{\\frac{\\pi}{4}}", 1.0, "boxed"),
    ("x^8 + x^7 - x^5", "So \\boxed{x^8 + x^7 - x^5}", 1.0, "boxed"),  # a polynomial is no exponent tower
    ("x^8 + x^7 - x^5", "So \\boxed{x^8 + x^7 - x^4}", 0.0, "boxed"),
    ("p - q", "The answer is $p - q$.", 1.0, "answer_is"),
    ("p - q", "The answer is $p + q$.", 0.0, "answer_is"),
    (GSM8K_GOLD, "<think>Maybe it is 17? No: 9 * 2.</think>She makes 18 dollars.", 1.0, "last_number"),
    (GSM8K_GOLD, "<think>16 - 3 - 4 = 9, 9 * 2 = 18</think>She makes 17 dollars.", 0.0, "last_number"),
    (GSM8K_GOLD, "The answer is not obvious. 9 * 2 = 18", 1.0, "last_number"),
]


@pytest.mark.parametrize(("gold", "response", "score", "method"), MATH_CASES)
def test_math_table(gold, response, score, method):
    result = verify({"name": "math", "answer": gold}, response)
    assert (result.score, result.details["method"]) == (score, method), result.details


@pytest.mark.parametrize("response", [
    "Janet has 16 eggs and she eats three for breakfast and",  # truncated mid-sentence: last number is wrong
    "She sells the remaining eggs at the market, so",  # no number at all
    "<think>16 - 3 - 4 = 9 eggs, times 2 is 18 dollars, so the answer",  # cut inside thinking
])
def test_truncated_responses_score_zero(response):
    result = verify({"name": "math", "answer": GSM8K_GOLD}, response)
    assert result.score == 0.0
    assert result.details["gold"] == "18"


def test_unclosed_think_has_no_answer():
    result = verify({"name": "math", "answer": "#### 18"}, "<think>it is 18")
    assert result.details == {"extracted": None, "gold": "18", "method": None}


def test_math_from_worker_thread():
    results, errors = [], []

    def work():
        try:
            results.append(verify({"name": "math", "answer": "\\frac{1}{2}"}, "so \\boxed{\\frac{2}{4}}"))
            results.append(verify({"name": "math", "answer": "\\sqrt{2}"}, "\\boxed{\\sqrt{3}}"))
        except Exception as err:  # surfaced below: a thread's exception would otherwise vanish
            errors.append(err)

    worker = threading.Thread(target=work)
    worker.start()
    worker.join(timeout=60)
    assert not errors
    assert [r.score for r in results] == [1.0, 0.0]


def test_exponent_tower_is_refused_quickly():
    result = verify({"name": "math", "answer": "\\sqrt{2}"}, "\\boxed{9^{9^{9^{9}}}}")
    assert result.score == 0.0


def test_unknown_verifier_lists_known_ones():
    with pytest.raises(VerifierError, match="unknown verifier 'maths'.*format.*math"):
        verify({"name": "maths", "answer": "1"}, "1")
    assert {"math", "format"} <= set(VERIFIERS)


def test_math_without_answer_is_an_error():
    with pytest.raises(VerifierError, match="'answer'"):
        verify({"name": "math"}, "\\boxed{1}")


@pytest.mark.parametrize(("response", "score", "reason"), [
    ("<think>9 * 2 = 18</think>She makes $18.", 1.0, "ok"),
    ("\n<think>\nshort\n</think>\n\n18", 1.0, "ok"),
    ("She makes $18.", 0.0, "no_think_block"),
    ("<think>a</think><think>b</think>18", 0.0, "multiple_think_blocks"),
    ("<think>9 * 2 = 18", 0.0, "unbalanced_think_tags"),
    ("Sure. <think>x</think>18", 0.0, "text_before_think"),
    ("<think>9 * 2 = 18</think>  \n", 0.0, "empty_answer"),
])
def test_format_table(response, score, reason):
    result = verify({"name": "format"}, response)
    assert (result.score, result.details["reason"]) == (score, reason)
