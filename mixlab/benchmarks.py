"""Benchmark docs exactly as lm-eval scores them, from the offline datasets cache or a local --benchmark-dir.

    from mixlab.benchmarks import load_task_docs
    task, docs, split = load_task_docs("gsm8k")                               # lm-eval's config, HF cache, offline
    task, docs, split = load_task_docs("gsm8k", benchmark_dir="benchmarks/")  # benchmarks/gsm8k.jsonl[.gz]|.parquet

A --benchmark-dir task is a generated YAML (`write_local_task_yamls`, reused by `mixlab eval`) that includes
lm-eval's own config and only swaps its dataset for the local file, so docs go through the same process_docs and
templates. Docs are read through a render-only copy of the config (no metrics, filters or few-shot sampler): that
way instantiating humaneval, whose metric module loads and runs `code_eval` on import, needs no network or code
execution, and no training split is read.
"""

from __future__ import annotations

import copy
import importlib.util
import re
import tempfile
from contextlib import contextmanager
from functools import cache, lru_cache
from pathlib import Path
from typing import NamedTuple

import yaml

LOCAL_TASK_PREFIX = "mixlab_local_"
LOCAL_FILE_BUILDERS = {".jsonl": "json", ".jsonl.gz": "json", ".parquet": "parquet"}  # suffix -> datasets builder
# lm-eval groups served from ONE local file holding every member's rows: member template, per-row description
GROUP_TEMPLATES = {
    "mmlu": ("mmlu/default/_default_template_yaml",
             "The following are multiple choice questions (with answers) about {{subject.replace('_', ' ')}}.\n\n"),
}
SCORING_KEYS = ("metric_list", "filter_list", "process_results")
_STRUCTURAL_KEYS = ("tag", "group", "task_list")  # lm-eval's factory drops these before building a task
_FUNCTION_REF = re.compile(r"^/[^\s{}]+\.\w+$")  # how lm-eval's YAML loader leaves `!function utils.fn` unresolved


class BenchmarkUnavailable(RuntimeError):
    """A requested benchmark has no docs here: unknown task, not in the datasets cache, or no local file."""


class TaskDocs(NamedTuple):
    name: str         # lm-eval task name: the task, a group member (mmlu_anatomy) or mixlab_local_<task>
    task: object      # render-only lm-eval ConfigurableTask
    docs: list[dict]  # the scored split, after the task's process_docs
    split: str


def local_task_file(benchmark_dir, task: str) -> Path:
    """BDIR/<task>.jsonl, .jsonl.gz or .parquet, whichever exists."""
    candidates = [Path(benchmark_dir) / f"{task}{suffix}" for suffix in LOCAL_FILE_BUILDERS]
    for path in candidates:
        if path.is_file():
            return path
    names = ", ".join(path.name for path in candidates)
    raise BenchmarkUnavailable(f"{task}: no local benchmark file in {benchmark_dir} (expected one of: {names})")


def write_local_task_yamls(tasks, benchmark_dir, out_dir) -> dict[str, str]:
    """Write OUT_DIR/mixlab_local_<task>.yaml per task (load with TaskManager(include_path=OUT_DIR)); task -> name."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = {}
    for task in tasks:
        data_file = local_task_file(benchmark_dir, task)
        base_yaml, base_cfg = _lm_eval_config(task)
        names[task] = LOCAL_TASK_PREFIX + task
        config = _local_task_config(task, names[task], base_yaml, base_cfg, data_file)
        (out_dir / f"{names[task]}.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return names


def load_subtask_docs(task: str, benchmark_dir=None, include_path=None) -> list[TaskDocs]:
    """The scored docs of `task`: one TaskDocs for a task, one per member task for an lm-eval group.

    Without benchmark_dir, tasks in `include_path` (a folder of task YAMLs) come first, then lm-eval's own.
    """
    if benchmark_dir is not None:
        with tempfile.TemporaryDirectory(prefix="mixlab-benchmarks-") as yaml_dir:
            local_name = write_local_task_yamls([task], benchmark_dir, yaml_dir)[task]
            return load_subtask_docs(local_name, include_path=yaml_dir)
    index = _index_with(task, include_path)
    return [_load_render_only(task, index[name]) for name in _leaf_tasks(index, task)]


def load_task_docs(task: str, benchmark_dir=None, include_path=None) -> tuple[object, list[dict], str]:
    """(the lm-eval Task, the scored docs, the split name) for a single task; groups: see load_subtask_docs."""
    loaded = load_subtask_docs(task, benchmark_dir, include_path)
    if len(loaded) != 1:
        raise ValueError(f"{task} is an lm-eval group of {len(loaded)} tasks; use load_subtask_docs")
    return loaded[0].task, loaded[0].docs, loaded[0].split


@contextmanager
def compiled_templates():
    """Render docs faster: lm-eval compiles a task's Jinja template again for every doc (~4 ms); compile once."""
    from lm_eval import utils

    original = utils.apply_template
    compile_once = lru_cache(maxsize=256)(utils.env.from_string)
    utils.apply_template = lambda template, doc: compile_once(template).render(**doc)
    try:
        yield
    finally:
        utils.apply_template = original


