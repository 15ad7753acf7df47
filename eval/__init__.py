"""Evaluation and hand-in: `mixlab eval` (lm-eval on a suite), `eval compare`, `mixlab report`, `mixlab score-mix`.

    mixlab eval runs/sft --output runs/sft/eval [--suite mission|quick|FILE] [--benchmark-dir BDIR] [--limit N]
    mixlab eval compare runs/base/eval runs/sft/eval runs/rl/eval --output runs/compare
    mixlab report runs/ --output runs/report           # runs/report.html + runs/report.pdf
    mixlab score-mix --mixes a.yaml b.yaml --model BASE --steps 200 --output runs/score-mix   # rank data mixes

suite.py reads the suite YAML (suites/*.yaml), checkpoint.py decides the chat template from the checkpoint,
tasks.py builds lm-eval's tasks (humaneval.py: scored in mixlab's sandbox), runner.py runs them, summary.py writes
summary.json and report.md, compare.py tabulates and plots several runs, cli.py holds the eval parsers;
inventory.py finds a run's datasets, trainings and evals and their compute, report.py renders the hand-in report;
score_mix.py curates, trains briefly and scores each mix (mixes.py reads the mix files), leaderboard.py ranks them.
"""
