"""`mixlab eval compare DIR...`: one table and one bar chart of several eval runs, deltas against the first.

    compare(["runs/base/eval", "runs/sft/eval", "runs/rl/eval"], "runs/compare")   # compare.png + compare.md

Reads each DIR/summary.json (eval/summary.py). Scores are in percent; a delta is marked * (bold in the chart)
when it exceeds 1.96 times the combined stderr of the two scores, i.e. it is unlikely to be sampling noise.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from eval.summary import metrics

GAIN, LOSS = "tab:green", "tab:red"


def compare(dirs: list[str], output: str) -> tuple[Path, Path]:
    """Print the table; write the chart and the table (markdown); returns (png, md) paths."""
    runs = read_runs(dirs)
    rows = table_rows(runs)
    table = markdown_table(runs, rows)
    print(table)
    png, md = _output_paths(output)
    md.write_text(table + "\n", encoding="utf-8")
    plot(runs, rows, png)
    print(f"\nchart: {png}\ntable: {md}")
    return png, md


def read_runs(dirs: list[str]) -> dict:
    """{label: summary} in the order given (the first is the baseline)."""
    return {label: _read_summary(folder) for label, folder in zip(run_labels(dirs), dirs)}


def run_labels(dirs: list[str]) -> list[str]:
    """The shortest trailing path of each folder that tells them apart (runs/sft/eval -> sft/eval)."""
    parts = [Path(d).resolve().parts for d in dirs]
    for depth in range(1, max(len(p) for p in parts) + 1):
        labels = ["/".join(p[-depth:]) for p in parts]
        if len(set(labels)) == len(labels) and "eval" not in labels:
            return labels
    return [str(d) for d in dirs]


def table_rows(runs: dict) -> list[tuple[str, str]]:
    """(task, metric) pairs in order of first appearance over the runs."""
    rows = {}
    for summary in runs.values():
        for task, entry in summary.items():
            for metric in metrics(entry):
                rows[(task, metric)] = None
    return list(rows)


def score(summary: dict, task: str, metric: str) -> tuple[float | None, float | None]:
    """(value, stderr) in percent; None where the run lacks it."""
    entry = summary.get(task, {})
    value, stderr = entry.get(metric), entry.get("stderr", {}).get(metric)
    return (None if value is None else 100 * value), (None if stderr is None else 100 * stderr)


def delta(base: tuple, other: tuple) -> tuple[float | None, bool]:
    """(other - base, significant?) with significance |delta| > 1.96 * sqrt(se_base^2 + se_other^2)."""
    if base[0] is None or other[0] is None:
        return None, False
    diff = other[0] - base[0]
    if base[1] is None or other[1] is None:
        return diff, False
    spread = math.hypot(base[1], other[1])
    return diff, spread > 0 and abs(diff) > 1.96 * spread


TABLE_NOTE = "Scores in %; Δ against the first run; * = larger than 1.96 × the combined stderr."


def comparison_cells(runs: dict, rows: list) -> tuple[list[str], list[list[str]]]:
    """(header, one row of cells per (task, metric)): the first run's score, then each run's with its delta."""
    labels = list(runs)
    header = ["task", "metric", labels[0], *[f"{label} (Δ)" for label in labels[1:]]]
    table = []
    for task, metric in rows:
        base = score(runs[labels[0]], task, metric)
        cells = [task, metric, _fmt(base[0])]
        for label in labels[1:]:
            other = score(runs[label], task, metric)
            diff, significant = delta(base, other)
            cells.append(_fmt(other[0]) + ("" if diff is None else f" ({diff:+.1f}{'*' if significant else ''})"))
        table.append(cells)
    return header, table


def markdown_table(runs: dict, rows: list) -> str:
    header, table = comparison_cells(runs, rows)
    lines = ["| " + " | ".join(header) + " |", "|---|---|" + "---:|" * (len(header) - 2)]
    lines += ["| " + " | ".join(cells) + " |" for cells in table]
    return "\n".join([*lines, "", TABLE_NOTE])


def plot(runs: dict, rows: list, path: Path) -> None:
    """Grouped bars per (task, metric); later runs' bars edged and labelled with their delta (green up, red down)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(runs)
    width = 0.8 / len(labels)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(rows) * max(1, len(labels) / 2)), 4.5))
    for i, label in enumerate(labels):
        xs = [r + (i - (len(labels) - 1) / 2) * width for r in range(len(rows))]
        values = [score(runs[label], task, metric)[0] for task, metric in rows]
        bars = ax.bar(xs, [v or 0 for v in values], width, label=label)
        if i:
            _mark_deltas(ax, bars, runs[labels[0]], runs[label], rows)
    ax.set_xticks(range(len(rows)), [f"{task} {metric}" for task, metric in rows], fontsize=7, rotation=30,
                  ha="right")
    ax.set(ylabel="score (%)", ylim=(0, 105), title=f"eval: deltas against {labels[0]}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _mark_deltas(ax, bars, base_summary: dict, summary: dict, rows: list) -> None:
    for bar, (task, metric) in zip(bars, rows):
        diff, significant = delta(score(base_summary, task, metric), score(summary, task, metric))
        if diff is None:
            continue
        color = GAIN if diff >= 0 else LOSS
        bar.set_edgecolor(color)
        bar.set_linewidth(2)
        ax.annotate(f"{diff:+.1f}", (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center",
                    va="bottom", fontsize=7, color=color, fontweight="bold" if significant else "normal")


def _read_summary(folder: str) -> dict:
    path = Path(folder) / "summary.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not an eval output folder (run `mixlab eval MODEL --output {folder}`)")
    return json.loads(path.read_text(encoding="utf-8"))


def _output_paths(output: str) -> tuple[Path, Path]:
    path = Path(output)
    if path.suffix == ".png":
        path.parent.mkdir(parents=True, exist_ok=True)
        return path, path.with_suffix(".md")
    path.mkdir(parents=True, exist_ok=True)
    return path / "compare.png", path / "compare.md"


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"
