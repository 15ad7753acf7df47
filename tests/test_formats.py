"""Tests for mixlab.formats: each input format → its exact canonical record, and each row error.

Run: .venv/bin/pytest tests/test_formats.py -q
"""

from __future__ import annotations

import json

import pytest

from mixlab.formats import FORMATS, NormaliseError, describe_formats, detect_format, normalise
from mixlab.schema import record_kind, record_to_document, stable_id


def user(text: str) -> dict:
    return {"role": "user", "content": text}


def assistant(text: str) -> dict:
    return {"role": "assistant", "content": text}


def system(text: str) -> dict:
    return {"role": "system", "content": text}


HH_SHARED = "\n\nHuman: Hi there\n\nAssistant: Hello! How can I help?\n\nHuman: What is 2+2?"
HH_CHOSEN = HH_SHARED + "\n\nAssistant: 4."
HH_REJECTED = HH_SHARED + "\n\nAssistant: 5."
PARIS = {"prompt": [user("Capital of France?")], "chosen": [assistant("Paris.")],
         "rejected": [assistant("Lyon.")]}
CODE_VERIFIER = {"name": "code", "tests": ["assert f(1) == 2"]}

# (input row, expected format, expected record fields besides id/source/meta)
CASES = [
    ({"messages": [system("Be brief."), user("Hi"), assistant("Hello")]}, "messages",
     {"messages": [system("Be brief."), user("Hi"), assistant("Hello")]}),
    ({"conversations": [{"from": "system", "value": "S"}, {"from": "human", "value": "Q1"},
                        {"from": "gpt", "value": "A1"}, {"from": "user", "value": "Q2"},
                        {"from": "chatgpt", "value": "A2"}, {"from": "Human", "value": "Q3"},
                        {"from": "bard", "value": "A3"}, {"from": "bing", "value": "A4"},
                        {"from": "model", "value": "A5"}]}, "sharegpt",
     {"messages": [system("S"), user("Q1"), assistant("A1"), user("Q2"), assistant("A2"), user("Q3"),
                   assistant("A3"), assistant("A4"), assistant("A5")]}),
    ({"instruction": "Translate.", "input": "Bonjour", "output": "Hello"}, "alpaca",
     {"messages": [user("Translate.\n\nBonjour"), assistant("Hello")]}),
    ({"instruction": "Name a colour.", "input": "", "output": "Blue"}, "alpaca",
     {"messages": [user("Name a colour."), assistant("Blue")]}),
    ({"instruction": "Name a colour.", "output": "Red"}, "alpaca",
     {"messages": [user("Name a colour."), assistant("Red")]}),
    ({"prompt": "Why is the sky blue?", "response": "Rayleigh scattering."}, "prompt_response",
     {"messages": [user("Why is the sky blue?"), assistant("Rayleigh scattering.")]}),
    ({"prompt": "2+2=", "completion": "4"}, "prompt_completion",
     {"messages": [user("2+2="), assistant("4")]}),
    ({"prompt": [system("Math tutor."), user("2+2?")], "completion": [assistant("4")]}, "prompt_completion",
     {"messages": [system("Math tutor."), user("2+2?"), assistant("4")]}),
    ({"question": "Tom has 3 apples and buys 2. How many?", "answer": "3+2=5\n#### 5"}, "question_answer",
     {"messages": [user("Tom has 3 apples and buys 2. How many?"), assistant("3+2=5\n#### 5")]}),
    ({"prompt": "Capital of France?", "chosen": "Paris.", "rejected": "Lyon."}, "preference", PARIS),
    (dict(PARIS), "preference", PARIS),
    ({"chosen": [user("Capital?"), assistant("Paris.")], "rejected": [user("Capital?"), assistant("Lyon.")]},
     "preference",
     {"prompt": [user("Capital?")], "chosen": [assistant("Paris.")], "rejected": [assistant("Lyon.")]}),
    ({"chosen": HH_CHOSEN, "rejected": HH_REJECTED}, "hh",
     {"prompt": [user("Hi there"), assistant("Hello! How can I help?"), user("What is 2+2?")],
      "chosen": [assistant("4.")], "rejected": [assistant("5.")]}),
    ({"prompt": "Solve 3*4.", "verifier": {"name": "math", "answer": "12"}}, "rl",
     {"prompt": [user("Solve 3*4.")], "verifier": {"name": "math", "answer": "12"}}),
    ({"prompt": [user("Write a function.")], "verifier": CODE_VERIFIER}, "rl",
     {"prompt": [user("Write a function.")], "verifier": CODE_VERIFIER}),
]


