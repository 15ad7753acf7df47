"""HumanEval through lm-eval with its tests run in mixlab's sandbox (the `code` verifier), offline.

    config = humaneval_config(chat=True, benchmark_dir=None)   # an inline lm-eval task config (TaskManager.load)

lm-eval's own humaneval scores with Hugging Face `evaluate`'s code_eval, a metric script fetched from the hub
(no network here) that runs the code unsandboxed. This config keeps lm-eval's prompt, generation settings and
program assembly (prompt + completion, then the task's tests and `check(entry_point)`) and swaps only the scorer.
With the chat template on it is lm-eval's humaneval_instruct (the answer continues a ```python block; the
completion is cut at the closing fence), the form a chat model can answer.
"""

from __future__ import annotations

from pathlib import Path

from mixlab.benchmarks import local_file_builder, local_task_file

TASK_NAME = "mixlab_humaneval"
TIMEOUT_S = 3.0  # code_eval's per-program timeout


def code_verifier_available() -> bool:
    import mixlab.verifiers

    return "code" in mixlab.verifiers.VERIFIERS


def humaneval_config(chat: bool, benchmark_dir=None) -> dict:
    """lm-eval's humaneval (chat: humaneval_instruct) config, scored by `pass_at_1` / `pass_at_1_instruct`."""
    import lm_eval.tasks
    from lm_eval.tasks._yaml_loader import load_yaml

    name = "humaneval_instruct.yaml" if chat else "humaneval.yaml"
    config = load_yaml(Path(lm_eval.tasks.__file__).parent / "humaneval" / name, resolve_func=False)
    for key in ("metric_list", "filter_list", "tag"):
        config.pop(key, None)
    config.update(task=TASK_NAME, task_alias="humaneval",
                  process_results=pass_at_1_instruct if chat else pass_at_1,
                  metric_list=[{"metric": "pass@1", "aggregation": "mean", "higher_is_better": True}])
    if benchmark_dir is not None:
        data_file = local_task_file(benchmark_dir, "humaneval").resolve()
        config.update(dataset_path=local_file_builder(data_file), dataset_name=None,
                      dataset_kwargs={"data_files": {config["test_split"]: str(data_file)}})
    return config


def pass_at_1(doc: dict, results: list[str]) -> dict:
    """lm-eval's humaneval: the completion continues the prompt."""
    return {"pass@1": run_tests(doc, doc["prompt"] + results[0])}


def pass_at_1_instruct(doc: dict, results: list[str]) -> dict:
    """lm-eval's humaneval_instruct: the completion continues the prompt inside a code block, up to its fence."""
    completion = results[0]
    fence = completion.find("```")
    return {"pass@1": run_tests(doc, doc["prompt"] + (completion if fence == -1 else completion[:fence]))}


def run_tests(doc: dict, program: str) -> float:
    """1.0 when `program` (it already holds the prompt) passes the doc's tests in the sandbox; the task only runs
    when the user allowed code execution."""
    from mixlab.verifiers import verify

    spec = {"name": "code", "prompt": "", "test": doc["test"], "entry_point": doc["entry_point"], "timeout": TIMEOUT_S}
    return float(verify(spec, program, allow_code_exec=True).score)
