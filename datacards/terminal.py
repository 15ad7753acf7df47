"""Render a compact terminal summary of a datacard: counts per source, top removal reasons, languages, kinds.

    from datacards.terminal import render_terminal
    print(render_terminal(card, out_dir="runs/demo"))
"""

from __future__ import annotations

import json
from pathlib import Path

from datacards.markdown import kind_counts
from datacards.selection import selection_terminal

TOP_REASONS = 10
TOP_LANGUAGES = 8


def render_terminal(card: dict, out_dir: str | Path | None = None) -> str:
    parts = [f"datacard: {card['title']}", counts_block(card), kinds_block(card), reasons_block(card),
             quarantine_block(card), languages_block(card), selection_terminal(card.get("selection")),
             files_block(card, out_dir)]
    return "\n\n".join(part for part in parts if part) + "\n"


def aligned(headers: list[str], rows: list[list]) -> str:
    """Columns padded to their widest cell; numbers right-aligned, text left-aligned."""
    cells = [[str(h) for h in headers]] + [[str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [bool(rows) and all(isinstance(row[i], int | float) for row in rows)
               for i in range(len(headers))]

    def line(row: list[str]) -> str:
        padded = (v.rjust(w) if num else v.ljust(w) for v, w, num in zip(row, widths, numeric, strict=True))
        return "  ".join(padded).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule, *(line(row) for row in cells[1:])])


def counts_block(card: dict) -> str:
    counts, fields = card["counts"], ["in", "kept", "removed", "quarantined"]
    rows = [[src, *(c[f] for f in fields)] for src, c in counts["by_source"].items()]
    rows.append(["TOTAL", *(counts["total"][f] for f in fields)])
    status = ("✓ reconciled: in = kept + removed + quarantined for every source" if counts.get("reconciled")
              else "✗ counts do NOT reconcile")
    return aligned(["source", *fields], rows) + "\n" + status


def reconciled_line(card: dict) -> str:
    """`in N = kept K + removed R + quarantined Q`, marked ✓ when every source reconciles."""
    total = card["counts"]["total"]
    mark = "✓" if card["counts"].get("reconciled") else "✗ NOT reconciled:"
    return (f"{mark} in {total['in']} = kept {total['kept']} + removed {total['removed']} "
            f"+ quarantined {total['quarantined']}")


def reconciled_folders(folders: dict[str, Path]) -> list[str]:
    """One reconciled_line per named folder that holds a datacard.json (curate, decontam and synth outputs)."""
    lines = []
    for name, folder in folders.items():
        card_file = Path(folder) / "datacard.json"
        if card_file.is_file():
            lines.append(f"{name:<10} {reconciled_line(json.loads(card_file.read_text(encoding='utf-8')))}")
    return lines


def kinds_block(card: dict) -> str:
    return "kept by kind: " + (", ".join(f"{kind} {n}" for kind, n in kind_counts(card)) or "none")


def reasons_block(card: dict) -> str:
    rows = [[by, reason, entry["count"]] for by, step in (card.get("steps") or {}).items()
            for reason, entry in step["reasons"].items()]
    if not rows:
        return "removed: nothing"
    rows = sorted(rows, key=lambda r: (-r[2], r[0], r[1]))
    more = f"\n… and {len(rows) - TOP_REASONS} more reasons" if len(rows) > TOP_REASONS else ""
    return "top removal reasons\n" + aligned(["step", "reason", "records"], rows[:TOP_REASONS]) + more


def quarantine_block(card: dict) -> str:
    quarantine = card.get("quarantine") or {}
    if not quarantine.get("count"):
        return ""
    rows = [[error, entry["count"]] for error, entry in quarantine["errors"].items()]
    return f"quarantined ({quarantine['count']})\n" + aligned(["error", "rows"], rows)


def languages_block(card: dict) -> str:
    languages = card["stats"].get("languages") or {}
    if not languages:
        return ""
    rows = sorted(([code, c["seen"], c["dropped"]] for code, c in languages.items()),
                  key=lambda r: (-r[1], r[0]))
    return "languages\n" + aligned(["lang", "seen", "dropped"], rows[:TOP_LANGUAGES])


def files_block(card: dict, out_dir: str | Path | None) -> str:
    files = card.get("files") or []
    if not files:
        return ""
    base = Path(out_dir) if out_dir else Path(".")
    return "card files\n" + "\n".join(f"  {base / name}" for name in files)
