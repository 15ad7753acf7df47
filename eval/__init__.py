"""`mixlab eval`: the nine mission benchmarks through lm-eval's `simple_evaluate`, and `mixlab eval compare`.

    mixlab eval runs/sft --output runs/sft/eval [--suite mission|quick|FILE] [--benchmark-dir BDIR] [--limit N]
    mixlab eval compare runs/base/eval runs/sft/eval runs/rl/eval --output runs/compare

suite.py reads the suite YAML (suites/*.yaml), checkpoint.py decides the chat template from the checkpoint,
tasks.py builds lm-eval's tasks, runner.py runs them, summary.py writes summary.json and report.md, compare.py
tabulates and plots several runs, cli.py holds the argument parsers.
"""