@pytest.mark.parametrize(("row", "fmt", "fields"), CASES, ids=[f"{c[1]}-{i}" for i, c in enumerate(CASES)])
def test_each_format_gives_exact_record(row, fmt, fields):
    assert detect_format(row) == fmt
    record = normalise(row, fmt, source="src", row_id="rid")
    assert record == {"id": "rid", "source": "src", **fields, "meta": {}}
    doc = record_to_document(record, order=0)  # the record is usable by the rest of the pipeline
    assert doc.metadata["kind"] == record_kind(record).value


def test_every_format_has_a_case_and_a_description():
    assert {fmt for _, fmt, _ in CASES} == set(FORMATS)
    described = describe_formats().splitlines()
    assert [line.split(":")[0].strip() for line in described] == list(FORMATS)


def test_detection_prefers_most_specific_format():
    assert detect_format({"chosen": HH_CHOSEN, "rejected": HH_REJECTED}) == "hh"
    assert detect_format({"prompt": "p", "chosen": HH_CHOSEN, "rejected": HH_REJECTED}) == "preference"
    assert detect_format({"prompt": "p", "completion": "c", "verifier": {"name": "math"}}) == "rl"
    assert detect_format({"prompt": "p", "completion": "c", "chosen": "a", "rejected": "b"}) == "preference"
    assert detect_format({"prompt": "p", "completion": "c"}) == "prompt_completion"
    assert detect_format({"text": "just text"}) is None
    assert detect_format({"messages": None, "text": "x"}) is None  # a null column counts as absent


def test_meta_keeps_unconsumed_fields_and_id_comes_from_input():
    row = {"id": 42, "source": "upstream", "messages": [user("q"), assistant("a")], "lang": "en",
           "tags": ["x", {"nested": [1, 2.5, None]}], "score": 0.75}
    record = normalise(row, "messages", source="cli-source", row_id="fallback")
    assert record["id"] == "42"
    assert record["source"] == "cli-source"
    assert record["meta"] == {"source": "upstream", "lang": "en", "tags": ["x", {"nested": [1, 2.5, None]}],
                              "score": 0.75}
    json.dumps(record)  # the whole record is JSON-able


def test_meta_from_mixlab_parquet_is_merged_not_nested():
    row = {"id": "a1", "source": "s", "messages": [user("q"), assistant("a")],
           "meta": json.dumps({"lang": "en", "turns": 2})}
    meta = normalise(row, "messages", source="s", row_id="r")["meta"]
    assert meta == {"lang": "en", "turns": 2, "source": "s"}


def test_non_json_values_in_meta_become_text():
    import datetime

    row = {"messages": [user("q"), assistant("a")], "when": datetime.date(2024, 5, 1)}
    assert normalise(row, "messages", source="s", row_id="r")["meta"] == {"when": "2024-05-01"}


def test_stable_hash_id_when_input_has_none():
    row = {"prompt": "p", "response": "r"}
    first = normalise(row, "prompt_response", source="s", row_id=stable_id("data/a.jsonl", 3))
    again = normalise(dict(row), "prompt_response", source="s", row_id=stable_id("data/a.jsonl", 3))
    other = normalise(row, "prompt_response", source="s", row_id=stable_id("data/a.jsonl", 4))
    assert first["id"] == again["id"] != other["id"]
    assert normalise({**row, "id": ""}, "prompt_response", source="s", row_id="fb")["id"] == "fb"
    assert normalise({**row, "id": None}, "prompt_response", source="s", row_id="fb")["id"] == "fb"


def test_field_map_renames_input_fields():
    row = {"conversation": [user("q"), assistant("a")], "uid": "u-1", "note": "kept"}
    field_map = {"messages": "conversation", "id": "uid"}
    assert detect_format(row) is None
    assert detect_format(row, field_map) == "messages"
    record = normalise(row, "messages", field_map=field_map, source="s", row_id="r")
    assert record == {"id": "u-1", "source": "s", "messages": [user("q"), assistant("a")],
                      "meta": {"note": "kept"}}


def test_question_answer_as_rl_keeps_gold_answer():
    row = {"question": "What is 6*7?", "answer": "6*7 = 42\n#### 42", "level": 1}
    record = normalise(row, "question_answer", source="gsm", row_id="r", kind="rl")
    assert record == {"id": "r", "source": "gsm", "prompt": [user("What is 6*7?")],
                      "verifier": {"name": "math", "answer": "6*7 = 42\n#### 42"}, "meta": {"level": 1}}
    assert record_kind(record).value == "rl"
    numeric = normalise({"question": "q", "answer": 12}, "question_answer", source="s", row_id="r", kind="rl")
    assert numeric["verifier"] == {"name": "math", "answer": "12"}
    with pytest.raises(ValueError, match="cannot produce 'rl'"):
        normalise({"messages": []}, "messages", source="s", row_id="r", kind="rl")


