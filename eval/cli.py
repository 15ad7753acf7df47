"""`mixlab eval MODEL --output DIR [...]` and `mixlab eval compare DIR... [--output PNG|DIR]` (mixlab.cli adds them).

    mixlab eval runs/sft --output runs/sft/eval --benchmark-dir benchmarks/ --limit 50
    mixlab eval compare runs/base/eval runs/sft/eval runs/rl/eval --output runs/compare
"""

from __future__ import annotations

from eval.suite import CHAT_TEMPLATE_SETTINGS, InputError

USAGE = ("mixlab eval MODEL --output DIR [--suite mission|quick|FILE] [--tasks TASK ...] [--backend vllm|hf] "
         "[--limit N] [--benchmark-dir BDIR] [--allow-code-exec]\n"
         "       mixlab eval compare DIR [DIR ...] [--output PNG|DIR]")
DESCRIPTION = ("Score a checkpoint on a benchmark suite with lm-eval (simple_evaluate): writes DIR/results.json "
               "(lm-eval's), DIR/summary.json ({task: {metric: value, 'stderr': {metric: stderr}, 'n', "
               "'num_fewshot'}}), DIR/report.md and per-doc logs in DIR/samples/. Offline: tasks come from the HF "
               "datasets cache (HF_HOME) or --benchmark-dir. `mixlab eval compare DIR...` prints a table of several "
               "runs and writes a bar chart with the deltas against the first.")


def add_eval(sub) -> None:
    p = sub.add_parser("eval", help="score a checkpoint on the benchmark suite (lm-eval); `eval compare` runs",
                       usage=USAGE, description=DESCRIPTION)
    p.add_argument("model", metavar="MODEL", help="a model folder (or `compare`, then eval output folders)")
    p.add_argument("dirs", nargs="*", metavar="DIR", help="with `compare`: eval output folders, baseline first")
    p.add_argument("--output", help="eval: output folder (required); compare: a .png path or a folder "
                   "(default: eval-compare/)")
    p.add_argument("--suite", default="mission", help="mission (the nine graded tasks), quick, or a suite YAML")
    p.add_argument("--tasks", nargs="+", metavar="TASK", help="only these tasks (comma or space separated); a task "
                   "outside the suite runs with lm-eval's defaults")
    p.add_argument("--backend", choices=("vllm", "hf"), help="default: vllm when installed with a GPU, else hf")
    p.add_argument("--limit", type=int, metavar="N", help="docs per task (default: the suite's)")
    p.add_argument("--benchmark-dir", metavar="BDIR", help="BDIR/<task>.jsonl[.gz]|.parquet with lm-eval's HF "
                   "fields, read through generated task YAMLs (default: the offline HF datasets cache)")
    p.add_argument("--allow-code-exec", action="store_true",
                   help="run humaneval: its tests execute the generated code (in mixlab's sandbox)")
    p.add_argument("--chat-template", choices=CHAT_TEMPLATE_SETTINGS,
                   help="override the suite's chat_template (auto decides from the checkpoint)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a suite field, e.g. --set tasks.gsm8k.max_gen_toks=512 (repeatable)")
    p.set_defaults(handler=run_eval_command)


def run_eval_command(args) -> int:
    if args.model == "compare":
        return run_compare(args)
    if args.dirs:
        raise InputError(f"unexpected arguments {args.dirs}: `mixlab eval` scores one MODEL")
    if not args.output:
        raise InputError("--output DIR is required")
    from eval.runner import EvalRun, run_eval
    from eval.suite import load_suite

    suite = load_suite(args.suite, args.overrides)
    if args.chat_template:
        suite.chat_template = args.chat_template
    tasks = [task for item in args.tasks for task in item.split(",") if task] if args.tasks else None
    run_eval(EvalRun(model=args.model, output=args.output, suite=suite, tasks=tasks, backend=args.backend,
                     limit=args.limit, benchmark_dir=args.benchmark_dir, allow_code_exec=args.allow_code_exec))
    return 0


def run_compare(args) -> int:
    from eval.compare import compare

    if not args.dirs:
        raise InputError("`mixlab eval compare` needs at least one eval output folder")
    compare(args.dirs, args.output or "eval-compare")
    return 0
