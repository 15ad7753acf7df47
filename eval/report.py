"""`mixlab report RUN_DIR... --output REPORT`: one hand-in document for a whole run, as REPORT.html and REPORT.pdf.

    mixlab report runs/ --output runs/report            # -> runs/report.html (self-contained) + runs/report.pdf

It gathers what eval/inventory.py finds under the RUN_DIRs: the datacard of every dataset (sources, filters,
dedup, contamination; datacards/html.py's sections), every training run (recipe, mix, loss curve), the eval
comparison (eval/compare.py's table and chart, the first eval as baseline) and the compute spent per stage. The
page embeds its images as data URIs; WeasyPrint renders the same HTML to PDF.
"""

from __future__ import annotations

import base64
import dataclasses
import re
import tempfile
import time
from enum import Enum
from html import escape
from pathlib import Path

import yaml

from datacards import html as card_html
from eval import compare
from eval.inventory import Inventory, compute_rows, discover, read_json, training_info

CSS = card_html.CSS + """
@page { size: A4; margin: 1.5cm; @bottom-center { content: counter(page) " / " counter(pages); font-size: 9pt; } }
h2 { border-bottom: 2px solid #ddd; padding-bottom: 0.2em; margin-top: 1.6em; }
pre.recipe { font-size: 0.75em; }
details > summary { color: #555; }
"""
SECTIONS = (("datasets", "Datasets"), ("training", "Training"), ("evaluation", "Evaluation"),
            ("compute", "Compute spent per stage"))


def add_report(sub) -> None:
    p = sub.add_parser("report", help="one HTML + PDF report of a run: datacards, training, evals, compute",
                       description="Collect every curated dataset (datacard), training run (recipe, mix, loss curve) "
                       "and eval (comparison table and chart) under the RUN_DIRs, plus the compute spent per "
                       "stage, into REPORT.html (self-contained) and REPORT.pdf.")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="folders searched recursively")
    p.add_argument("--output", required=True, metavar="REPORT", help="writes REPORT.html and REPORT.pdf")
    p.set_defaults(handler=run_report)


def run_report(args) -> int:
    html_path, pdf_path = write_report(args.run_dirs, args.output)
    print(f"report: {html_path}\nreport: {pdf_path}")
    return 0


def write_report(run_dirs: list[str], output: str) -> tuple[Path, Path]:
    found = discover(run_dirs)
    if not (found.datasets or found.trainings or found.evals):
        raise FileNotFoundError(f"{', '.join(run_dirs)}: no curated dataset, training run or eval found")
    stem = Path(output)
    stem = stem.with_suffix("") if stem.suffix in (".html", ".pdf") else stem
    stem.parent.mkdir(parents=True, exist_ok=True)
    html = render(found, run_dirs)
    html_path, pdf_path = stem.with_name(stem.name + ".html"), stem.with_name(stem.name + ".pdf")
    html_path.write_text(html, encoding="utf-8")
    from weasyprint import HTML

    HTML(string=html, base_url=str(html_path.parent)).write_pdf(pdf_path)
    return html_path, pdf_path


def render(found: Inventory, run_dirs: list[str]) -> str:
    nav = "".join(f'<a href="#{anchor}">{title}</a>' for anchor, title in SECTIONS)
    body = [f"<h1>mixlab run report</h1><p>{escape(', '.join(run_dirs))} — generated "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}</p><nav>{nav}</nav>",
            datasets_html(found), training_html(found), evaluation_html(found),
            compute_html(found)]
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>mixlab run report</title>'
            f"<style>{CSS}</style></head>\n<body>\n" + "\n".join(body) + "\n</body></html>\n")


def chapter(anchor: str, title: str, parts: list[str], empty: str) -> str:
    return f'<section id="{anchor}"><h2>{escape(title)}</h2>\n' + ("\n".join(parts) or f"<p>{empty}</p>") + "</section>"


# ---- datasets ---------------------------------------------------------------------------------------------

def datasets_html(found: Inventory) -> str:
    parts = []
    for folder in found.datasets:
        card = read_json(folder / "datacard.json")
        sections = [card_html.counts_html(card), card_html.removed_html(card), card_html.quarantine_html(card),
                    card_html.lengths_html(card), card_html.plots_html(card, folder), card_html.languages_html(card),
                    card_html.clusters_html(card), card_html.extra_html(card), card_html.provenance_html(card)]
        parts.append(f"<h3>{escape(card['title'])} <small>({escape(found.shown(folder))})</small></h3>"
                     + demote("\n".join(sections)))
    return chapter("datasets", "Datasets", parts, "No curated dataset (datacard.json) was found.")


def demote(html: str) -> str:
    """Headings two levels down (h2 -> h4) so a datacard's sections nest under its dataset's h3."""
    return re.sub(r"<(/?)h([1-5])>", lambda m: f"<{m[1]}h{int(m[2]) + 2}>", html)