# ---- lm-eval configs -------------------------------------------------------------------------------------

def _lm_eval_tasks_dir() -> Path:
    import lm_eval.tasks

    return Path(lm_eval.tasks.__file__).parent


@cache
def _default_index(subdir: str | None) -> dict:
    """lm-eval's task index: of one folder of its tasks (fast), or of all of them (subdir None, ~10 s)."""
    from lm_eval.tasks import TaskManager

    if subdir is None:
        return TaskManager().task_index
    return TaskManager(include_path=_lm_eval_tasks_dir() / subdir, include_defaults=False).task_index


def _index_with(task: str, include_path=None) -> dict:
    """A task index holding `task`: include_path's, else lm-eval's (its likely folders first, then everything)."""
    from lm_eval.tasks import TaskManager

    if include_path is not None:
        index = TaskManager(include_path=include_path, include_defaults=False).task_index
        if task in index:
            return index
    tasks_dir = _lm_eval_tasks_dir()
    guesses = dict.fromkeys([task, task.split("_")[0]])  # gsm8k/ holds gsm8k, arc/ holds arc_challenge
    for subdir in [*(guess for guess in guesses if (tasks_dir / guess).is_dir()), None]:
        index = _default_index(subdir)
        if task in index:
            return index
    raise BenchmarkUnavailable(f"{task}: not an lm-eval task (lm-eval {_lm_eval_version()})")


def _lm_eval_config(task: str) -> tuple[Path, dict]:
    """The lm-eval config file a local task includes (a served group: its member template), unresolved."""
    from lm_eval.tasks._index import Kind
    from lm_eval.tasks._yaml_loader import load_yaml

    if task in GROUP_TEMPLATES:
        path = _lm_eval_tasks_dir() / GROUP_TEMPLATES[task][0]
        return path, load_yaml(path, resolve_func=False)
    entry = _index_with(task)[task]
    if entry.kind is not Kind.TASK:
        raise BenchmarkUnavailable(f"{task}: an lm-eval {entry.kind.name.lower()}; --benchmark-dir serves single "
                                   f"YAML tasks and the groups {', '.join(GROUP_TEMPLATES)}")
    return Path(entry.yaml_path), entry.cfg


def _scored_split(task: str, cfg: dict) -> str:
    split = cfg.get("test_split") or cfg.get("validation_split")
    if not split:
        raise BenchmarkUnavailable(f"{task}: lm-eval's config scores neither a test nor a validation split")
    return split


def local_file_builder(path: Path) -> str:
    """The datasets builder (json, parquet) that reads a --benchmark-dir file."""
    return next(builder for suffix, builder in LOCAL_FILE_BUILDERS.items() if path.name.endswith(suffix))


def local_fewshot_file(data_file: Path, task: str, split: str) -> Path | None:
    """BDIR/<task>.<split>.jsonl[.gz]|.parquet beside the scored file BDIR/<task>.*, readable by the same builder."""
    for suffix, builder in LOCAL_FILE_BUILDERS.items():
        path = data_file.parent / f"{task}.{split}{suffix}"
        if not path.is_file():
            continue
        if builder != local_file_builder(data_file):
            raise BenchmarkUnavailable(f"{path}: a {builder} few-shot file beside {data_file.name}; one task's files "
                                       "must share a format (.jsonl/.jsonl.gz, or .parquet)")
        return path.resolve()
    return None


def _local_task_config(task: str, name: str, base_yaml: Path, base_cfg: dict, data_file: Path) -> dict:
    """lm-eval's config with its dataset swapped for the local file of the scored split.

    Few-shot examples come from lm-eval's own few-shot split (e.g. gsm8k's train) when BDIR also holds
    <task>.<that split>.jsonl[.gz]|.parquet; without one, lm-eval samples them from the scored split minus the doc.
    """
    split = _scored_split(task, base_cfg)
    on_test = base_cfg.get("test_split") is not None
    data_files = {split: str(data_file.resolve())}
    fewshot_split = base_cfg.get("fewshot_split")
    fewshot_file = None
    if fewshot_split and fewshot_split != split and task not in GROUP_TEMPLATES:
        fewshot_file = local_fewshot_file(data_file, task, fewshot_split)
    if fewshot_file is not None:
        data_files[fewshot_split] = str(fewshot_file)
    config = {
        "include": str(base_yaml), "task": name, "task_alias": task, "tag": [],
        "dataset_path": local_file_builder(data_file), "dataset_name": None,
        "dataset_kwargs": {"data_files": data_files},
        "training_split": None, "validation_split": None if on_test else split,
        "test_split": split if on_test else None, "fewshot_split": fewshot_split if fewshot_file else None,
    }
    if task in GROUP_TEMPLATES:
        config["description"] = GROUP_TEMPLATES[task][1]
    return config


