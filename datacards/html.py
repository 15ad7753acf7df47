"""Render a datacard as ONE self-contained HTML page (inline CSS, plots as base64 data URIs, escaped text).

    from datacards.html import write_html
    path = write_html("runs/demo")   # -> runs/demo/datacard.html (from datacard.json, else writes the card)
"""

from __future__ import annotations

import base64
import json
from html import escape
from pathlib import Path

import yaml

from datacards.markdown import kind_counts, step_rank
from datacards.selection import selection_html

CSS = """
body { font-family: system-ui, sans-serif; max-width: 1000px; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 0.6em 0 1.2em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
pre { background: #f7f7f7; padding: 0.6em; overflow-x: auto; white-space: pre-wrap; word-break: break-word; }
.ok { color: #2a7a2a; font-weight: bold; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5em 0; }
nav a { margin-right: 1em; }
"""
SECTIONS = ("counts", "removed", "quarantine", "lengths", "plots", "languages", "clusters", "selection",
            "provenance", "extra")


def write_html(out_dir: str | Path, path: str | Path | None = None) -> str:
    """Write the page (default out_dir/datacard.html) and return its path."""
    from datacards.build import write_card

    out_dir = Path(out_dir)
    card_json = out_dir / "datacard.json"
    card = json.loads(card_json.read_text(encoding="utf-8")) if card_json.exists() else write_card(out_dir)
    path = Path(path) if path else out_dir / "datacard.html"
    path.write_text(render_html(card, out_dir), encoding="utf-8")
    return str(path)