def test_hh_multi_turn_split_and_identical_pairs():
    same = "\n\nHuman: Hi\n\nAssistant: Hey"
    record = normalise({"chosen": same, "rejected": same}, "hh", source="s", row_id="r")
    assert (record["prompt"], record["chosen"], record["rejected"]) == ([user("Hi")], [assistant("Hey")],
                                                                         [assistant("Hey")])
    # the pair diverges at a user turn: completions start at the last shared assistant turn
    chosen = "\n\nHuman: A\n\nAssistant: B\n\nHuman: C\n\nAssistant: D"
    rejected = "\n\nHuman: A\n\nAssistant: B\n\nHuman: X\n\nAssistant: Y"
    record = normalise({"chosen": chosen, "rejected": rejected}, "hh", source="s", row_id="r")
    assert record["prompt"] == [user("A")]
    assert record["chosen"] == [assistant("B"), user("C"), assistant("D")]
    assert record["rejected"] == [assistant("B"), user("X"), assistant("Y")]


def test_implicit_prompt_multi_turn():
    shared = [system("S"), user("Q1"), assistant("A1"), user("Q2")]
    row = {"chosen": shared + [assistant("good")], "rejected": shared + [assistant("bad")]}
    record = normalise(row, "preference", source="s", row_id="r")
    assert record["prompt"] == shared
    assert record["chosen"] == [assistant("good")] and record["rejected"] == [assistant("bad")]


@pytest.mark.parametrize(("row", "fmt", "error"), [
    ({"messages": "hello"}, "messages", "wrong_type:messages (expected list, got str)"),
    ({"messages": [{"role": "tool", "content": "x"}]}, "messages", "bad_role:tool"),
    ({"messages": [{"role": "user", "content": 5}]}, "messages",
     "wrong_type:messages.content (expected str, got int)"),
    ({"messages": [{"role": "user"}]}, "messages", "missing_field:messages.content"),
    ({"messages": ["hi"]}, "messages", "wrong_type:messages[] (expected object, got str)"),
    ({"conversations": [{"from": "robot", "value": "x"}]}, "sharegpt", "bad_role:robot"),
    ({"text": "a", "label": 1}, "messages", "unknown_schema (fields: text, label)"),
    ({"instruction": "do"}, "alpaca", "missing_field:output"),
    ({"instruction": "do", "input": 3, "output": "x"}, "alpaca", "wrong_type:input (expected str, got int)"),
    ({"prompt": "p", "response": None, "x": 1}, "prompt_response", "missing_field:response"),
    ({"prompt": 1, "completion": "c"}, "prompt_completion",
     "wrong_type:prompt (expected str or list, got int)"),
    ({"chosen": "a", "rejected": "b"}, "preference", "missing_field:prompt"),
    ({"chosen": [assistant("a")], "rejected": [assistant("b")]}, "preference",
     "missing_field:prompt (chosen and rejected share no leading turns)"),
    ({"chosen": "no markers", "rejected": "\n\nHuman: a\n\nAssistant: b"}, "hh",
     "wrong_type:chosen (expected '\\n\\nHuman: ...\\n\\nAssistant: ...' turns)"),
    ({"prompt": "p", "verifier": "math"}, "rl", "wrong_type:verifier (expected object, got str)"),
    ({"prompt": "p", "verifier": {"answer": "1"}}, "rl", "missing_field:verifier.name"),
])
def test_normalise_errors(row, fmt, error):
    with pytest.raises(NormaliseError) as caught:
        normalise(row, fmt, source="s", row_id="r")
    assert caught.value.error == error


JSON_VALUES = [{}, [], {"b": 1, "a": "é", "c": [1, 2.5, None, True]}, {"x": float("nan")}, {1: 2, 3: (1, 2)},
               [{}], {"n": {"m": {}}}, {"deep": json.loads("[" * 40 + "]" * 40)}]


@pytest.mark.parametrize("value", JSON_VALUES)
def test_meta_fast_paths_encode_as_json_dumps(value):
    from datetime import date

    from mixlab.formats import _jsonable
    from mixlab.schema import encode_row

    assert encode_row({"id": "x", "meta": value})["meta"] == json.dumps(value, ensure_ascii=False, sort_keys=True)
    assert _jsonable(value) is value  # JSON types pass through untouched
    odd = {"when": date(2024, 1, 2), "inner": [value, {3}]}
    assert _jsonable(odd) == json.loads(json.dumps(odd, default=str))
