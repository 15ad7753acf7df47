"""Recognise the format of one input row (a dict) and normalise it to a canonical record (see mixlab.schema).

    from mixlab.formats import detect_format, normalise
    fmt = detect_format(row)          # "messages", "sharegpt", "alpaca", ... or None
    record = normalise(row, fmt, field_map={}, source="mydata", row_id=stable_id("mydata.jsonl", 1))

A row that cannot be normalised raises NormaliseError; its `error` string ("missing_field:<f>",
"wrong_type:<f> (...)", "bad_role:<role>", "unknown_schema (fields: ...)") is what the reader quarantines.
"""

from __future__ import annotations

import json
import re

from mixlab.schema import ROLES

FORMATS = ("messages", "sharegpt", "alpaca", "prompt_response", "prompt_completion", "question_answer",
           "preference", "hh", "rl")
# most specific first: hh before preference, rl/preference before the prompt_* formats
DETECTION_ORDER = ("rl", "hh", "preference", "messages", "sharegpt", "alpaca", "prompt_completion",
                   "prompt_response", "question_answer")
REQUIRED_FIELDS = {
    "messages": ("messages",), "sharegpt": ("conversations",), "alpaca": ("instruction", "output"),
    "prompt_response": ("prompt", "response"), "prompt_completion": ("prompt", "completion"),
    "question_answer": ("question", "answer"), "preference": ("chosen", "rejected"),
    "hh": ("chosen", "rejected"), "rl": ("prompt", "verifier"),
}
OPTIONAL_FIELDS = {"alpaca": ("input",), "preference": ("prompt",)}
DESCRIPTIONS = {
    "messages": "messages=[{role, content}, ...] (OpenAI chat)",
    "sharegpt": "conversations=[{from, value}, ...] (ShareGPT; from: human/gpt/system/...)",
    "alpaca": "instruction, optional input, output (Alpaca)",
    "prompt_response": "prompt, response (strings)",
    "prompt_completion": "prompt, completion (strings or TRL conversational message lists)",
    "question_answer": "question, answer (GSM8K style; answer kept verbatim)",
    "preference": "optional prompt, chosen, rejected (TRL; strings or message lists)",
    "hh": "chosen, rejected ('\\n\\nHuman: ...\\n\\nAssistant: ...' strings, Anthropic HH)",
    "rl": "prompt, verifier={name, ...} (RL prompt with a verifier)",
}
FORMAT_KINDS = {fmt: ("sft",) for fmt in FORMATS} | {
    "question_answer": ("sft", "rl"), "preference": ("preference",), "hh": ("preference",), "rl": ("rl",),
}
SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                  "chatgpt": "assistant", "bing": "assistant", "bard": "assistant", "model": "assistant",
                  "system": "system"}
HH_MARKER = re.compile(r"(?:^|\n\n)(Human|Assistant):[ \t]?")


class NormaliseError(ValueError):
    """A row that cannot become a canonical record; `error` is the quarantine reason."""

    def __init__(self, error: str):
        super().__init__(error)
        self.error = error


def describe_formats() -> str:
    """One line per supported format, for error messages."""
    return "\n".join(f"  {fmt}: {DESCRIPTIONS[fmt]}" for fmt in FORMATS)


def type_name(value) -> str:
    return "null" if value is None else type(value).__name__


def apply_field_map(row: dict, field_map: dict | None) -> dict:
    """The row with input field names renamed to canonical ones (`field_map`: canonical name → input name).

    A mapped field replaces an input field that already has the canonical name.
    """
    if not field_map:
        return row
    renamed = {k: v for k, v in row.items() if k not in field_map.values()}
    for canonical, name in field_map.items():
        if name in row:
            renamed[canonical] = row[name]
    return renamed


def _present(row: dict, field: str) -> bool:
    # parquet/HF tables hold absent fields as null
    return row.get(field) is not None


def _looks_like_hh(row: dict) -> bool:
    chosen, rejected = row.get("chosen"), row.get("rejected")
    return (not _present(row, "prompt") and isinstance(chosen, str) and isinstance(rejected, str)
            and "Human:" in chosen and "Assistant:" in chosen)


def detect_format(row: dict, field_map: dict | None = None) -> str | None:
    """The first format (most specific first) whose required fields the row has, or None."""
    row = apply_field_map(row, field_map)
    for fmt in DETECTION_ORDER:
        if all(_present(row, f) for f in REQUIRED_FIELDS[fmt]) and (fmt != "hh" or _looks_like_hh(row)):
            return fmt
    return None