def render_html(card: dict, out_dir: str | Path) -> str:
    body = [f"<h1>{escape(card['title'])}</h1>",
            "<nav>" + "".join(f'<a href="#{s}">{s}</a>' for s in SECTIONS) + "</nav>",
            counts_html(card), removed_html(card), quarantine_html(card), lengths_html(card),
            plots_html(card, Path(out_dir)), languages_html(card), clusters_html(card),
            selection_html(card.get("selection")), provenance_html(card), extra_html(card)]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(card['title'])} datacard</title><style>{CSS}</style></head>\n<body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def table(headers: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{escape(str(h))}</th>" for h in headers)
    lines = ["".join(f'<td class="num">{v}</td>' if isinstance(v, int | float)
                     else f"<td>{escape(str(v))}</td>" for v in row) for row in rows]
    return f"<table><tr>{head}</tr>" + "".join(f"<tr>{line}</tr>" for line in lines) + "</table>"


def section(anchor: str, title: str, content: str) -> str:
    return f'<section id="{anchor}"><h2>{escape(title)}</h2>\n{content}</section>'


def pre(text: str) -> str:
    return f"<pre>{escape(text)}</pre>"


def counts_html(card: dict) -> str:
    counts, fields = card["counts"], ["in", "kept", "removed", "quarantined"]
    rows = [[src, *(c[f] for f in fields)] for src, c in counts["by_source"].items()]
    rows.append(["total", *(counts["total"][f] for f in fields)])
    ok = '<p class="ok">✓ in = kept + removed + quarantined for every source</p>'
    ok *= bool(counts.get("reconciled"))
    kinds = table(["kind", "kept"], [list(kn) for kn in kind_counts(card)])
    return section("counts", "Record counts", table(["source", *fields], rows) + ok + kinds)


def example_html(example: dict) -> str:
    head = f"{example['id']} from {example['source']}"
    if example.get("dup_of"):
        head += f" (duplicate of {example['dup_of']})"
    text = f"user: {example.get('user') or ''}\nassistant: {example.get('assistant') or ''}"
    return f"<p><code>{escape(head)}</code></p>{pre(text)}"


def removed_html(card: dict) -> str:
    steps = card.get("steps") or {}
    parts = [] if steps else ["<p>Nothing was removed.</p>"]
    for removed_by in sorted(steps, key=step_rank):
        step = steps[removed_by]
        parts.append(f"<h3>{escape(removed_by)}: {step['count']} records</h3>")
        parts.append(table(["reason", "records"], [[r, e["count"]] for r, e in step["reasons"].items()]))
        for reason, entry in step["reasons"].items():
            examples = "".join(example_html(e) for e in entry["examples"])
            parts.append(f"<details><summary>examples of {escape(reason)}</summary>{examples}</details>")
    return section("removed", "Removed records", "\n".join(parts))


def quarantine_html(card: dict) -> str:
    quarantine = card.get("quarantine") or {"count": 0, "errors": {}}
    if not quarantine["count"]:
        return section("quarantine", "Quarantine", "<p>Every input row was readable.</p>")
    parts = [table(["error", "rows"], [[e, v["count"]] for e, v in quarantine["errors"].items()])]
    for error, entry in quarantine["errors"].items():
        examples = "".join(f"<p><code>{escape(ex['where'])}</code>: {escape(str(ex['error']))}</p>"
                           + pre(ex["raw"]) for ex in entry["examples"])
        parts.append(f"<details><summary>examples of {escape(error)}</summary>{examples}</details>")
    return section("quarantine", f"Quarantine ({quarantine['count']} rows)", "\n".join(parts))


def lengths_html(card: dict) -> str:
    stats, names = card["stats"], ["n", "mean", "median", "p95", "max"]
    rows = [[n, stats["prompt_tokens"].get(n, "-"), stats["response_tokens"].get(n, "-")] for n in names]
    turns = table(["messages", "records"], [[t, n] for t, n in stats["turns"].items()])
    return section("lengths", "Lengths of kept records",
                   f"<p>Tokens counted with: {escape(stats['tokenizer'])}</p>"
                   + table(["statistic", "prompt tokens", "response tokens"], rows) + turns)


def plots_html(card: dict, out_dir: Path) -> str:
    images = []
    for rel in card.get("plots") or []:
        png = out_dir / rel
        if png.exists():
            data = base64.b64encode(png.read_bytes()).decode("ascii")
            images.append(f'<img alt="{escape(png.stem)}" src="data:image/png;base64,{data}">')
    return section("plots", "Plots", "\n".join(images) or "<p>No plots.</p>")


def languages_html(card: dict) -> str:
    languages = card["stats"].get("languages") or {}
    rows = [[code, c["seen"], c["dropped"], c["kept"]]
            for code, c in sorted(languages.items(), key=lambda kv: (-kv[1]["seen"], kv[0]))]
    content = table(["language", "seen", "dropped", "passed"], rows) if rows else "<p>No language counts.</p>"
    return section("languages", "Languages", content)


def clusters_html(card: dict) -> str:
    clusters = card["stats"].get("dedup_clusters") or {}
    sizes = sorted({int(s) for m in ("exact", "minhash") for s in clusters.get(m) or {}})
    rows = [[s, (clusters.get("exact") or {}).get(str(s), 0), (clusters.get("minhash") or {}).get(str(s), 0)]
            for s in sizes]
    content = table(["cluster size", "exact", "near-duplicate"], rows) if rows else "<p>No clusters.</p>"
    if clusters.get("examples"):
        content += pre("\n".join(json.dumps(ex, ensure_ascii=False)[:400] for ex in clusters["examples"][:5]))
    return section("clusters", "Duplicate clusters", content)


def provenance_html(card: dict) -> str:
    manifest = card.get("manifest")
    if not manifest:
        return section("provenance", "Provenance", "<p>No manifest.json was found.</p>")
    parts = [f"<p>Command: <code>{escape(str(manifest.get('command', '')))}</code></p>",
             f"<p>Created: {escape(str(manifest.get('created', '')))}</p>",
             "<h3>Recipe</h3>" + pre(yaml.safe_dump(manifest.get("recipe") or {}, sort_keys=True,
                                                     allow_unicode=True)),
             "<h3>Package versions</h3>"
             + table(["package", "version"], sorted((manifest.get("versions") or {}).items())),
             "<h3>Inputs</h3>" + table(["path", "bytes", "sha256"], [
                 [i.get("path"), i.get("bytes"), i.get("sha256")] for i in manifest.get("inputs") or []])]
    return section("provenance", "Provenance", "\n".join(parts))


def extra_html(card: dict) -> str:
    parts = []
    for extra in card.get("sections") or []:
        parts.append(f"<h3>{escape(extra['title'])}</h3>{pre(extra['markdown'])}")
        if extra.get("data") is not None:
            parts.append(pre(json.dumps(extra["data"], indent=2, sort_keys=True, ensure_ascii=False)))
    return section("extra", "Other stages", "\n".join(parts) or "<p>No extra sections.</p>")