def _leaf_tasks(index: dict, name: str) -> list[str]:
    """The tasks a name stands for: itself, a tag's tasks, or a group's members (recursively, in lm-eval's order)."""
    from lm_eval.tasks._index import Kind

    entry = index[name]
    if entry.kind is Kind.TASK:
        return [name]
    if entry.kind is Kind.TAG:
        members = sorted(entry.tags)
    elif entry.kind is Kind.GROUP:
        members = [m if isinstance(m, str) else m.get("task") or m.get("group") for m in entry.cfg.get("task", [])]
    else:
        raise BenchmarkUnavailable(f"{name}: a Python-class lm-eval task; only YAML tasks can be read")
    unknown = [m for m in members if m not in index]
    if unknown:
        raise BenchmarkUnavailable(f"{name}: members {unknown} are not indexed tasks (inline configs unsupported)")
    return [leaf for member in members for leaf in _leaf_tasks(index, member)]


# ---- render-only tasks -----------------------------------------------------------------------------------

_DATA_KEYS = ("dataset_path", "dataset_name", "dataset_kwargs")  # e.g. .../gsm8k/train.jsonl looks like module.fn


def _render_only_config(cfg: dict) -> dict:
    """A task config that renders docs like `cfg` but scores nothing and reads only the scored split."""
    dropped = SCORING_KEYS + _STRUCTURAL_KEYS
    config = {key: value if key in _DATA_KEYS else _resolve_functions(value)  # a data path is never a function ref
              for key, value in copy.deepcopy(cfg).items() if key not in dropped}
    config.update(training_split=None, fewshot_split=None, fewshot_config={"samples": []}, num_fewshot=0)
    files = (config.get("dataset_kwargs") or {}).get("data_files")
    if isinstance(files, dict):  # a local task's few-shot file: not read for rendering
        scored = config.get("test_split") or config.get("validation_split")
        config["dataset_kwargs"] = {**config["dataset_kwargs"], "data_files": {scored: files[scored]}}
    return config


def _resolve_functions(value):
    """Import the `!function` refs lm-eval's loader left as '<yaml dir>/<module>.<fn>' strings."""
    from lm_eval.tasks._yaml_loader import _import_func_in_yml

    if isinstance(value, dict):
        return {key: _resolve_functions(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolve_functions(item) for item in value]
    if isinstance(value, str) and _is_function_ref(value):
        return _import_func_in_yml(Path(value).name, Path(value).parent)
    return value


def _is_function_ref(value: str) -> bool:
    """'<dir>/utils.fn' where <dir>/utils.py exists or `utils` imports (a data file path is neither)."""
    if not _FUNCTION_REF.match(value):
        return False
    path = Path(value)
    module = path.name.rpartition(".")[0]
    if (path.parent / f"{module.replace('.', '/')}.py").is_file():
        return True
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _load_render_only(requested: str, entry) -> TaskDocs:
    from lm_eval.api.task import ConfigurableTask

    config = _render_only_config(entry.cfg)
    try:
        with _quiet_offline_datasets():
            task = ConfigurableTask(config=config)
    except (ConnectionError, FileNotFoundError, ValueError) as err:  # ValueError: cached, but not this config
        raise BenchmarkUnavailable(f"{_not_cached_message(requested, entry.name, config)} ({err})") from err
    split = config["test_split"] or config["validation_split"]
    return TaskDocs(entry.name, task, list(task.task_docs), split)


@contextmanager
def _quiet_offline_datasets():
    """Read only from the cache (datasets and huggingface_hub read HF_*_OFFLINE once, at import), without logs."""
    import datasets
    import huggingface_hub.constants as hub_constants

    saved = datasets.config.HF_HUB_OFFLINE, hub_constants.HF_HUB_OFFLINE, datasets.logging.get_verbosity()
    bars_were_off = datasets.are_progress_bars_disabled()
    datasets.config.HF_HUB_OFFLINE = hub_constants.HF_HUB_OFFLINE = True
    datasets.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        datasets.config.HF_HUB_OFFLINE, hub_constants.HF_HUB_OFFLINE = saved[:2]
        datasets.logging.set_verbosity(saved[2])
        if not bars_were_off:
            datasets.enable_progress_bars()


def _not_cached_message(requested: str, name: str, config: dict) -> str:
    import datasets

    who = requested if requested == name else f"{requested} (task {name})"
    dataset_name = f"config {config.get('dataset_name')!r}, " if config.get("dataset_name") else ""
    split = config.get("test_split") or config.get("validation_split")
    return (f"{who} needs the Hugging Face dataset {config.get('dataset_path')!r} ({dataset_name}split {split!r}) "
            f"in the datasets cache (HF_HOME={datasets.config.HF_CACHE_HOME}); run with network once or pass "
            f"--benchmark-dir")


def _lm_eval_version() -> str:
    from importlib.metadata import version

    return version("lm_eval")
