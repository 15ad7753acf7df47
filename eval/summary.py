"""summary.json (the suite's metrics per task, each with its stderr) and report.md, from lm-eval's results.

    summary = summarize(results, specs, names)      # results: what lm_eval.simple_evaluate returned
    write_report(out / "report.md", summary, settings)
    metrics(summary["gsm8k"])                       # {"exact_match,flexible-extract": 0.41, ...}

summary.json shape (fractions, not percents; stderr null where lm-eval computes none, e.g. ifeval's inst level):
    {"gsm8k": {"exact_match,flexible-extract": 0.41, "exact_match,strict-match": 0.38,
               "stderr": {"exact_match,flexible-extract": 0.0135, "exact_match,strict-match": 0.0134},
               "n": 1319, "num_fewshot": 5},
     "mmlu": {"acc": 0.62, "stderr": {"acc": 0.0039}, "n": 14042, "num_fewshot": 0}}
Metric names are lm-eval's result keys ("metric,filter") without the ",none" of unfiltered metrics; a metric the
run did not report is null. The keys "stderr", "n" and "num_fewshot" are reserved; `metrics()` leaves them out.
"""

from __future__ import annotations

from pathlib import Path

RESERVED_KEYS = ("stderr", "n", "num_fewshot")


def metrics(entry: dict) -> dict:
    """The metric -> value items of one task's summary entry."""
    return {key: value for key, value in entry.items() if key not in RESERVED_KEYS}


def summarize(results: dict, specs: dict, names: dict) -> dict:
    """{task: {metric: value, "stderr": {metric: stderr}, "n": docs scored, "num_fewshot": shots}}."""
    summary = {}
    for task, spec in specs.items():
        name = names[task]
        reported = results["results"].get(name, {})
        keys = [_result_key(reported, metric) for metric in spec.metrics] if spec.metrics else _all_metrics(reported)
        wanted = spec.metrics or [_display(key) for key in keys]
        entry = {metric: _number(reported.get(key)) for metric, key in zip(wanted, keys)}
        entry["stderr"] = {metric: _number(reported.get(_stderr_key(key))) for metric, key in zip(wanted, keys)}
        entry["n"] = _docs_scored(results, name)
        entry["num_fewshot"] = _shots(results, name)
        summary[task] = entry
    return summary


def _result_key(reported: dict, metric: str) -> str | None:
    """lm-eval's key for a suite metric: "acc" -> "acc,none"; "exact_match,strict-match" as is; None if absent."""
    if "," in metric:
        return metric if metric in reported else None
    if f"{metric},none" in reported:
        return f"{metric},none"
    matches = [key for key in reported if key.split(",")[0] == metric]
    return matches[0] if len(matches) == 1 else None


def _all_metrics(reported: dict) -> list[str]:
    return [key for key in reported if "," in key and "_stderr," not in key]


def _display(key: str) -> str:
    return key.removesuffix(",none")


def _stderr_key(key: str | None) -> str | None:
    if key is None:
        return None
    metric, _, filter_name = key.partition(",")
    return f"{metric}_stderr,{filter_name}"


def _number(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _docs_scored(results: dict, name: str) -> int:
    """Docs scored for a task, or summed over a group's members."""
    counts = results.get("n-samples", {})
    if name in counts:
        return int(counts[name]["effective"])
    children = results.get("group_subtasks", {}).get(name, [])
    return sum(_docs_scored(results, child) for child in children)


def _shots(results: dict, name: str) -> int | None:
    shots = results.get("n-shot", {})
    if name in shots:
        return shots[name]
    children = results.get("group_subtasks", {}).get(name, [])
    return next((_shots(results, child) for child in children), None)


# ---- report.md ------------------------------------------------------------------------------------------

def write_report(path: Path, summary: dict, settings: dict) -> None:
    chat = settings["chat_template"]
    lines = [
        f"# Eval of `{settings['model']}`", "",
        f"- suite: **{settings['suite']}**, backend: {settings['backend']}, limit: {settings['limit']}",
        f"- chat template: **{'on' if chat['on'] else 'off'}** ({chat['reason']})"
        + ("; few-shot examples as earlier turns" if chat["on"] else ""),
        f"- `<think>…</think>` stripped before scoring: {'yes' if settings['strip_think'] else 'no'}",
        f"- wall time: {settings['wall_seconds']:.0f} s; lm-eval {settings['versions'].get('lm-eval', '?')}",
        f"- command: `{settings['command']}`", "",
    ]
    for task, why in settings["skipped"].items():
        lines += [f"> **{task} SKIPPED**: {why}.", ""]
    if "humaneval" in summary:
        lines += ["> humaneval: lm-eval's prompts and programs; the tests run in mixlab's sandbox (the `code` "
                  "verifier) instead of `evaluate`'s code_eval.", ""]
    lines += ["| task | metric | score (%) | ± stderr | docs | shots | max new tokens |",
              "|---|---|---:|---:|---:|---:|---:|"]
    for task, entry in summary.items():
        budget = settings["tasks"].get(task, {}).get("max_gen_toks") or ""
        for metric, value in metrics(entry).items():
            lines.append(f"| {task} | {metric} | {_percent(value)} | {_percent(entry['stderr'][metric])} | "
                         f"{entry['n']} | {entry['num_fewshot']} | {budget} |")
    generated = ", `tasks/` (the generated --benchmark-dir task configs)" if settings["benchmark_dir"] else ""
    lines += ["", "Files: `results.json` (lm-eval's), `summary.json`, `samples/<task>.jsonl` (per-doc prompts, "
              f"responses and scores), `eval.json` (settings){generated}.", ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}"
