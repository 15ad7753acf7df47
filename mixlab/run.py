"""`mixlab run PIPELINE.yaml`: run a whole job (curate → decontam → train → eval → report) stage by stage, redoing
only what changed.

    mixlab run configs/demo/pipeline.yaml                 # what `make demo` runs (CPU)
    mixlab run configs/qwen3-4b/pipeline.yaml --dry-run   # each stage: run or skip and why; budget per training stage
    mixlab run PIPELINE.yaml --from sft --until dpo       # only these stages (earlier outputs are used as they are)
    mixlab run PIPELINE.yaml --output /tmp/x --set sft.set='[max_steps=4]'   # another folder; override stage fields

A pipeline YAML has `output` (OUT), optional `env` (for every stage) and `gpu` (for the budget estimate), and a
list of `stages`, each with `name`, `run` (its kind: mixlab/run_stages.py) and that kind's fields. `${NAME}` in a
field is the output folder of the earlier stage NAME (default OUT/NAME) and makes this stage depend on it; `${out}`
is OUT. Each stage runs as a subprocess of the real CLI with its log in OUT/logs/NAME.log; OUT/run.json records its
command, the content hashes of its inputs, the hash of its resolved recipe and command, status and times. A stage
is skipped when its output is complete, its record says it finished, and its recipe and inputs hash the same; a
stage that reruns makes every stage that reads its output rerun.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import resource
import shlex
import signal
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import yaml

from mixlab.manifest import OutputConflict
from mixlab.recipe import RecipeError, apply_overrides, read_yaml
from mixlab.run_record import ContentHasher, RunRecord
from mixlab.run_stages import STAGE_KINDS, TRAINERS, Stage, allowed_fields, stage_error

TOP_FIELDS = ("output", "env", "gpu", "stages")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
REFERENCE = re.compile(r"\$\{([^}]*)\}")
LOG_TAIL_LINES = 20


@dataclass
class Pipeline:
    path: Path
    output: Path
    env: dict
    gpu: str
    stages: list[Stage]


@dataclass
class Decision:
    stage: Stage
    action: str   # run | skip | outside
    why: str
    mode: str = "fresh"   # for run: fresh | resume | redo


class StageInterrupted(Exception):
    """SIGTERM (e.g. a Slurm time limit) or Ctrl-C while a stage ran."""


# ---- the pipeline file -------------------------------------------------------------------------------------------

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


# ---- what to run -------------------------------------------------------------------------------------------------

def display_argv(stage: Stage, argv: list[str]) -> list[str]:
    module = STAGE_KINDS[stage.kind].module()
    return ["mixlab", *argv] if module == "mixlab.cli" else ["python", "-m", module, *argv]


def config_sha256(stage: Stage) -> str:
    kind = STAGE_KINDS[stage.kind]
    material = {"command": display_argv(stage, kind.base_command(stage)), "recipe": kind.recipe(stage),
                "env": stage.field("env")}
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()


def input_hashes(stage: Stage, hasher: ContentHasher) -> dict[str, str | None]:
    return {path: hasher.of(path) for path in STAGE_KINDS[stage.kind].inputs(stage)}


def has_content(path: Path) -> bool:
    return path.is_file() or (path.is_dir() and any(path.iterdir()))


def decide_stage(stage: Stage, previous: dict | None, rerunning: set[str], hasher: ContentHasher) -> Decision:
    if previous is None:
        if has_content(stage.output):
            raise OutputConflict(f"{stage.output} exists, but {stage.name!r} has no entry in the run record: it was "
                                 "not made by this pipeline. Delete it, or give the stage another output")
        return Decision(stage, "run", "never run")
    upstream = [name for name in stage.deps if name in rerunning]
    if upstream:
        return Decision(stage, "run", f"upstream {upstream[0]} reruns", "redo")
    same_config = previous.get("config_sha256") == config_sha256(stage)
    changed = [path for path, digest in input_hashes(stage, hasher).items()
               if digest != (previous.get("inputs") or {}).get(path)]
    if previous.get("status") != "complete":
        if same_config and not changed:
            state = "interrupted" if previous.get("status") == "running" else previous.get("status")
            return Decision(stage, "run", f"{state} earlier; same inputs and config: resuming", "resume")
        return Decision(stage, "run", f"{previous.get('status')} earlier, and its config or inputs changed", "redo")
    if not same_config:
        return Decision(stage, "run", "recipe or command changed", "redo")
    if changed:
        return Decision(stage, "run", f"input changed: {changed[0]}", "redo")
    if not STAGE_KINDS[stage.kind].done(stage):
        return Decision(stage, "run", f"output incomplete: {stage.output}", "redo")
    return Decision(stage, "skip", f"up to date (finished {previous.get('ended')}, {duration(previous['elapsed_s'])})")


def stage_range(pipeline: Pipeline, first: str | None, last: str | None) -> tuple[int, int]:
    names = [s.name for s in pipeline.stages]
    for flag, name in (("--from", first), ("--until", last)):
        if name is not None and name not in names:
            raise RecipeError(f"{flag} {name}: no such stage in {pipeline.path} ({', '.join(names)})")
    start = names.index(first) if first else 0
    end = names.index(last) if last else len(names) - 1
    if start > end:
        raise RecipeError(f"--from {first} comes after --until {last}")
    return start, end


def decide(pipeline: Pipeline, record: RunRecord, hasher: ContentHasher, first: str | None = None,
           last: str | None = None) -> list[Decision]:
    start, end = stage_range(pipeline, first, last)
    rerunning: set[str] = set()
    decisions = []
    for i, stage in enumerate(pipeline.stages):
        if i < start or i > end:
            why = f"before --from {first}" if i < start else f"after --until {last}"
            decisions.append(Decision(stage, "outside", why))
            continue
        try:
            decision = decide_stage(stage, record.stage(stage.name), rerunning, hasher)
        except RecipeError as err:
            raise stage_error(stage, str(err)) from None
        if decision.action == "run":
            rerunning.add(stage.name)
        decisions.append(decision)
    return decisions


# ---- running -----------------------------------------------------------------------------------------------------

def duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def expected_seconds(stage: Stage, record: RunRecord) -> float | None:
    """The stage's last finished run time, else its pipeline estimate_hours."""
    previous = record.stage(stage.name) or {}
    if previous.get("last_elapsed_s") is not None:
        return previous["last_elapsed_s"]
    estimate = stage.field("estimate_hours")
    return estimate * 3600 if isinstance(estimate, (int, float)) else None


