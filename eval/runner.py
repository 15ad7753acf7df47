"""Run a suite on a checkpoint with `lm_eval.simple_evaluate` and write DIR/results.json, samples/, summary, report.

    run = EvalRun(model="runs/sft", output="runs/sft/eval", suite=load_suite("mission"))
    summary = run_eval(run)

Backend: vLLM when it is installed and a GPU is present (data-parallel over all GPUs through lm-eval's
data_parallel_size, which needs ray), transformers otherwise. Prompts go through the checkpoint's chat template
(few-shot examples as earlier turns) when the suite's `chat_template` says so (auto: eval/checkpoint.py); then
lm-eval's `think_end_token` drops everything up to </think> before scoring. Without the chat template a base model
does not think, and on vLLM a think_end_token would also disable the tasks' stop sequences.
"""

from __future__ import annotations

import importlib.util
import json
import shlex
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from eval.checkpoint import ChatDecision, decide_chat_template
from eval.suite import InputError, Suite, select_tasks
from eval.summary import summarize, write_report
from eval.tasks import build_tasks

THINK_END = "</think>"
BACKENDS = ("vllm", "hf")
CPU_BATCH_SIZE = 8


@dataclass
class EvalRun:
    model: str
    output: str
    suite: Suite
    tasks: list[str] | None = None        # None: the whole suite
    backend: str | None = None            # None: vllm when usable, else hf
    limit: int | None = None              # None: the suite's
    benchmark_dir: str | None = None
    allow_code_exec: bool = False
    command: str = field(default_factory=lambda: shlex.join(["mixlab", *sys.argv[1:]]))


def run_eval(run: EvalRun) -> dict:
    """Evaluate, write every output file, print where they are; returns summary.json's content."""
    started = time.time()
    out = Path(run.output)
    check_model(run.model)
    specs, skipped = select_tasks(run.suite, run.tasks, run.allow_code_exec)
    for task, why in skipped.items():
        print(f"mixlab eval: SKIPPED {task}: {why}", file=sys.stderr)
    if "ifeval" in specs:
        provision_ifeval()
    chat = decide_chat_template(run.model, run.suite.chat_template)
    print(f"mixlab eval: chat template {'on' if chat.on else 'off'} ({chat.reason})")
    built = build_tasks(specs, run.benchmark_dir, out / "tasks", chat.on)
    backend = choose_backend(run.backend)
    model_args = backend_model_args(backend, run.model, chat.on and run.suite.strip_think)
    results = simple_evaluate(backend, model_args, built, chat, run)
    if results is None:  # not the main process of a multi-process run
        return {}
    summary = summarize(results, specs, built.names)
    settings = run_settings(run, specs, skipped, chat, backend, model_args, built.names, time.time() - started)
    write_outputs(out, results, summary, settings, built.names)
    print(f"mixlab eval: {len(summary)} tasks in {settings['wall_seconds']:.0f} s -> {out}/report.md")
    return summary


def check_model(model: str) -> None:
    """A model folder, or a model id in the offline HF cache; anything else fails before any work starts."""
    if Path(model).is_dir():
        return
    from transformers import AutoConfig

    try:
        AutoConfig.from_pretrained(model)
    except (OSError, ValueError) as err:
        raise InputError(f"{model}: not a model folder nor a model in the HF cache ({type(err).__name__})") from None


def provision_ifeval() -> None:
    """IFEval's sentence counts need NLTK's punkt_tab, written offline by mixlab.verifiers when that is installed."""
    try:
        from mixlab.verifiers.punkt_tab import ensure_punkt_tab
    except ImportError:
        print("mixlab eval: note: NLTK punkt_tab provisioning unavailable; ifeval's sentence-count instructions "
              "need it in nltk_data", file=sys.stderr)
        return
    ensure_punkt_tab()


def choose_backend(requested: str | None) -> str:
    vllm_usable = importlib.util.find_spec("vllm") is not None and _gpu_count() > 0
    if requested == "vllm" and not vllm_usable:
        raise InputError("--backend vllm needs the vllm package and a GPU (pip install '.[gpu]')")
    if requested:
        return requested
    return "vllm" if vllm_usable else "hf"


def backend_model_args(backend: str, model: str, strip_think: bool) -> dict:
    args = {"pretrained": model, "dtype": "auto"}
    if strip_think:
        args["think_end_token"] = THINK_END
    if backend == "hf":
        args["device"] = "cuda" if _gpu_count() else "cpu"
        return args
    gpus = _gpu_count()
    if gpus > 1 and importlib.util.find_spec("ray") is None:
        print(f"mixlab eval: note: ray is not installed, so vLLM runs on 1 of {gpus} GPUs", file=sys.stderr)
        gpus = 1
    args.update(data_parallel_size=max(gpus, 1), gpu_memory_utilization=0.9)
    return args


def simple_evaluate(backend: str, model_args: dict, built, chat: ChatDecision, run: EvalRun) -> dict | None:
    import lm_eval

    gpu = _gpu_count() > 0
    return lm_eval.simple_evaluate(
        model=backend, model_args=model_args, tasks=built.objects, task_manager=built.manager,
        batch_size="auto" if gpu or backend == "vllm" else CPU_BATCH_SIZE,
        limit=run.limit if run.limit is not None else run.suite.limit,
        log_samples=True, apply_chat_template=chat.on, fewshot_as_multiturn=chat.on,
        confirm_run_unsafe_code=run.allow_code_exec,
    )


def run_settings(run: EvalRun, specs, skipped, chat, backend, model_args, names, seconds) -> dict:
    """DIR/eval.json: what was run and every decision taken on the way (report.md and compare read it)."""
    from mixlab.manifest import package_versions

    return {
        "command": run.command, "model": run.model, "backend": backend, "model_args": model_args,
        "suite": run.suite.name, "tasks": {task: asdict(spec) for task, spec in specs.items()},
        "lm_eval_tasks": names, "skipped": skipped,
        "chat_template": {"on": chat.on, "reason": chat.reason},
        "strip_think": bool(chat.on and run.suite.strip_think),
        "limit": run.limit if run.limit is not None else run.suite.limit,
        "benchmark_dir": run.benchmark_dir, "wall_seconds": round(seconds, 1), "versions": package_versions(),
    }


def write_outputs(out: Path, results: dict, summary: dict, settings: dict, names: dict) -> None:
    from lm_eval.utils import handle_non_serializable

    out.mkdir(parents=True, exist_ok=True)
    samples = results.pop("samples", {})
    (out / "results.json").write_text(json.dumps(results, indent=2, default=handle_non_serializable) + "\n")
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "eval.json").write_text(json.dumps(settings, indent=2) + "\n")
    write_samples(out / "samples", samples, names)
    write_report(out / "report.md", summary, settings)


def write_samples(folder: Path, samples: dict, names: dict) -> None:
    """samples/<task>.jsonl: lm-eval's per-doc log (prompt, response, filtered answer, scores); a group's members
    keep lm-eval's names (mmlu_anatomy.jsonl)."""
    from lm_eval.utils import handle_non_serializable

    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.jsonl"):
        stale.unlink()
    display = {lm_name: task for task, lm_name in names.items()}
    for lm_name, rows in samples.items():
        with (folder / f"{display.get(lm_name, lm_name)}.jsonl").open("w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, default=handle_non_serializable) + "\n")


def _gpu_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0
