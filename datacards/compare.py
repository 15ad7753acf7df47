"""`mixlab card DIR --compare OTHER_DIR`: two curated mixes side by side (terminal table, optional HTML page).

    from datacards.compare import compare_rows, render_compare_terminal, write_compare_html
    print(render_compare_terminal(card_a, card_b, "runs/mix-a", "runs/mix-b"))

Compared: record counts, the kept mix per source (records and share), kept kinds, removals per step, lengths,
and, when a selection ran, mean quality of what passed per source and what semantic dedup / select removed.
The HTML page also puts the two cards' plots next to each other.
"""

from __future__ import annotations

import base64
import json
from html import escape
from pathlib import Path

COUNT_FIELDS = ("in", "kept", "removed", "quarantined")
LENGTH_STATS = ("mean", "median", "p95")


def load_card(folder: str | Path, rebuild: bool = False) -> dict:
    from datacards.build import write_card

    folder = Path(folder)
    if rebuild or not (folder / "datacard.json").exists():
        return write_card(folder)
    return json.loads((folder / "datacard.json").read_text(encoding="utf-8"))


def share(n: int, total: int) -> str:
    return f"{n} ({n / total:.1%})" if total else str(n)


def delta(a, b) -> str:
    if isinstance(a, int | float) and isinstance(b, int | float):
        diff = b - a
        return f"{diff:+.1f}" if isinstance(diff, float) else f"{diff:+d}"
    return ""


def block(title: str, rows: list[list]) -> tuple[str, list[list]]:
    return title, [[label, a, b, delta(a, b)] for label, a, b in rows]


def count_rows(a: dict, b: dict) -> list[list]:
    return [[f, a["counts"]["total"][f], b["counts"]["total"][f]] for f in COUNT_FIELDS]


def mix_rows(a: dict, b: dict) -> list[list]:
    """Kept records per source with their share of the kept total."""
    sources = sorted(set(a["counts"]["by_source"]) | set(b["counts"]["by_source"]))
    totals = a["counts"]["total"]["kept"], b["counts"]["total"]["kept"]
    rows = []
    for source in sources:
        kept = [card["counts"]["by_source"].get(source, {}).get("kept", 0) for card in (a, b)]
        rows.append([source, share(kept[0], totals[0]), share(kept[1], totals[1]), delta(*kept)])
    return rows


def kind_rows(a: dict, b: dict) -> list[list]:
    kinds = sorted(set(a["counts"]["by_kind"]) | set(b["counts"]["by_kind"]))
    return [[kind, a["counts"]["by_kind"].get(kind, 0), b["counts"]["by_kind"].get(kind, 0)] for kind in kinds]


def removal_rows(a: dict, b: dict) -> list[list]:
    steps = sorted(set(a.get("steps") or {}) | set(b.get("steps") or {}))
    return [[step, *((card.get("steps") or {}).get(step, {}).get("count", 0) for card in (a, b))] for step in steps]


def length_rows(a: dict, b: dict) -> list[list]:
    return [[f"{side.split('_')[0]} tokens {stat}", a["stats"][side].get(stat, "-"), b["stats"][side].get(stat, "-")]
            for side in ("prompt_tokens", "response_tokens") for stat in LENGTH_STATS]


def quality_rows(a: dict, b: dict) -> list[list]:
    def passed_mean(card: dict, source: str):
        quality = (card.get("selection") or {}).get("quality") or {}
        return ((quality.get("by_source") or {}).get(source) or {}).get("passed", {}).get("mean")

    sources = sorted({s for card in (a, b) for s in (((card.get("selection") or {}).get("quality") or {})
                                                      .get("by_source") or {})})
    return [[f"mean quality kept: {s}", passed_mean(a, s), passed_mean(b, s)] for s in sources]


def selection_rows(a: dict, b: dict) -> list[list]:
    def value(card: dict, step: str, key: str):
        return ((card.get("selection") or {}).get(step) or {}).get(key)

    rows = [["semantic duplicates removed", value(a, "semantic", "removed"), value(b, "semantic", "removed")],
            ["semantic threshold", value(a, "semantic", "threshold"), value(b, "semantic", "threshold")],
            ["select target", value(a, "select", "target"), value(b, "select", "target")],
            ["select kept", value(a, "select", "kept"), value(b, "select", "kept")]]
    return [row for row in rows if row[1] is not None or row[2] is not None]


def compare_rows(a: dict, b: dict) -> list[tuple[str, list[list]]]:
    """[(title, [[label, A, B, B-A], ...]), ...] for every comparison block that has rows."""
    blocks = [block("record counts", count_rows(a, b)),
              ("kept mix per source (records, share)", mix_rows(a, b)),
              block("kept by kind", kind_rows(a, b)),
              block("removed per step", removal_rows(a, b)),
              block("lengths of kept records", length_rows(a, b)),
              block("quality", quality_rows(a, b)),
              block("selection", selection_rows(a, b))]
    return [(title, rows) for title, rows in blocks if rows]


def render_compare_terminal(a: dict, b: dict, name_a: str, name_b: str) -> str:
    from datacards.terminal import aligned

    headers = ["", "A", "B", "B - A"]
    parts = [f"A = {name_a} ({a['title']})\nB = {name_b} ({b['title']})"]
    parts += [f"{title}\n" + aligned(headers, [["-" if v is None else v for v in row] for row in rows])
              for title, rows in compare_rows(a, b)]
    return "\n\n".join(parts) + "\n"


def plot_pairs(a: dict, b: dict, dir_a: Path, dir_b: Path) -> str:
    def image(folder: Path, rel: str, card: dict) -> str:
        png = folder / rel
        if rel not in (card.get("plots") or []) or not png.exists():
            return "<td>-</td>"
        data = base64.b64encode(png.read_bytes()).decode("ascii")
        return f'<td><img alt="{escape(rel)}" src="data:image/png;base64,{data}"></td>'

    names = list(dict.fromkeys([*(a.get("plots") or []), *(b.get("plots") or [])]))
    rows = "".join(f"<tr>{image(dir_a, rel, a)}{image(dir_b, rel, b)}</tr>" for rel in names)
    return f"<table class=\"pairs\"><tr><th>A</th><th>B</th></tr>{rows}</table>"


def write_compare_html(a: dict, b: dict, dir_a: str | Path, dir_b: str | Path, path: str | Path) -> str:
    from datacards.html import CSS, section, table

    headers = ["", f"A: {dir_a}", f"B: {dir_b}", "B - A"]
    body = [f"<h1>{escape(a['title'])} vs. {escape(b['title'])}</h1>"]
    body += [section(title.split()[0], title, table(headers, [["-" if v is None else v for v in row] for row in rows]))
             for title, rows in compare_rows(a, b)]
    body.append(section("plots", "Plots", plot_pairs(a, b, Path(dir_a), Path(dir_b))))
    css = CSS + ".pairs img { max-width: 480px; }\n"
    page = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(a['title'])} vs. {escape(b['title'])}</title><style>{css}</style></head>\n<body>\n"
            + "\n".join(body) + "\n</body></html>\n")
    Path(path).write_text(page, encoding="utf-8")
    return str(path)


def run_compare(folder: str, other: str, html: str | None = None, rebuild: bool = False) -> int:
    a, b = load_card(folder, rebuild), load_card(other, rebuild)
    print(render_compare_terminal(a, b, str(folder), str(other)))
    if html is not None:
        path = html or str(Path(folder) / f"compare-{Path(other).resolve().name}.html")
        print(f"html comparison: {write_compare_html(a, b, folder, other, path)}")
    return 0
