"""`mixlab run PIPELINE.yaml`: run a whole job (curate → decontam → train → eval → report) stage by stage, redoing
only what changed.

    mixlab run configs/demo/pipeline.yaml                 # what `make demo` runs (CPU)
    mixlab run configs/qwen3-4b/pipeline.yaml --dry-run   # each stage: run or skip and why; budget per training stage
    mixlab run PIPELINE.yaml --from sft --until dpo       # only these stages (earlier outputs are used as they are)
    mixlab run PIPELINE.yaml --output /tmp/x --set sft.set='[max_steps=4]'   # another folder; override stage fields

The pipeline YAML (mixlab/run_pipeline.py) lists stages in order, each of a kind (mixlab/run_stages.py); `${NAME}`
in a field is stage NAME's output folder and makes this stage depend on NAME. Each stage runs as a subprocess of
the real CLI with its log in OUT/logs/NAME.log; OUT/run.json (mixlab/run_record.py) records its command, the
content hashes of its inputs, the hash of its resolved recipe and command, status and times. A stage is skipped
when its output is complete, its record says it finished, and its recipe and inputs hash the same; a stage that
reruns makes every stage that reads its output rerun.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import resource
import shlex
import signal
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from mixlab.manifest import OutputConflict
from mixlab.recipe import RecipeError
from mixlab.run_pipeline import Pipeline, estimate_seconds, load_pipeline
from mixlab.run_record import ContentHasher, RunRecord
from mixlab.run_stages import STAGE_KINDS, TRAINERS, Stage, stage_error

LOG_TAIL_LINES = 20


@dataclass
class Decision:
    stage: Stage
    action: str   # run | skip | outside
    why: str
    mode: str = "fresh"   # for run: fresh | resume | redo


class StageInterrupted(Exception):
    """SIGTERM (e.g. a Slurm time limit) or Ctrl-C while a stage ran."""


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


def check_inputs(stage: Stage) -> None:
    """A stage must not read a folder that holds its own output: its hash would change with every run."""
    output = stage.output.resolve()
    for path in STAGE_KINDS[stage.kind].inputs(stage):
        if output.is_relative_to(Path(path).resolve()):
            raise RecipeError(f"input {path} holds the stage's own output {stage.output}: list the stage folders "
                              "it reads instead")


def decide_stage(stage: Stage, previous: dict | None, rerunning: set[str], hasher: ContentHasher) -> Decision:
    check_inputs(stage)
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
    """The stage's last finished run time, else its pipeline `estimate`."""
    previous = record.stage(stage.name) or {}
    if previous.get("last_elapsed_s") is not None:
        return previous["last_elapsed_s"]
    return estimate_seconds(stage.field("estimate"))


def expectation(stage: Stage, record: RunRecord) -> str:
    """"; last took 41s", "; estimate 6h30m" or nothing, for the line that starts a stage."""
    last = (record.stage(stage.name) or {}).get("last_elapsed_s")
    if last is not None:
        return f"; last took {duration(last)}"
    expected = expected_seconds(stage, record)
    return f"; estimate {duration(expected)}" if expected is not None else ""


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
            stop_process_tree(proc)
            raise


def stop_process_tree(proc: subprocess.Popen, grace: float = 60.0) -> None:
    """SIGTERM to the stage and every process it started (accelerate's workers, datatrove's pool: a parent killed
    alone would leave them running), SIGKILL to whatever is left after `grace` seconds."""
    import psutil  # an accelerate/TRL dependency

    try:
        tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    for process in tree:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.terminate()
    _, alive = psutil.wait_procs(tree, timeout=grace)
    for process in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    proc.wait()


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
        print(f"{tag}  running ({decision.why}{expectation(stage, record)}) log {log}", flush=True)
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
    from datacards.terminal import reconciled_folders  # 0.17 s of imports, after the run

    print("\n".join(["datasets (in = kept + removed + quarantined, per source and in total):",
                     *reconciled_folders({stage.name: stage.output for stage in pipeline.stages})]))
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
    """The recipe of every stage that will run loads before anything runs: a typo fails now, not hours into the run
    (a skipped stage's recipe is the one that already ran)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # transformers' deprecation notes about TRL's own fields
        for stage in (d.stage for d in decisions if d.action == "run"):
            try:
                STAGE_KINDS[stage.kind].validate(stage)
            except RecipeError as err:
                raise stage_error(stage, str(err)) from None


def lock_run_folder(out: Path):
    """One `mixlab run` per run folder at a time; the lock goes with the process (even on SIGKILL)."""
    out.mkdir(parents=True, exist_ok=True)
    handle = open(out / ".run.lock", "a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise OutputConflict(f"{out} is in use by another `mixlab run` (it holds {out / '.run.lock'})") from None
    return handle


def run_command(args) -> int:
    pipeline = load_pipeline(args.pipeline, args.output, args.overrides)
    lock = None if args.dry_run else lock_run_folder(pipeline.output)
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
        lock.close()
