"""Reading a `mixlab run` pipeline YAML: its stages in order, `${NAME}` references resolved to output folders.

    pipeline = load_pipeline("configs/demo/pipeline.yaml", output="/tmp/demo", overrides=["sft.set=[max_steps=4]"])
    [(s.name, s.kind, s.output, s.deps) for s in pipeline.stages]

Top-level fields: `output` (OUT), `env` (for every stage), `gpu` (the budget estimate's GPU type), `stages`. Each
stage has `name`, `run` (its kind, mixlab/run_stages.py) and that kind's fields; errors name the file and the line of
the stage. `${NAME}` is the output folder of the earlier stage NAME (default OUT/NAME) and makes this stage depend on
it; `${out}` is OUT. Overrides `STAGE.FIELD=VALUE` change a stage's field, anything else a top-level field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from mixlab.recipe import RecipeError, apply_overrides, read_yaml
from mixlab.run_stages import STAGE_KINDS, Stage, allowed_fields

TOP_FIELDS = ("output", "env", "gpu", "stages")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
REFERENCE = re.compile(r"\$\{([^}]*)\}")
ESTIMATE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smh])$")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}


@dataclass
class Pipeline:
    path: Path
    output: Path
    env: dict
    gpu: str
    stages: list[Stage]


def estimate_seconds(value) -> float | None:
    """A stage's `estimate` ("40s", "2m", "6.5h") in seconds; None when absent."""
    if value is None:
        return None
    match = ESTIMATE.match(str(value).strip())
    if not match:
        raise ValueError(f"estimate {value!r}: a number with s, m or h, e.g. 40s, 2m, 6.5h")
    return float(match[1]) * UNIT_SECONDS[match[2]]


def stage_lines(path: Path) -> list[int]:
    """Line number of each item of `stages:` (for messages)."""
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        return []
    for key, value in getattr(root, "value", []):
        if getattr(key, "value", None) == "stages" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


def apply_stage_overrides(data: dict, overrides: list[str]) -> dict:
    """`STAGE.FIELD=VALUE` changes a stage's field; anything else a top-level field (e.g. gpu=h200)."""
    stages = {s.get("name"): s for s in data.get("stages") or [] if isinstance(s, dict)}
    top = []
    for item in overrides:
        key, sep, value = item.partition("=")
        head, dot, rest = key.partition(".")
        if sep and dot and head in stages:
            stages[head].update(apply_overrides(stages[head], [f"{rest}={value}"]))
        else:
            top.append(item)
    return apply_overrides(data, top)


def substitute(value, outputs: dict[str, Path], used: set[str], fail):
    """Replace ${NAME} with stage NAME's output folder (recording NAME in `used`) and ${out} with OUT."""
    if isinstance(value, str):
        def replace(match: re.Match) -> str:
            name = match.group(1)
            if name not in outputs:
                fail(f"${{{name}}} is not an earlier stage (known here: {', '.join(outputs) or 'none'})")
            if name != "out":
                used.add(name)
            return str(outputs[name])
        return REFERENCE.sub(replace, value)
    if isinstance(value, list):
        return [substitute(v, outputs, used, fail) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, outputs, used, fail) for k, v in value.items()}
    return value


def build_stage(raw, where: str, outputs: dict[str, Path], out: Path, env: dict) -> Stage:
    def fail(message: str):
        raise RecipeError(f"{where}: {message}")

    if not isinstance(raw, dict):
        fail(f"a stage must be a mapping, got {type(raw).__name__}")
    name, kind = raw.get("name"), raw.get("run")
    if not isinstance(name, str) or not NAME.match(name) or name == "out":
        fail(f"stage name {name!r}: letters, digits, - and _ (and not 'out')")
    if name in outputs:
        fail(f"stage name {name!r} is used twice")
    if kind not in STAGE_KINDS:
        fail(f"stage '{name}': run: {kind!r} is not a stage kind ({', '.join(STAGE_KINDS)})")
    unknown = sorted(set(raw) - set(allowed_fields(kind)))
    if unknown:
        fail(f"stage '{name}': unknown field(s) {', '.join(unknown)} for run: {kind} "
             f"(valid: {', '.join(allowed_fields(kind))})")
    used: set[str] = set()
    spec = substitute({k: v for k, v in raw.items() if k not in ("name", "run")}, outputs, used,
                      lambda message: fail(f"stage '{name}': {message}"))
    try:
        estimate_seconds(spec.get("estimate"))
    except ValueError as err:
        fail(f"stage '{name}': {err}")
    spec["env"] = {**env, **{str(k): str(v) for k, v in (spec.get("env") or {}).items()}}
    output = Path(str(spec.get("output") or name))
    if not (output.is_absolute() or "${" in str(raw.get("output", ""))):  # a plain relative output lives in OUT
        output = out / output
    return Stage(name, kind, spec, output, [stage for stage in outputs if stage in used], where)


def load_pipeline(path: str | Path, output: str | None = None, overrides: list[str] | None = None) -> Pipeline:
    path = Path(path)
    data = apply_stage_overrides(read_yaml(path), overrides or [])
    unknown = sorted(set(data) - set(TOP_FIELDS))
    if unknown:
        raise RecipeError(f"{path}: unknown field(s) {', '.join(unknown)} (valid: {', '.join(TOP_FIELDS)})")
    out = Path(output or data.get("output") or "")
    if not str(out) or str(out) == ".":
        raise RecipeError(f"{path}: field 'output' (the run folder) is required")
    raw_stages = data.get("stages")
    if not isinstance(raw_stages, list) or not raw_stages:
        raise RecipeError(f"{path}: field 'stages' must list at least one stage")
    env = {str(k): str(v) for k, v in (data.get("env") or {}).items()}
    lines = stage_lines(path)
    outputs: dict[str, Path] = {"out": out}
    stages = []
    for i, raw in enumerate(raw_stages):
        where = f"{path}:{lines[i]}" if i < len(lines) else str(path)
        stage = build_stage(raw, where, outputs, out, env)
        outputs[stage.name] = stage.output
        stages.append(stage)
    return Pipeline(path, out, env, str(data.get("gpu") or "h100"), stages)