# ---- training ---------------------------------------------------------------------------------------------

def training_html(found: Inventory) -> str:
    parts = []
    for folder in found.trainings:
        info = training_info(folder)
        loss = "—" if info["first_loss"] is None else f"{info['first_loss']:.3f} → {info['last_loss']:.3f}"
        facts = card_html.table(["model", "steps", "wall time", "processes", "training loss"], [
            [str(info["model"]), info["steps"], duration(info["runtime_s"]), info["processes"], loss]])
        mix = card_html.table(["source", "rows"], sorted((info["mix"].get("sources") or {}).items()))
        recipe = yaml.safe_dump(recipe_choices(info["config"], info["trainer"]), sort_keys=False, allow_unicode=True)
        parts.append(f"<h3>{escape(info['trainer'])} <small>({escape(found.shown(folder))})</small></h3>{facts}"
                     f"<h4>Data mix ({info['mix'].get('rows', 0)} rows)</h4>{mix}"
                     + image(folder / "plots" / "loss.png", "loss curve")
                     + "<h4>Recipe: the run's fields and every TRL field away from its default (all: config.yaml)"
                     f'</h4><pre class="recipe">{escape(recipe)}</pre>')
    return chapter("training", "Training", parts, "No training run (config.yaml + metrics.jsonl) was found.")


def recipe_choices(config: dict, trainer: str) -> dict:
    """config.yaml without the TRL fields left at TRL's defaults (a resolved recipe lists all ~200 of them)."""
    import trl

    cls = {"sft": trl.SFTConfig, "dpo": trl.DPOConfig, "grpo": trl.GRPOConfig}.get(trainer)
    if cls is None:
        return config
    defaults = {f.name: _default(f) for f in dataclasses.fields(cls)}
    return {key: value for key, value in config.items() if key not in defaults or defaults[key] != value}


def _default(field):
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default.value if isinstance(field.default, Enum) else field.default


def image(png: Path, alt: str) -> str:
    if not png.is_file():
        return ""
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{base64.b64encode(png.read_bytes()).decode()}">'


# ---- evaluation -------------------------------------------------------------------------------------------

def evaluation_html(found: Inventory) -> str:
    folders = found.evals
    if not folders:
        return chapter("evaluation", "Evaluation", [], "No eval (summary.json + eval.json) was found.")
    dirs = [str(folder) for folder in folders]
    runs = compare.read_runs(dirs)
    rows = compare.table_rows(runs)
    header, cells = compare.comparison_cells(runs, rows)
    with tempfile.TemporaryDirectory() as tmp:
        chart = Path(tmp) / "compare.png"
        compare.plot(runs, rows, chart)
        chart_html = image(chart, "eval comparison")
    settings = [[label, *eval_settings(folder)] for label, folder in zip(runs, folders)]
    parts = [card_html.table(header, cells), f"<p>{escape(compare.TABLE_NOTE)}</p>", chart_html,
             "<h3>How each was scored</h3>",
             card_html.table(["run", "model", "suite", "backend", "limit", "chat template", "skipped"], settings)]
    return chapter("evaluation", "Evaluation", parts, "")


def eval_settings(folder: Path) -> list[str]:
    settings = read_json(folder / "eval.json", {})
    chat = settings.get("chat_template") or {}
    skipped = "; ".join(f"{task}: {why}" for task, why in (settings.get("skipped") or {}).items())
    return [str(settings.get("model")), str(settings.get("suite")), str(settings.get("backend")),
            str(settings.get("limit")), f"{'on' if chat.get('on') else 'off'} ({chat.get('reason', '')})",
            skipped or "—"]


# ---- compute ----------------------------------------------------------------------------------------------

def compute_html(found: Inventory) -> str:
    rows = compute_rows(found)
    cells = [[r["stage"], found.shown(r["folder"]), duration(r["wall_s"]), r["processes"], process_hours(r), r["note"]]
             for r in rows]
    total_wall = sum(r["wall_s"] or 0 for r in rows)
    total_hours = sum((r["wall_s"] or 0) * r["processes"] for r in rows) / 3600
    cells.append(["total", "", duration(total_wall), "", f"{total_hours:.3f}", ""])
    note = ("<p>Processes: datatrove workers for curation, training processes (GPUs) for training, vLLM replicas "
            "for evals; process-hours = wall time × processes.</p>")
    table = card_html.table(["stage", "folder", "wall time", "processes", "process-hours", "note"], cells)
    return chapter("compute", "Compute spent per stage", [table + note] if rows else [], "No stage was found.")


def process_hours(row: dict) -> str:
    return "—" if row["wall_s"] is None else f"{row['wall_s'] * row['processes'] / 3600:.3f}"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"
