"""Recipe loading: YAML → typed dataclasses, with `key=value` overrides and errors that name file, line and field.

    from mixlab.recipe import load_recipe
    recipe = load_recipe(CurationRecipe, "configs/curation/sft.yaml", overrides=["dedup.minhash.enabled=false"])
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any

import yaml


class RecipeError(ValueError):
    """A recipe problem the user must fix; the message names the file, line (when known) and field."""


def read_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise RecipeError(f"{path}: recipe file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        line = f":{mark.line + 1}" if mark else ""
        raise RecipeError(f"{path}{line}: invalid YAML: {err.problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise RecipeError(f"{path}: a recipe must be a YAML mapping, got {type(data).__name__}")
    return data


def field_line(path: str | Path, dotted: str) -> int | None:
    """Best-effort line number of a (dotted) key in a YAML file, for error messages."""
    try:
        node = yaml.compose(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    for part in dotted.split("."):
        if not isinstance(node, yaml.MappingNode):
            return None
        match = [(k, v) for k, v in node.value if getattr(k, "value", None) == part]
        if not match:
            return None
        key_node, node = match[0]
    return key_node.start_mark.line + 1


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """`a.b.c=value` overrides; values are parsed as YAML scalars (numbers, booleans, lists)."""
    data = dict(data)
    for item in overrides:
        if "=" not in item:
            raise RecipeError(f"override {item!r}: expected key=value")
        key, raw = item.split("=", 1)
        node = data
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node[part] = dict(node.get(part) or {})
            node = node[part]
        node[parts[-1]] = yaml.safe_load(raw)
    return data


def _check_type(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_check_type(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if origin is not None:
        return isinstance(value, origin)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def from_dict(cls: type, data: dict, where: str, prefix: str = "", source: str | Path | None = None):
    """Build dataclass `cls` from `data`, recursing into nested dataclasses; unknown keys and wrong types fail."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}

    def fail(key: str, msg: str):
        line = field_line(source, prefix + key) if source else None
        loc = f"{where}:{line}" if line else where
        raise RecipeError(f"{loc}: field '{prefix}{key}': {msg}")

    if not isinstance(data, dict):
        fail("", f"expected a mapping, got {type(data).__name__}")
    kwargs = {}
    for key, value in data.items():
        if key not in fields:
            fail(key, f"unknown key (valid: {', '.join(fields)})")
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            kwargs[key] = from_dict(hint, value or {}, where, f"{prefix}{key}.", source)
        elif not _check_type(value, hint):
            fail(key, f"expected {getattr(hint, '__name__', hint)}, got {type(value).__name__} ({value!r})")
        else:
            kwargs[key] = value
    return cls(**kwargs)


def load_recipe(cls: type, path: str | Path | None = None, overrides: list[str] | None = None):
    """The recipe at `path` (or the dataclass defaults when None) with overrides applied."""
    data = read_yaml(path) if path else {}
    data = apply_overrides(data, overrides or [])
    where = str(path) if path else "<defaults>"
    return from_dict(cls, data, where, source=path)


def recipe_to_dict(recipe) -> dict:
    return dataclasses.asdict(recipe)
