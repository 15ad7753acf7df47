"""lm-eval Task objects for a suite: lm-eval's configs (or --benchmark-dir local copies) with the suite's settings.

    built = build_tasks(specs, benchmark_dir=None, work_dir=out / "tasks", chat=True)
    lm_eval.simple_evaluate(..., tasks=built.objects, task_manager=built.manager)

Every task is checked first through mixlab.benchmarks (offline datasets cache or BDIR/<task>.jsonl[.gz]|.parquet),
so a benchmark that is not here fails before any model loads, with an error naming the dataset. A --benchmark-dir
task is a generated YAML that includes lm-eval's config (mixlab.benchmarks.write_local_task_yamls): same prompts,
filters and metrics. humaneval is eval/humaneval.py's config (lm-eval's, scored in mixlab's sandbox).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from eval.humaneval import TASK_NAME as HUMANEVAL_TASK
from eval.humaneval import code_verifier_available, humaneval_config
from eval.suite import CODE_TASKS, InputError, TaskSpec
from mixlab.benchmarks import BenchmarkUnavailable, load_subtask_docs, write_local_task_yamls


class BuiltTasks(NamedTuple):
    objects: list         # lm-eval Task / Group objects, one per suite task (simple_evaluate's `tasks`)
    names: dict           # suite task -> the name lm-eval reports it under (results.json keys)
    manager: object       # the TaskManager that built them


def build_tasks(specs: dict[str, TaskSpec], benchmark_dir, work_dir, chat: bool) -> BuiltTasks:
    """Check, load and configure every task; raises BenchmarkUnavailable naming what is missing."""
    for task in specs:
        check_available(task, benchmark_dir)
    manager, names = _task_manager(list(specs), benchmark_dir, work_dir)
    objects = []
    for task, spec in specs.items():
        if task in CODE_TASKS:
            loaded, names[task] = _load(manager, task, humaneval_config(chat, benchmark_dir)), HUMANEVAL_TASK
        else:
            loaded = _load(manager, task, names[task])
        for leaf in loaded["tasks"].values():
            apply_spec(leaf, spec)
        objects.append(loaded["groups"].get(names[task]) or loaded["tasks"][names[task]])
    return BuiltTasks(objects, names, manager)


def check_available(task: str, benchmark_dir) -> None:
    """Read the task's docs the way mixlab.benchmarks does: its errors name the dataset or the local file."""
    if task in CODE_TASKS and not code_verifier_available():
        raise InputError(f"{task}: scoring runs the tests in mixlab's sandbox, but the `code` verifier is not "
                         "registered in mixlab.verifiers")
    load_subtask_docs(task, benchmark_dir)


def apply_spec(task, spec: TaskSpec) -> None:
    """The suite's few-shot count and generation budget on one lm-eval task."""
    if spec.num_fewshot is not None:
        task.set_config(key="num_fewshot", value=spec.num_fewshot)
    if spec.max_gen_toks is not None and task.get_config("output_type") == "generate_until":
        generation = dict(task.get_config("generation_kwargs") or {})
        generation["max_gen_toks"] = spec.max_gen_toks
        task.set_config(key="generation_kwargs", value=generation)


def _task_manager(tasks: list[str], benchmark_dir, work_dir):
    """(TaskManager, {task: lm-eval name}): local YAMLs only with a --benchmark-dir, else lm-eval's whole index."""
    from lm_eval.tasks import TaskManager

    if benchmark_dir is None:
        return TaskManager(), {task: task for task in tasks}
    local = [task for task in tasks if task not in CODE_TASKS]
    for stale in Path(work_dir).glob("*.yaml"):  # TaskManager indexes the whole folder
        stale.unlink()
    names = write_local_task_yamls(local, benchmark_dir, work_dir)
    return TaskManager(include_path=str(work_dir), include_defaults=False), names


def _load(manager, task: str, spec) -> dict:
    try:
        return manager.load([spec])
    except (ConnectionError, FileNotFoundError, KeyError, ValueError) as err:
        raise BenchmarkUnavailable(f"{task}: lm-eval could not load it ({type(err).__name__}: {err})") from err