def normalise(row: dict, fmt: str, *, field_map: dict | None = None, source: str, row_id: str,
              kind: str | None = None) -> dict:
    """The canonical record for `row` read as format `fmt`; raises NormaliseError for a bad row.

    id: the row's own `id` when it has one, else `row_id`. meta: every input field the format does not
    consume (a `meta` object, or JSON text of one as mixlab's parquet stores it, is merged in).
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; supported formats:\n{describe_formats()}")
    kind = kind or FORMAT_KINDS[fmt][0]
    if kind not in FORMAT_KINDS[fmt]:
        allowed = ", ".join(FORMAT_KINDS[fmt])
        raise ValueError(f"format {fmt!r} cannot produce {kind!r} records (only {allowed})")
    view = apply_field_map(row, field_map)
    _check_required(view, fmt)
    fields = NORMALISERS[fmt](view, kind)
    consumed = {"id", *REQUIRED_FIELDS[fmt], *OPTIONAL_FIELDS.get(fmt, ())}
    own_id = view.get("id")
    record_id = row_id if own_id is None or str(own_id) == "" else str(own_id)
    return {"id": record_id, "source": source, **fields, "meta": _meta(view, consumed)}


def _check_required(row: dict, fmt: str) -> None:
    required = REQUIRED_FIELDS[fmt]
    missing = [f for f in required if not _present(row, f)]
    if len(missing) == len(required):
        raise NormaliseError(f"unknown_schema (fields: {', '.join(row) or 'none'})")
    if missing:
        raise NormaliseError(f"missing_field:{missing[0]}")


def _meta(row: dict, consumed: set) -> dict:
    meta = {}
    own = row.get("meta") if "meta" not in consumed else None
    if isinstance(own, str):
        try:
            own = json.loads(own)
        except json.JSONDecodeError:
            pass
    if isinstance(own, dict):
        meta.update(own)
        consumed = consumed | {"meta"}
    meta.update({k: v for k, v in row.items() if k not in consumed})
    return _jsonable(meta)


JSON_SCALARS = (str, int, float, bool, type(None))
MAX_PLAIN_DEPTH = 32


def _plain_json(value, depth: int = 0) -> bool:
    """True when json.dumps(value) surely succeeds (JSON types only): skips encoding every record's meta."""
    if isinstance(value, JSON_SCALARS):
        return True
    if depth >= MAX_PLAIN_DEPTH:
        return False
    if isinstance(value, dict):
        return all(isinstance(k, JSON_SCALARS) and _plain_json(v, depth + 1) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(_plain_json(v, depth + 1) for v in value)
    return False


def _jsonable(value):
    if _plain_json(value):
        return value
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return json.loads(json.dumps(value, default=str))


def _string(value, field: str) -> str:
    if not isinstance(value, str):
        raise NormaliseError(f"wrong_type:{field} (expected str, got {type_name(value)})")
    return value


def _message(item, field: str, role_key: str, content_key: str, roles: dict) -> dict:
    if not isinstance(item, dict):
        raise NormaliseError(f"wrong_type:{field}[] (expected object, got {type_name(item)})")
    for key in (role_key, content_key):
        if key not in item:
            raise NormaliseError(f"missing_field:{field}.{key}")
    role = item[role_key]
    if not isinstance(role, str) or role.lower() not in roles:
        raise NormaliseError(f"bad_role:{role}")
    return {"role": roles[role.lower()], "content": _string(item[content_key], f"{field}.{content_key}")}


def _messages(value, field: str) -> list[dict]:
    if not isinstance(value, list):
        raise NormaliseError(f"wrong_type:{field} (expected list, got {type_name(value)})")
    return [_message(m, field, "role", "content", {r: r for r in ROLES}) for m in value]


def _sharegpt_messages(value, field: str) -> list[dict]:
    if not isinstance(value, list):
        raise NormaliseError(f"wrong_type:{field} (expected list, got {type_name(value)})")
    # some ShareGPT exports already use role/content keys inside `conversations`
    return [_message(m, field, "from", "value", SHAREGPT_ROLES) if isinstance(m, dict) and "from" in m
            else _message(m, field, "role", "content", SHAREGPT_ROLES) for m in value]


def _as_messages(value, field: str, string_role: str) -> list[dict]:
    """A string becomes one message of `string_role`; a list is read as messages."""
    if isinstance(value, str):
        return [{"role": string_role, "content": value}]
    if isinstance(value, list):
        return _messages(value, field)
    raise NormaliseError(f"wrong_type:{field} (expected str or list, got {type_name(value)})")


def _turn_pair(user: str, assistant: str) -> list[dict]:
    return [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]


def _split_shared_prompt(chosen: list[dict], rejected: list[dict]) -> dict:
    """TRL's implicit prompt: the shared leading turns, cut so chosen/rejected start at an assistant turn."""
    n, limit = 0, min(len(chosen), len(rejected)) - 1
    while n < limit and chosen[n] == rejected[n]:
        n += 1
    while n > 0 and not chosen[n]["role"] == rejected[n]["role"] == "assistant":
        n -= 1
    if n == 0:
        raise NormaliseError("missing_field:prompt (chosen and rejected share no leading turns)")
    return {"prompt": chosen[:n], "chosen": chosen[n:], "rejected": rejected[n:]}


def _hh_turns(text, field: str) -> list[dict]:
    parts = HH_MARKER.split(_string(text, field))
    if len(parts) < 3 or parts[0].strip():
        raise NormaliseError(f"wrong_type:{field} (expected '\\n\\nHuman: ...\\n\\nAssistant: ...' turns)")
    return [{"role": "user" if who == "Human" else "assistant", "content": content.strip()}
            for who, content in zip(parts[1::2], parts[2::2], strict=True)]


def _from_messages(row: dict, kind: str) -> dict:
    return {"messages": _messages(row["messages"], "messages")}


def _from_sharegpt(row: dict, kind: str) -> dict:
    return {"messages": _sharegpt_messages(row["conversations"], "conversations")}


def _from_alpaca(row: dict, kind: str) -> dict:
    user = _string(row["instruction"], "instruction")
    extra = row.get("input")
    if extra is not None and _string(extra, "input"):
        user = f"{user}\n\n{extra}"
    return {"messages": _turn_pair(user, _string(row["output"], "output"))}


def _from_prompt_response(row: dict, kind: str) -> dict:
    return {"messages": _turn_pair(_string(row["prompt"], "prompt"), _string(row["response"], "response"))}


def _from_prompt_completion(row: dict, kind: str) -> dict:
    return {"messages": _as_messages(row["prompt"], "prompt", "user")
            + _as_messages(row["completion"], "completion", "assistant")}


def _from_question_answer(row: dict, kind: str) -> dict:
    question, answer = _string(row["question"], "question"), row["answer"]
    if kind == "rl":
        if isinstance(answer, (int, float)) and not isinstance(answer, bool):
            answer = str(answer)
        return {"prompt": [{"role": "user", "content": question}],
                "verifier": {"name": "math", "answer": _string(answer, "answer")}}
    return {"messages": _turn_pair(question, _string(answer, "answer"))}


def _from_preference(row: dict, kind: str) -> dict:
    chosen = _as_messages(row["chosen"], "chosen", "assistant")
    rejected = _as_messages(row["rejected"], "rejected", "assistant")
    if _present(row, "prompt"):
        prompt = _as_messages(row["prompt"], "prompt", "user")
        return {"prompt": prompt, "chosen": chosen, "rejected": rejected}
    if isinstance(row["chosen"], str) or isinstance(row["rejected"], str):
        raise NormaliseError("missing_field:prompt")
    return _split_shared_prompt(chosen, rejected)


def _from_hh(row: dict, kind: str) -> dict:
    return _split_shared_prompt(_hh_turns(row["chosen"], "chosen"), _hh_turns(row["rejected"], "rejected"))


def _from_rl(row: dict, kind: str) -> dict:
    verifier = row["verifier"]
    if isinstance(verifier, str):  # mixlab's own parquet stores the verifier as JSON text
        try:
            verifier = json.loads(verifier)
        except json.JSONDecodeError:
            pass
    if not isinstance(verifier, dict):
        raise NormaliseError(f"wrong_type:verifier (expected object, got {type_name(verifier)})")
    if "name" not in verifier:
        raise NormaliseError("missing_field:verifier.name")
    _string(verifier["name"], "verifier.name")
    return {"prompt": _as_messages(row["prompt"], "prompt", "user"), "verifier": _jsonable(verifier)}


NORMALISERS = {
    "messages": _from_messages, "sharegpt": _from_sharegpt, "alpaca": _from_alpaca,
    "prompt_response": _from_prompt_response, "prompt_completion": _from_prompt_completion,
    "question_answer": _from_question_answer, "preference": _from_preference, "hh": _from_hh, "rl": _from_rl,
}
