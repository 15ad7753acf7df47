"""The score-mix leaderboard: rank mixes by their mean suite score; write leaderboard.md, .png and .json.

    md, png, js = write_leaderboard(Path("runs/score-mix"), scores, suite, settings)   # scores: score.json contents

A task's score is its first metric in the suite (e.g. gsm8k exact_match,flexible-extract, ifeval
prompt_level_strict_acc); a mix's score is the mean over tasks, with stderr sqrt(sum of the tasks' stderr²) / tasks
(tasks taken as independent). A mix marked ≈ is within 1.96 × the combined stderr of the leader: the eval cannot
tell the two apart at this --limit.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from eval.summary import metrics

TIE_Z = 1.96
LEADER, TIED, OTHER = "tab:blue", "tab:cyan", "tab:gray"


def task_scores(summary: dict) -> dict:
    """{task: (metric, value, stderr)} with each task's first (the suite's primary) metric."""
    scores = {}
    for task, entry in summary.items():
        reported = metrics(entry)
        if reported:
            metric = next(iter(reported))
            scores[task] = (metric, reported[metric], entry.get("stderr", {}).get(metric))
    return scores


def mean_score(scores: dict) -> tuple[float | None, float | None]:
    values = [(value, stderr or 0.0) for _, value, stderr in scores.values() if value is not None]
    if not values:
        return None, None
    n = len(values)
    return sum(v for v, _ in values) / n, math.sqrt(sum(se * se for _, se in values)) / n


def rank(scores: list[dict]) -> list[dict]:
    """Leaderboard rows, best first: name, mean, stderr, per-task scores, cost, tie with the leader."""
    rows = []
    for score in scores:
        tasks = task_scores(score["eval"]["summary"])
        mean, stderr = mean_score(tasks)
        rows.append({"name": score["name"], "description": score["description"], "mean": mean, "stderr": stderr,
                     "tasks": {t: {"metric": m, "value": v, "stderr": se} for t, (m, v, se) in tasks.items()},
                     "cost": score["cost"], "rows": score["sft"]["rows"], "score": score})
    rows.sort(key=lambda row: -1.0 if row["mean"] is None else row["mean"], reverse=True)
    leader = rows[0]
    for i, row in enumerate(rows, 1):
        row["rank"] = i
        row["tied_with_leader"] = i > 1 and _within_noise(leader, row)
    return rows


def _within_noise(leader: dict, row: dict) -> bool:
    if leader["mean"] is None or row["mean"] is None:
        return False
    spread = math.hypot(leader["stderr"], row["stderr"])
    return leader["mean"] - row["mean"] <= TIE_Z * spread


def write_leaderboard(out: Path, scores: list[dict], suite, settings: dict) -> tuple[Path, Path, Path]:
    rows = rank(scores)
    tasks = list(dict.fromkeys(task for row in rows for task in row["tasks"]))
    md, png, js = out / "leaderboard.md", out / "leaderboard.png", out / "leaderboard.json"
    out.mkdir(parents=True, exist_ok=True)
    md.write_text(markdown(rows, tasks, settings), encoding="utf-8")
    plot(rows, tasks, png, settings)
    ranking = [{key: value for key, value in row.items() if key != "score"} for row in rows]
    js.write_text(json.dumps({"settings": settings, "ranking": ranking}, indent=2) + "\n", encoding="utf-8")
    print(table(rows, tasks))
    return md, png, js


def table(rows: list[dict], tasks: list[str]) -> str:
    """The ranking table (markdown): rank, mix, mean, per-task scores, tokens, rows, wall seconds per phase."""
    metric_of = {task: next(r["tasks"][task]["metric"] for r in rows if task in r["tasks"]) for task in tasks}
    header = ["rank", "mix", "mean score (%)", *(f"{task} {metric_of[task]}" for task in tasks), "tokens trained",
              "rows", "curate s", "SFT s", "eval s", "total s"]
    lines = ["| " + " | ".join(header) + " |", "|---:|---|" + "---:|" * (len(header) - 2)]
    for row in rows:
        cost = row["cost"]
        mark = " ≈" if row["tied_with_leader"] else ""
        cells = [str(row["rank"]) + mark, row["name"], _pm(row["mean"], row["stderr"]),
                 *(_pm(row["tasks"][t]["value"], row["tasks"][t]["stderr"]) if t in row["tasks"] else "—"
                   for t in tasks),
                 _count(cost["tokens_trained"]), _count(row["rows"]), _curate_cell(row["score"]),
                 f"{cost['sft_seconds']:.0f}", f"{cost['eval_seconds']:.0f}", f"{cost['total_seconds']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown(rows: list[dict], tasks: list[str], settings: dict) -> str:
    limit = settings["limit"] if settings["limit"] is not None else "all"
    lines = [
        "# score-mix leaderboard", "",
        f"- base model `{settings['model']}`, {settings['steps']} SFT steps per mix (recipe "
        f"`{settings['sft_recipe']}`{_overrides(settings)}), on {settings['devices']}",
        f"- eval: suite **{settings['suite']}**, {limit} docs per task"
        + (f", benchmarks from `{settings['benchmark_dir']}`" if settings["benchmark_dir"] else ""),
        "- score: per task its first suite metric; mean over tasks, ± stderr = sqrt(Σ stderr²) / tasks; "
        "≈ after a rank: within 1.96 × the combined stderr of the leader (not separable at this limit)",
        "- cost: wall seconds per phase (curate 0 = reused from the cache), tokens = tokens the SFT trained on",
        f"- {settings['created']}: `{settings['command']}`", "",
        table(rows, tasks), "", "![ranking](leaderboard.png)", "", "## Mixes", "",
    ]
    for row in rows:
        lines += mix_section(row)
    return "\n".join(lines)


def mix_section(row: dict) -> list[str]:
    score = row["score"]
    sft = score["sft"]
    title = f"### {row['rank']}. {row['name']}" + (f" — {row['description']}" if row["description"] else "")
    lines = [title, "", f"- mix file: `{score['file']}` (copy: `mixes/{row['name']}/mix.yaml`)"]
    curations = {c["folder"]: c for c in score["curations"]}
    for entry in score["datasets"]:
        amount = f"rows={entry['rows']}" if "rows" in entry else f"weight={entry.get('weight', 1.0)}"
        line = f"- data: `{entry['path']}` ({amount})"
        curation = curations.get(entry["path"])
        if curation:
            how = "reused from the cache" if curation["reused"] else f"curated in {curation['seconds']:.0f} s"
            line += (f", curated from {', '.join(f'`{p}`' for p in curation['inputs'])} with recipe "
                     f"`{curation['recipe'] or 'built-in'}`{' '.join([''] + curation['set'])}: {how}, "
                     f"{_count(curation['kept'])} records kept")
        lines.append(line)
    sources = ", ".join(f"{name} {count}" for name, count in sft["sources"].items())
    loss = (f"loss {sft['first_loss']:.3f} → {sft['final_loss']:.3f}" if sft["final_loss"] is not None
            else "no loss logged")
    lines += [f"- SFT: {sft['rows']} rows ({sources}), {sft['steps']} steps, {_count(sft['tokens'])} tokens, {loss}; "
              f"run folder `{sft['dir']}`",
              f"- eval: `{score['eval']['dir']}/report.md`", ""]
    return lines


def plot(rows: list[dict], tasks: list[str], path: Path, settings: dict) -> None:
    """Left: the ranking (mean ± stderr, cost annotated); right: every task's score per mix."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    names = [row["name"] for row in rows][::-1]  # barh draws bottom-up: best on top
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, max(3.0, 1.2 + 0.6 * len(rows))),
                                      gridspec_kw={"width_ratios": [3, 2]})
    means = [100 * (row["mean"] or 0.0) for row in rows][::-1]
    errors = [100 * (row["stderr"] or 0.0) for row in rows][::-1]
    colors = [LEADER if row["rank"] == 1 else (TIED if row["tied_with_leader"] else OTHER) for row in rows][::-1]
    left.barh(names, means, xerr=errors, color=colors, capsize=3)
    for y, row in enumerate(rows[::-1]):
        cost = row["cost"]
        left.annotate(f"{means[y]:.1f}  ({_count(cost['tokens_trained'])} tok, {cost['total_seconds']:.0f} s)",
                      (means[y] + errors[y], y), xytext=(4, 0), textcoords="offset points", va="center", fontsize=8)
    left.set(xlabel="mean score (%) ± stderr", xlim=(0, max([*means, 1.0]) * 1.6 + 5),
             title=f"{settings['suite']} suite, {settings['steps']} SFT steps from {_model_label(settings['model'])}")
    left.legend(handles=[Patch(color=LEADER, label="leader"), Patch(color=TIED, label="within noise of the leader"),
                         Patch(color=OTHER, label="behind")], fontsize=7, loc="lower right")
    grid = [[100 * row["tasks"][t]["value"] if t in row["tasks"] and row["tasks"][t]["value"] is not None
             else float("nan") for t in tasks] for row in rows]  # imshow draws top-down: best on top
    right.imshow(grid, cmap="viridis", vmin=0, vmax=100, aspect="auto")
    for y, values in enumerate(grid):
        for x, value in enumerate(values):
            right.text(x, y, "—" if math.isnan(value) else f"{value:.0f}", ha="center", va="center", fontsize=8,
                       color="white" if math.isnan(value) or value < 60 else "black")
    right.set_xticks(range(len(tasks)), tasks, rotation=30, ha="right", fontsize=8)
    right.set_yticks(range(len(rows)), [row["name"] for row in rows], fontsize=8)
    right.set_title("per-task score (%)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _pm(value: float | None, stderr: float | None) -> str:
    if value is None:
        return "—"
    return f"{100 * value:.1f}" + (f" ± {100 * stderr:.1f}" if stderr is not None else "")


def _count(value) -> str:
    return "—" if value is None else f"{value:,}"


def _curate_cell(score: dict) -> str:
    curations = score["curations"]
    if not curations:
        return "—"
    seconds = sum(c["seconds"] for c in curations)
    return f"{seconds:.0f}" + (" (cached)" if all(c["reused"] for c in curations) else "")


def _model_label(model: str) -> str:
    path = Path(model)
    return f"{path.parent.name}/{path.name} (random init)" if path.suffix == ".json" else path.name


def _overrides(settings: dict) -> str:
    return "".join(f", `{o}`" for o in settings["sft_overrides"])
