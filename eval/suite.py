"""Eval suites: per task the few-shot count, the metrics reported and the generation budget (eval/suites/*.yaml).

    suite = load_suite("mission", overrides=["tasks.gsm8k.max_gen_toks=512"])   # or "quick", or a YAML path
    tasks, skipped = select_tasks(suite, requested=["gsm8k", "humaneval"], allow_code_exec=False)

A task the suite does not list may still be requested: it runs with lm-eval's own settings and every metric
lm-eval reports. humaneval executes generated code: a suite's humaneval is skipped (with a note) without
--allow-code-exec, and asking for it by name without the flag is an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mixlab.recipe import RecipeError, apply_overrides, from_dict, read_yaml

SUITES_DIR = Path(__file__).with_name("suites")
CHAT_TEMPLATE_SETTINGS = ("auto", "on", "off")
CODE_TASKS = ("humaneval",)  # tasks whose metric runs the generated code


class InputError(ValueError):
    """A request `mixlab eval` cannot run (mixlab's CLI prints it as one line)."""


@dataclass
class TaskSpec:
    num_fewshot: int | None = None    # None: lm-eval's default for the task
    metrics: list = field(default_factory=list)  # lm-eval result keys ("acc", "exact_match,strict-match"); [] = all
    max_gen_toks: int | None = None   # generative tasks: new-token budget (None: the task's own)


@dataclass
class Suite:
    name: str = "custom"
    chat_template: str = "auto"       # auto | on | off
    strip_think: bool = True          # chat template on: score only the text after </think>
    limit: int | None = None          # docs per task (lm-eval's limit); --limit overrides
    tasks: dict = field(default_factory=dict)  # task -> TaskSpec


def suite_path(name_or_file: str) -> Path:
    """A built-in suite name (mission, quick) or a YAML file."""
    builtin = SUITES_DIR / f"{name_or_file}.yaml"
    if builtin.is_file():
        return builtin
    path = Path(name_or_file)
    if path.is_file():
        return path
    names = ", ".join(sorted(p.stem for p in SUITES_DIR.glob("*.yaml")))
    raise RecipeError(f"{name_or_file}: not a built-in suite ({names}) nor a suite YAML file")


def load_suite(name_or_file: str, overrides: list[str] | None = None) -> Suite:
    path = suite_path(name_or_file)
    data = apply_overrides(read_yaml(path), overrides or [])
    tasks = data.pop("tasks", None) or {}
    if not isinstance(tasks, dict):
        raise RecipeError(f"{path}: field 'tasks': expected a mapping of task name -> settings")
    suite = from_dict(Suite, data, str(path), source=path)
    suite.tasks = {name: from_dict(TaskSpec, spec or {}, str(path), f"tasks.{name}.", source=path)
                   for name, spec in tasks.items()}
    if suite.chat_template not in CHAT_TEMPLATE_SETTINGS:
        raise RecipeError(f"{path}: field 'chat_template': expected one of {', '.join(CHAT_TEMPLATE_SETTINGS)}, "
                          f"got {suite.chat_template!r}")
    return suite


def select_tasks(suite: Suite, requested: list[str] | None, allow_code_exec: bool) -> tuple[dict, dict]:
    """({task: TaskSpec} to run, {task: why it is skipped}); requested None means the whole suite."""
    if requested:
        blocked = [task for task in requested if task in CODE_TASKS and not allow_code_exec]
        if blocked:
            raise InputError(f"{', '.join(blocked)} executes generated code: pass --allow-code-exec to run it")
        return {task: suite.tasks.get(task, TaskSpec()) for task in dict.fromkeys(requested)}, {}
    tasks, skipped = {}, {}
    for task, spec in suite.tasks.items():
        if task in CODE_TASKS and not allow_code_exec:
            skipped[task] = "executes generated code; rerun with --allow-code-exec to score it"
        else:
            tasks[task] = spec
    if not tasks:
        raise InputError(f"suite {suite.name!r}: no task to run")
    return tasks, skipped