def eta(pending: list[Stage], record: RunRecord) -> str:
    known = [expected_seconds(stage, record) for stage in pending]
    untimed = sum(1 for k in known if k is None)
    if untimed and untimed == len(known):
        return "unknown (never timed)"
    text = duration(sum(k for k in known if k is not None))
    return text + (f" + {untimed} stage{'s' if untimed > 1 else ''} never timed" if untimed else "")


def stage_env(stage: Stage) -> dict:
    """This process's environment, offline by default, plus the pipeline's and the stage's `env`."""
    env = {**os.environ, "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1"), **stage.field("env")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_logged(argv: list[str], log: Path, env: dict) -> int:
    """Run in this process group (a kill of `mixlab run`'s group reaches it); SIGTERM/Ctrl-C stop it cleanly."""
    log.parent.mkdir(parents=True, exist_ok=True)
    if log.exists():
        log.replace(log.with_suffix(".prev.log"))
    with open(log, "w", encoding="utf-8") as handle:
        handle.write(f"$ {shlex.join(argv)}\n")
        handle.flush()
        proc = subprocess.Popen(argv, stdout=handle, stderr=subprocess.STDOUT, env=env)
        try:
            return proc.wait()
        except (KeyboardInterrupt, StageInterrupted):
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            raise


def children_cpu_seconds() -> float:
    """CPU seconds (user + system) of every finished child process so far (a stage's workers included)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def log_tail(log: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join("    " + line[-300:] for line in text[-lines:])


def run_stage(decision: Decision, pipeline: Pipeline, record: RunRecord, hasher: ContentHasher) -> tuple[int, float]:
    """(exit code, elapsed seconds) of one stage; its run.json entry says running, then complete or failed."""
    stage = decision.stage
    kind = STAGE_KINDS[stage.kind]
    kind.prepare(stage, decision.mode)
    argv = kind.command(stage, decision.mode)
    log = pipeline.output / "logs" / f"{stage.name}.log"
    inputs = input_hashes(stage, hasher)
    hasher.save()
    record.start(stage.name, command=shlex.join(display_argv(stage, argv)), argv=argv, mode=decision.mode,
                 why=decision.why, inputs=inputs, config_sha256=config_sha256(stage), output=str(stage.output),
                 log=str(log))
    cpu_before = children_cpu_seconds()
    try:
        code = run_logged([sys.executable, "-m", kind.module(), *argv], log, stage_env(stage))
    except (KeyboardInterrupt, StageInterrupted):
        record.finish(stage.name, "interrupted", None)
        raise
    complete = code == 0 and kind.done(stage)
    record.data["stages"][stage.name]["cpu_s"] = round(children_cpu_seconds() - cpu_before, 1)
    elapsed = record.finish(stage.name, "complete" if complete else "failed", code)
    if code == 0 and not complete:
        code = 1
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(f"\nmixlab run: exit 0, but {stage.output} lacks the files that mark it complete\n")
    return code, elapsed


def execute(pipeline: Pipeline, decisions: list[Decision], record: RunRecord, hasher: ContentHasher,
            resume_hint) -> int:
    started = time.monotonic()
    total = len(decisions)
    width = max(len(d.stage.name) for d in decisions)
    to_run = [d for d in decisions if d.action == "run"]
    print(f"mixlab run: {pipeline.path} -> {pipeline.output}: {len(to_run)} of {total} stages to run "
          f"(ETA {eta([d.stage for d in to_run], record)})", flush=True)
    for i, decision in enumerate(decisions, 1):
        stage, tag = decision.stage, f"[{i:>{len(str(total))}}/{total}] {decision.stage.name:<{width}}"
        if decision.action != "run":
            print(f"{tag}  {decision.action:<7} {decision.why}", flush=True)
            continue
        log = pipeline.output / "logs" / f"{stage.name}.log"
        print(f"{tag}  running ({decision.why}; last took {duration(expected_seconds(stage, record))}) "
              f"log {log}", flush=True)
        try:
            code, elapsed = run_stage(decision, pipeline, record, hasher)
        except (KeyboardInterrupt, StageInterrupted):
            print(f"\nmixlab run: stage {stage.name!r} interrupted; log: {log}\nresume with: {resume_hint(stage.name)}",
                  file=sys.stderr, flush=True)
            return 130
        pending = [d.stage for d in to_run[to_run.index(decision) + 1:]]
        if code != 0:
            print(f"{tag}  FAILED  exit {code} after {duration(elapsed)}\n{log_tail(log)}", flush=True)
            print(f"mixlab run: stage {stage.name!r} failed; log: {log}\nresume with: {resume_hint(stage.name)}",
                  file=sys.stderr, flush=True)
            return 1
        print(f"{tag}  done    in {duration(elapsed)} (pipeline {duration(time.monotonic() - started)}, "
              f"ETA {eta(pending, record)})", flush=True)
    hasher.save()
    print(f"mixlab run: finished in {duration(time.monotonic() - started)}: {len(to_run)} ran, "
          f"{sum(d.action == 'skip' for d in decisions)} up to date; record: {record.path}", flush=True)
    return 0


# ---- dry run -----------------------------------------------------------------------------------------------------

def print_plan(pipeline: Pipeline, decisions: list[Decision], record: RunRecord) -> None:
    from mixlab.run_budget import budget_line

    print(f"mixlab run --dry-run: {pipeline.path} -> {pipeline.output} (record: {record.path}"
          f"{'' if record.path.exists() else ', none yet'})")
    width = max(len(d.stage.name) for d in decisions)
    print(f"  {'stage':<{width}}  {'action':<7} why")
    for decision in decisions:
        stage = decision.stage
        print(f"  {stage.name:<{width}}  {decision.action:<7} {decision.why}")
        if decision.action == "run":
            argv = STAGE_KINDS[stage.kind].command(stage, decision.mode)
            print(f"  {'':<{width}}  {'':<7} $ {shlex.join(display_argv(stage, argv))}")
    to_run = [d.stage for d in decisions if d.action == "run"]
    print(f"{len(to_run)} of {len(decisions)} stages would run; ETA {eta(to_run, record)}")
    training = [d.stage for d in decisions if d.stage.kind in TRAINERS and d.action != "outside"]
    if training:
        print(f"budget per training stage (mixlab plan, {pipeline.gpu}):")
        for stage in training:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                line = budget_line(stage, pipeline.gpu)
            print(f"  {stage.name:<{width}}  {line}", flush=True)
    print("dry run: nothing was run")


# ---- command line ------------------------------------------------------------------------------------------------

def add_run(sub) -> None:
    p = sub.add_parser("run", help="run a pipeline YAML (curate → decontam → train → eval → report), redoing only "
                       "what changed", description="Run the stages of PIPELINE.yaml in order, each as a subprocess of "
                       "the mixlab CLI with its log in OUT/logs/STAGE.log; OUT/run.json records commands, content "
                       "hashes of inputs and recipes, status and times. A stage whose output is complete for the same "
                       "inputs and recipe is skipped; a stage that reruns makes the stages reading its output rerun.")
    p.add_argument("pipeline", metavar="PIPELINE.yaml", help="e.g. configs/demo/pipeline.yaml")
    p.add_argument("--from", dest="first", metavar="STAGE", help="start at this stage (earlier outputs used as is)")
    p.add_argument("--until", dest="last", metavar="STAGE", help="stop after this stage")
    p.add_argument("--dry-run", action="store_true", help="print each stage's action (run/skip and why), its command "
                   "and the budget estimate per training stage; run nothing")
    p.add_argument("--output", metavar="OUT", help="run folder (default: the pipeline's output)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="STAGE.FIELD=VALUE",
                   help="override a stage field, e.g. --set sft.num_gpus=8 (repeatable)")
    p.set_defaults(handler=run_command)


def resume_command(args, stage_name: str) -> str:
    argv = ["mixlab", "run", args.pipeline, "--from", stage_name]
    argv += (["--until", args.last] if args.last else []) + (["--output", args.output] if args.output else [])
    argv += [item for value in args.overrides for item in ("--set", value)]
    return shlex.join(argv)


def handle_sigterm(signum, frame):
    raise StageInterrupted(f"signal {signum}")


def validate(decisions: list[Decision]) -> None:
    """The recipe of every stage in range loads before anything runs: a typo fails now, not hours into the run."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # transformers' deprecation notes about TRL's own fields
        for stage in (d.stage for d in decisions if d.action != "outside"):
            try:
                STAGE_KINDS[stage.kind].validate(stage)
            except RecipeError as err:
                raise stage_error(stage, str(err)) from None


def run_command(args) -> int:
    pipeline = load_pipeline(args.pipeline, args.output, args.overrides)
    record = RunRecord.load(pipeline.output)
    hasher = ContentHasher(pipeline.output / ".hash-cache.json")
    decisions = decide(pipeline, record, hasher, args.first, args.last)
    validate(decisions)
    if args.dry_run:
        print_plan(pipeline, decisions, record)
        return 0
    record.data["pipeline"] = str(args.pipeline)
    previous_handler = signal.signal(signal.SIGTERM, handle_sigterm)
    try:
        return execute(pipeline, decisions, record, hasher, lambda name: resume_command(args, name))
    finally:
        signal.signal(signal.SIGTERM, previous_handler)
