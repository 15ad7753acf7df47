"""The `code` verifier: code extraction, HumanEval program assembly, scores from real sandbox runs, CLI gating.

    pytest -q tests/test_verifiers_code.py
"""

import json

import pytest

from mixlab.cli import main as cli_main
from mixlab.verifiers import VerifierError, verify
from mixlab.verifiers.code import build_program, extract_code, verify_code_batch
from mixlab.verifiers.sandbox import available_levels

# a HumanEval-style problem whose prompt holds an import and a helper the solution relies on
PROMPT = '''from typing import List


def is_even(n: int) -> bool:
    return n % 2 == 0


def sum_even(numbers: List[int]) -> int:
    """ Sum of the even numbers.
    >>> sum_even([1, 2, 3, 4])
    6
    """
'''
TEST = '''

METADATA = {}


def check(candidate):
    assert candidate([1, 2, 3, 4]) == 6
    assert candidate([]) == 0
    assert candidate([-2, 5]) == -2
'''
SPEC = {"name": "code", "prompt": PROMPT, "test": TEST, "entry_point": "sum_even", "timeout": 5}
BODY = "    return sum(n for n in numbers if is_even(n))\n"
FULL = "def sum_even(numbers: List[int]) -> int:\n" + BODY
WRONG = "def sum_even(numbers: List[int]) -> int:\n    return sum(numbers)\n"


def fenced(code: str, tag: str = "python") -> str:
    return f"```{tag}\n{code}```"


@pytest.mark.parametrize(("response", "expected"), [
    ("Here you go:\n" + fenced(FULL) + "\nThis sums the evens.", FULL),
    (fenced("print('scratch')\n") + "\nFinal:\n" + fenced(FULL) + "\n" + fenced("sum_even([2])\n"), FULL),
    (fenced("x = 1\n") + fenced("y = 2\nz = 3\n", "py"), "y = 2\nz = 3\n"),  # none defines it: the longest
    (fenced("x = 1\n", "bash") + fenced(FULL, ""), FULL),  # unlabelled blocks when no python one
    ("<think>" + fenced(WRONG) + "</think>" + fenced(FULL), FULL),
    (BODY, BODY),
    ("<think>still thinking " + fenced(FULL), ""),  # unclosed think: no answer yet
    (fenced(FULL + "\n# truncated, no closing fence"), FULL + "\n# truncated, no closing fence"),
])
def test_extract_code(response, expected):
    assert extract_code(response, "sum_even") == expected


def test_build_program_follows_humaneval():
    program, prepended = build_program(BODY, PROMPT, TEST, "sum_even")
    assert prepended and program == PROMPT + BODY + "\n\n" + TEST + "\n\ncheck(sum_even)\n"
    program, prepended = build_program(FULL, PROMPT, TEST, "sum_even")
    assert prepended and program.startswith(PROMPT + "\n" + FULL)
    program, prepended = build_program(FULL, "Write sum_even(numbers).", TEST, "sum_even")  # prose prompt
    assert not prepended and program.startswith(FULL)
    program, _ = build_program("return sum(n for n in numbers if is_even(n))", PROMPT, TEST, "sum_even")
    assert program.startswith(PROMPT + "    return sum(")  # a flush-left body is indented under the prompt


@pytest.mark.parametrize("response", [
    fenced(FULL),
    BODY,
    "<think>the evens: 2 and 4</think>\n" + fenced(FULL),
    PROMPT + BODY,  # lm-eval style: prompt + completion as one program
    "```python\nfrom typing import List\n\ndef sum_even(numbers: List[int]) -> int:\n"
    "    return sum(n for n in numbers if n % 2 == 0)\n```",
])
def test_correct_solutions_pass(response):
    result = verify(SPEC, response, allow_code_exec=True)
    assert result.score == 1.0, result.details
    assert result.details["status"] == "ok" and result.details["isolation"] == available_levels()[0]
    assert result.details["duration_s"] > 0


@pytest.mark.parametrize(("response", "status", "message"), [
    (fenced(WRONG), "failed", "AssertionError"),
    ("    return None\n", "failed", "AssertionError"),
    ("    raise NotImplementedError\n", "failed", "NotImplementedError"),
    ("def sum_even(numbers):\n    return sum(numbers\n", "failed", "SyntaxError"),
    ("I do not know.", "failed", ""),
    ("<think>" + fenced(FULL), "failed", ""),
    ("    while True:\n        pass\n", "timeout", ""),
    ("    import os\n    os.system('true')\n    return 6\n", "failed", "sandbox: os.system is not allowed"),
    ("    return 0\n\nimport sys\nsys.exit(0)\n", "exited_early", ""),  # exit 0 before the tests run
    ("    return 0\n\nimport os\nos._exit(0)\n", "exited_early", ""),
])
def test_wrong_solutions_fail(response, status, message):
    result = verify({**SPEC, "timeout": 1}, response, allow_code_exec=True)
    assert result.score == 0.0
    assert result.details["status"] == status and message in result.details["stderr"]


def test_refused_without_permission_and_bad_specs():
    with pytest.raises(VerifierError, match="runs generated code"):
        verify(SPEC, fenced(FULL))
    for bad, message in [({"test": TEST}, "entry_point"), ({"entry_point": "f"}, "'test'"),
                         ({"test": TEST, "entry_point": "f", "timeout": -1}, "timeout"),
                         ({"test": TEST, "entry_point": "f", "prompt": 3}, "prompt")]:
        with pytest.raises(VerifierError, match=message):
            verify({"name": "code", **bad}, "x", allow_code_exec=True)


def test_batch_matches_one_by_one():
    responses = [fenced(FULL), fenced(WRONG), BODY, "    return 0\n"] * 2
    results = verify_code_batch([SPEC] * len(responses), responses, workers=4, allow_code_exec=True)
    assert [r.score for r in results] == [1.0, 0.0, 1.0, 0.0] * 2
    with pytest.raises(VerifierError, match="runs generated code"):
        verify_code_batch([SPEC], [BODY])


def write_rows(path, responses):
    rows = [{"id": "math-1", "verifier": {"name": "math", "answer": "#### 4"}, "response": "It is 4."}]
    rows += [{"id": f"code-{i}", "verifier": SPEC, "response": r} for i, r in enumerate(responses)]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def test_cli_code_row_needs_allow_code_exec(tmp_path, capsys):
    write_rows(tmp_path / "in.jsonl", [fenced(FULL), fenced(WRONG)])
    out = tmp_path / "out.jsonl"
    assert cli_main(["verify", str(tmp_path / "in.jsonl"), "--output", str(out)]) == 2
    error = capsys.readouterr().err
    assert "line 2" in error and "--allow-code-exec" in error
    assert not out.exists()
    assert cli_main(["verify", str(tmp_path / "in.jsonl"), "--output", str(out), "--allow-code-exec"]) == 0
    printed = capsys.readouterr().out
    assert f"in the sandbox: {available_levels()[0]}:" in printed
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["score"] for row in rows] == [1.0, 1.0, 0.0]
    assert rows[1]["details"]["isolation"] == available_levels()[0]
    assert rows[2]["details"]["status"] == "failed"
