"""The datacard's data-selection part: quality scores, semantic dedup and the budgeted selection of a curated folder.

    from datacards.selection import read_selection, selection_markdown, selection_terminal, selection_html
    card["selection"] = read_selection(out_dir)     # work/select/report.json, or None when no step ran

Written by the curate stage "select" (curation/selection/stage.py); its plots are in datacards.selection_plots.
Rendering never depends on dict key order (the card comes back from datacard.json with sorted keys).
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path


def read_selection(out_dir: Path) -> dict | None:
    path = Path(out_dir) / "work" / "select" / "report.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def fmt(value, digits: int = 3) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def quality_rows(quality: dict) -> list[list]:
    rows = []
    for source, entry in sorted(quality["by_source"].items()):
        every, passed = entry["all"], entry["passed"]
        rows.append([source, every["n"], fmt(every.get("mean")), fmt(every.get("median")), fmt(every.get("p10")),
                     fmt(every.get("p90")), passed["n"], fmt(passed.get("mean"))])
    return rows


QUALITY_HEADERS = ["source", "scored", "mean", "median", "p10", "p90", "passed", "mean passed"]
SIZE_HEADERS = ["cluster size (survivor + duplicates)", "clusters"]
SELECT_HEADERS = ["source", "weight", "available records", "budget", "kept records", "kept"]


def quality_rule(quality: dict) -> str:
    if quality.get("threshold") is not None:
        return f"records scoring below {quality['threshold']} were removed"
    if quality.get("top_fraction") is not None:
        return f"only the best-scored {quality['top_fraction']:.0%} were kept"
    return "scores only (nothing removed)"


def size_rows(semantic: dict) -> list[list]:
    return [[int(size), n] for size, n in sorted(semantic["cluster_sizes"].items(), key=lambda kv: int(kv[0]))]


def select_rows(select: dict) -> list[list]:
    return [[source, round(e["weight"], 4), e["available_records"], e["budget"], e["kept_records"], e["kept"]]
            for source, e in sorted(select["by_source"].items())]


def semantic_summary(semantic: dict) -> str:
    parts = semantic["partitions"]
    return (f"Model {semantic['model']}, cosine threshold {semantic['threshold']}: {semantic['embedded']} first "
            f"user turns embedded ({semantic['embedded_new']} new, {semantic['embedded_cached']} from the cache), "
            f"searched in {parts['count']} k-means partition(s) of {parts['smallest']}–{parts['largest']} records; "
            f"{semantic['removed']} removed as duplicates of a kept record (best quality score, else earliest).")


def select_summary(select: dict) -> str:
    reached = "reached" if select["reached"] else "not reached: fewer were available"
    return (f"Target {select['target']} {select['unit']} ({reached}), ranked by {select['by']}: kept "
            f"{select['kept']} {select['unit']} in {select['kept_records']} records out of {select['available']}.")


def example_lines(example: dict) -> list[str]:
    survivor = example["survivor"]
    lines = [f"kept {survivor['id']} ({survivor['source']}): {survivor['text']}"]
    lines += [f"  removed {d['id']} ({d['source']}, cosine {d['cosine']}): {d['text']}"
              for d in example["duplicates"]]
    return lines


# ---------------------------------------------------------------- markdown


def selection_markdown(selection: dict | None) -> str:
    if not selection:
        return ""
    from datacards.markdown import fenced, table

    parts = [f"## Data selection\n\n{selection['candidates']} records reached the select stage (after filters and "
             f"exact/near dedup); {selection['kept']} left it."]
    if quality := selection.get("quality"):
        parts += [f"### Quality scores\n\nfastText model `{quality['model']}` (sha256 `{quality['model_sha256']}`) "
                  f"scored {quality['scored']} records into `meta.{quality['field']}`; {quality_rule(quality)}: "
                  f"{quality['removed']} removed.", table(QUALITY_HEADERS, quality_rows(quality))]
    if semantic := selection.get("semantic"):
        parts += [f"### Semantic dedup\n\n{semantic_summary(semantic)}"]
        if semantic["cluster_sizes"]:
            parts.append(table(SIZE_HEADERS, size_rows(semantic)))
        if semantic["examples"]:
            text = "\n\n".join("\n".join(example_lines(e)) for e in semantic["examples"])
            parts.append("Largest duplicate clusters:\n\n" + fenced(text))
    if select := selection.get("select"):
        parts += [f"### Selection\n\n{select_summary(select)}", table(SELECT_HEADERS, select_rows(select))]
    return "\n\n".join(parts)


# ---------------------------------------------------------------- terminal


def selection_terminal(selection: dict | None) -> str:
    if not selection:
        return ""
    from datacards.terminal import aligned

    parts = [f"data selection: {selection['candidates']} records in, {selection['kept']} kept"]
    if quality := selection.get("quality"):
        parts.append(f"quality ({quality_rule(quality)}, {quality['removed']} removed)\n"
                     + aligned(QUALITY_HEADERS, quality_rows(quality)))
    if semantic := selection.get("semantic"):
        parts.append("semantic dedup: " + semantic_summary(semantic))
    if select := selection.get("select"):
        parts.append(select_summary(select) + "\n" + aligned(SELECT_HEADERS, select_rows(select)))
    return "\n\n".join(parts)


# ---------------------------------------------------------------- html


def selection_html(selection: dict | None) -> str:
    from datacards.html import pre, section, table

    if not selection:
        return section("selection", "Data selection", "<p>No selection step ran.</p>")
    parts = [f"<p>{selection['candidates']} records reached the select stage; {selection['kept']} left it.</p>"]
    if quality := selection.get("quality"):
        parts += [f"<h3>Quality scores</h3><p>{escape(quality['model'])}: {escape(quality_rule(quality))}, "
                  f"{quality['removed']} removed.</p>", table(QUALITY_HEADERS, quality_rows(quality))]
    if semantic := selection.get("semantic"):
        parts += [f"<h3>Semantic dedup</h3><p>{escape(semantic_summary(semantic))}</p>",
                  table(SIZE_HEADERS, size_rows(semantic)),
                  pre("\n\n".join("\n".join(example_lines(e)) for e in semantic["examples"]))]
    if select := selection.get("select"):
        parts += [f"<h3>Selection</h3><p>{escape(select_summary(select))}</p>",
                  table(SELECT_HEADERS, select_rows(select))]
    return section("selection", "Data selection", "\n".join(parts))
