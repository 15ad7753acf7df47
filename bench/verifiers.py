"""Verifier benchmark: IFEval agreement with lm-eval's scorer, HumanEval in the sandbox, math golds in many formats.

    .venv/bin/python bench/verifiers.py                  # needs ../shared/data (real IFEval, HumanEval, GSM8K, MATH)
    .venv/bin/python bench/verifiers.py --limit 50       # a quick look at the first 50 items of each set

Prints one markdown table: (a) the 541 IFEval prompts with GPT-4's responses, scored by mixlab's `ifeval` verifier
and by lm-eval's own `process_results` (instruction-level agreement, prompt-level accuracy of each, strict and
loose); (b) the 164 HumanEval canonical solutions and two broken variants of each (body `return None`, body
`raise NotImplementedError`) through the `code` verifier, when it is registered; (c) GSM8K test and MATH-500 gold
answers rewritten in several formats, scored by the `math` verifier against the gold; (d) items/s of each verifier
(one process, sequential). `--json FILE` also writes the numbers.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mixlab.verifiers import VERIFIERS, VerifierError, verify  # noqa: E402
from mixlab.verifiers.ifeval import lm_eval_ifeval  # noqa: E402
from mixlab.verifiers.math import last_boxed  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
IFEVAL_RESPONSES = "input_response_data_gpt4_20231107_145030.jsonl"
ROWS: list[tuple[str, str, str, str]] = []  # (check, result, target, items/s)


def read_jsonl(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}" if seconds > 0 else "-"


def timed_verify(spec: dict, response: str, clock: list[float], **kwargs):
    start = time.perf_counter()
    try:
        return verify(spec, response, **kwargs)
    finally:
        clock[0] += time.perf_counter() - start


def ifeval_docs(limit: int | None) -> list[tuple[dict, str]]:
    """(lm-eval doc, GPT-4 response) pairs: input_data.jsonl joined with the responses file by prompt."""
    docs = {row["prompt"]: row for row in read_jsonl(SHARED / "ifeval" / "input_data.jsonl")}
    pairs = [(docs[row["prompt"]], row["response"]) for row in read_jsonl(SHARED / "ifeval" / IFEVAL_RESPONSES)]
    return pairs[:limit]


def bench_ifeval(limit: int | None) -> dict:
    _, utils = lm_eval_ifeval()
    pairs = ifeval_docs(limit)
    out = {"prompts": len(pairs), "refused": []}
    for mode in ("strict", "loose"):
        agree = total = ours_all = lm_all = lm_all_scored = 0
        clock = [0.0]
        for doc, response in pairs:
            reference = utils.process_results(doc, [response])
            lm_all += reference[f"prompt_level_{mode}_acc"]
            spec = {"name": "ifeval", "instruction_id_list": doc["instruction_id_list"], "kwargs": doc["kwargs"],
                    "prompt": doc["prompt"], "loose": mode == "loose"}
            try:
                result = timed_verify(spec, response, clock)
            except VerifierError as err:
                if mode == "strict":
                    out["refused"].append(f"key {doc['key']}: {err}")
                continue
            expected = reference[f"inst_level_{mode}_acc"]
            agree += sum(a == b for a, b in zip(result.details["follow_instruction_list"], expected))
            total += len(expected)
            ours_all += result.details["follow_all_instructions"]
            lm_all_scored += reference[f"prompt_level_{mode}_acc"]
        scored = len(pairs) - len(out["refused"])
        out[mode] = {"instructions": total, "agreement": agree / total, "ours_prompt_acc": ours_all / scored,
                     "lm_eval_prompt_acc_scored": lm_all_scored / scored, "lm_eval_prompt_acc_all": lm_all / len(pairs),
                     "items_per_s": scored / clock[0]}
    return out


def report_ifeval(out: dict) -> None:
    scored = out["prompts"] - len(out["refused"])
    for mode in ("strict", "loose"):
        m = out[mode]
        ROWS.append((f"IFEval instruction-level agreement, {mode} ({m['instructions']} instr., {scored} prompts)",
                     f"{m['agreement']:.2%}", "≥ 99.5 %", rate(scored, scored / m["items_per_s"])))
        ROWS.append((f"IFEval prompt-level {mode} acc: mixlab / lm-eval (same {scored} prompts)",
                     f"{m['ours_prompt_acc']:.4f} / {m['lm_eval_prompt_acc_scored']:.4f}",
                     "≈ 0.77" if mode == "strict" else "", ""))
        ROWS.append((f"IFEval prompt-level {mode} acc: lm-eval, all {out['prompts']} prompts",
                     f"{m['lm_eval_prompt_acc_all']:.4f}", "", ""))
    ROWS.append(("IFEval prompts refused (lm-eval would draw a random argument)", str(len(out["refused"])), "", ""))


BROKEN_BODIES = {"return None": "    return None\n", "raise": "    raise NotImplementedError\n"}


def bench_humaneval(limit: int | None) -> dict | None:
    if "code" not in VERIFIERS:
        return None
    problems = read_jsonl(SHARED / "humaneval" / "HumanEval.jsonl.gz")[:limit]
    out = {"problems": len(problems), "canonical_pass": 0, "broken_pass": {}, "failed_canonical": []}
    clock = [0.0]
    for problem in problems:
        spec = {"name": "code", "prompt": problem["prompt"], "test": problem["test"],
                "entry_point": problem["entry_point"]}
        result = timed_verify(spec, problem["canonical_solution"], clock, allow_code_exec=True)
        out["canonical_pass"] += result.score == 1.0
        if result.score != 1.0:
            out["failed_canonical"].append(problem["task_id"])
        for name, body in BROKEN_BODIES.items():
            broken = timed_verify(spec, body, clock, allow_code_exec=True)
            out["broken_pass"][name] = out["broken_pass"].get(name, 0) + (broken.score == 1.0)
    out["items_per_s"] = 3 * len(problems) / clock[0]
    return out


def report_humaneval(out: dict | None) -> None:
    if out is None:
        ROWS.append(("HumanEval canonical / broken (code verifier)", "skipped: code verifier not registered", "", ""))
        return
    n = out["problems"]
    ROWS.append((f"HumanEval canonical solutions pass (sandbox, {n})", f"{out['canonical_pass']}/{n}", f"{n}/{n}",
                 rate(1, 1 / out["items_per_s"])))
    for name, passed in out["broken_pass"].items():
        ROWS.append((f"HumanEval broken variant passes: body `{name}`", f"{passed}/{n}", f"0/{n}", ""))


def gsm8k_formats(row: dict) -> dict[str, str]:
    gold = row["answer"].rsplit("####", 1)[1].strip()
    number = float(gold.replace(",", ""))
    commas = f"{int(number):,}" if number.is_integer() else gold
    return {
        "whole gold solution": row["answer"],
        "#### N": f"#### {gold}",
        "The answer is N.": f"The answer is {gold}.",
        "\\boxed{N}": f"So we get \\boxed{{{gold}}}",
        "last number, with commas": f"Adding it all up gives {commas} in total.",
        "<think> wrong </think> answer": f"<think>Maybe {gold}7? No.</think>The answer is {commas}.",
    }


def math_formats(row: dict) -> dict[str, str]:
    answer = row["answer"]
    return {
        "whole gold solution": row["solution"],
        "\\boxed{ans}": f"\\boxed{{{answer}}}",
        "The answer is $ans$.": f"The answer is ${answer}$.",
        "Minerva 'Final Answer: ... $ans$'": f"Final Answer: The final answer is ${answer}$. I hope it is correct.",
    }


def bench_math(limit: int | None) -> dict:
    sets = {"GSM8K test": (read_jsonl(SHARED / "gsm8k" / "test.jsonl")[:limit], gsm8k_formats, "answer"),
            "MATH-500": (read_jsonl(SHARED / "math" / "math500_test.jsonl.gz")[:limit], math_formats, "answer")}
    out = {}
    for name, (rows, formats, gold_field) in sets.items():
        passed: dict[str, int] = {}
        failures: list[str] = []
        clock = [0.0]
        for row in rows:
            for fmt, response in formats(row).items():
                ok = timed_verify({"name": "math", "answer": row[gold_field]}, response, clock).score == 1.0
                passed[fmt] = passed.get(fmt, 0) + ok
                if not ok and len(failures) < 5:
                    failures.append(f"{fmt}: gold {row[gold_field][-60:]!r}")
        out[name] = {"items": len(rows), "passed": passed, "failures": failures,
                     "items_per_s": len(rows) * len(passed) / clock[0],
                     "gold_in_solution": sum(last_boxed(r.get("solution", "")) == r[gold_field] for r in rows)}
    return out


def report_math(out: dict) -> None:
    for name, m in out.items():
        n = m["items"]
        for fmt, passed in m["passed"].items():
            ROWS.append((f"{name} gold vs itself: {fmt}", f"{passed}/{n} ({passed / n:.1%})", "", ""))
        ROWS.append((f"{name} math verifier, all formats", "", "", rate(1, 1 / m["items_per_s"])))


def bench_format(limit: int | None) -> float:
    responses = [f"<think>step {i}</think>The answer is {i}." for i in range(limit or 5000)]
    clock = [0.0]
    for response in responses:
        timed_verify({"name": "format"}, response, clock)
    return len(responses) / clock[0]


def print_table(rows: list[tuple[str, str, str, str]]) -> None:
    header = ("check", "result", "target", "items/s")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths)) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="first N items of each set")
    parser.add_argument("--json", type=Path, default=None, help="also write all numbers here")
    args = parser.parse_args()
    start = time.perf_counter()
    lm_eval_ifeval()  # one-time lm-eval import and punkt_tab provisioning, outside the timings
    results = {"ifeval": bench_ifeval(args.limit), "humaneval": bench_humaneval(args.limit),
               "math": bench_math(args.limit), "format_items_per_s": bench_format(args.limit)}
    report_ifeval(results["ifeval"])
    report_humaneval(results["humaneval"])
    report_math(results["math"])
    ROWS.append(("format verifier", "", "", rate(1, 1 / results["format_items_per_s"])))
    print_table(ROWS)
    for refused in results["ifeval"]["refused"]:
        print(f"refused: {refused}")
    for name, m in results["math"].items():
        for failure in m["failures"]:
            print(f"{name} failure: {failure}")
    if results["humaneval"] and results["humaneval"]["failed_canonical"]:
        print("HumanEval canonical failures:", ", ".join(results["humaneval"]["failed_canonical"]))
    print(f"wall seconds: {time.perf_counter() - start:.0f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
