"""Candidate data mixes for `mixlab score-mix`: one YAML file per mix, checked up front and read into MixSpec.

    mixes = load_mixes(["configs/mixes/chat.yaml", "configs/mixes/chat_math.yaml"])
    mixes[0].name, mixes[0].entries[0].curate.inputs

A mix file is train's `datasets:` mix (train/data.py) in which an entry may also say what to curate:

    name: chat-math                 # optional (default: the file name without .yaml); unique among the mixes
    description: 70/30 chat/math    # optional; shown in the leaderboard
    datasets:
      - curate:                     # curated first (cached by input sha256s + resolved recipe), then trained on
          inputs: [data/raw/chat.jsonl, data/raw/hf_dump/]     # anything `mixlab curate` reads
          recipe: configs/curation/sft.yaml                    # optional; default: mixlab curate's built-in recipe
          set: [dedup.minhash.threshold=0.8]                   # optional recipe overrides (like curate's --set)
        weight: 0.7                 # or rows: N (train's semantics: 0.5 = a seeded half, 2.0 = every row twice)
      - path: runs/math/curated     # an already curated folder, or raw inputs used as they are
        weight: 0.3

Relative paths are relative to the current directory, as in every mixlab recipe. Everything is checked before
any mix is curated or trained: a typo in the last mix must not cost the runs of the first ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from mixlab.recipe import RecipeError, field_line, read_yaml

MIX_KEYS = ("name", "description", "datasets")
ENTRY_KEYS = ("curate", "path", "weight", "rows")
CURATE_KEYS = ("inputs", "recipe", "set")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")  # a mix name is a folder name under DIR/mixes/


@dataclass
class CurateSpec:
    inputs: list[str]
    recipe: str | None = None
    overrides: list[str] = field(default_factory=list)


@dataclass
class MixEntry:
    """One `datasets:` entry: a path (curated folder or raw inputs) or inputs to curate; weight or rows."""
    curate: CurateSpec | None = None
    path: str | None = None
    weight: float | None = None
    rows: int | None = None

    def train_entry(self, path: str) -> dict:
        """train's `datasets:` entry for this one once its data is at `path`."""
        entry: dict = {"path": path}
        if self.rows is not None:
            entry["rows"] = self.rows
        elif self.weight is not None:
            entry["weight"] = self.weight
        return entry


@dataclass
class MixSpec:
    name: str
    file: Path
    description: str = ""
    entries: list[MixEntry] = field(default_factory=list)


def load_mixes(files: list[str]) -> list[MixSpec]:
    """Every mix file read and checked (names unique, inputs and recipes present)."""
    mixes = [load_mix(path) for path in files]
    seen: dict[str, Path] = {}
    for mix in mixes:
        if mix.name in seen:
            raise RecipeError(f"{mix.file}: mix name {mix.name!r} is also the name of {seen[mix.name]}; "
                              "give each mix its own `name:`")
        seen[mix.name] = mix.file
    return mixes


def load_mix(path: str | Path) -> MixSpec:
    path = Path(path)
    data = read_yaml(path)
    unknown = sorted(set(data) - set(MIX_KEYS))
    if unknown:
        _fail(path, unknown[0], f"unknown key (valid: {', '.join(MIX_KEYS)})")
    name = str(data.get("name") or path.name.removesuffix(".yaml").removesuffix(".yml"))
    if not NAME_PATTERN.match(name):
        _fail(path, "name", f"{name!r} must be letters, digits, '.', '_' or '-' (it names a folder)")
    datasets = data.get("datasets")
    if not isinstance(datasets, list) or not datasets:
        _fail(path, "datasets", "list at least one entry: {curate: {inputs: [...]}} or {path: ...}")
    entries = [_entry(path, i, item) for i, item in enumerate(datasets)]
    return MixSpec(name=name, file=path, description=str(data.get("description") or ""), entries=entries)


def _entry(path: Path, i: int, item) -> MixEntry:
    where = f"datasets[{i}]"
    if isinstance(item, str):
        item = {"path": item}
    if not isinstance(item, dict):
        _fail(path, "datasets", f"{where}: expected a mapping, got {item!r}")
    unknown = sorted(set(item) - set(ENTRY_KEYS))
    if unknown:
        _fail(path, "datasets", f"{where}: unknown key {unknown[0]!r} (valid: {', '.join(ENTRY_KEYS)})")
    if ("curate" in item) == ("path" in item):
        _fail(path, "datasets", f"{where}: give either `curate:` (inputs to curate) or `path:`, not both or neither")
    weight, rows = item.get("weight"), item.get("rows")
    if weight is not None and rows is not None:
        _fail(path, "datasets", f"{where}: give `weight` or `rows`, not both")
    if weight is not None and (isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0):
        _fail(path, "datasets", f"{where}: weight must be a number >= 0, got {weight!r}")
    if rows is not None and (isinstance(rows, bool) or not isinstance(rows, int) or rows < 0):
        _fail(path, "datasets", f"{where}: rows must be an integer >= 0, got {rows!r}")
    entry = MixEntry(weight=weight, rows=rows)
    if "path" in item:
        entry.path = _existing(path, f"{where}.path", item["path"])
    else:
        entry.curate = _curate(path, where, item["curate"])
    return entry


def _curate(path: Path, where: str, spec) -> CurateSpec:
    if not isinstance(spec, dict):
        _fail(path, "datasets", f"{where}.curate: expected {{inputs: [...], recipe: FILE, set: [...]}}")
    unknown = sorted(set(spec) - set(CURATE_KEYS))
    if unknown:
        _fail(path, "datasets", f"{where}.curate: unknown key {unknown[0]!r} (valid: {', '.join(CURATE_KEYS)})")
    inputs = spec.get("inputs")
    inputs = [inputs] if isinstance(inputs, str) else inputs
    if not isinstance(inputs, list) or not inputs:
        _fail(path, "datasets", f"{where}.curate.inputs: list the files or folders to curate")
    overrides = spec.get("set") or []
    if not isinstance(overrides, list) or not all(isinstance(o, str) and "=" in o for o in overrides):
        _fail(path, "datasets", f"{where}.curate.set: a list of KEY=VALUE recipe overrides")
    recipe = spec.get("recipe")
    return CurateSpec(inputs=[_existing(path, f"{where}.curate.inputs", p) for p in inputs],
                      recipe=_existing(path, f"{where}.curate.recipe", recipe) if recipe else None,
                      overrides=list(overrides))


def _existing(path: Path, where: str, value) -> str:
    if not isinstance(value, str) or not value:
        _fail(path, "datasets", f"{where}: expected a path, got {value!r}")
    if not Path(value).exists():
        _fail(path, "datasets", f"{where}: {value} not found (relative paths are relative to the current "
                                "directory)")
    return value


def _fail(path: Path, key: str, message: str):
    line = field_line(path, key)
    raise RecipeError(f"{path}{f':{line}' if line else ''}: {message}")
