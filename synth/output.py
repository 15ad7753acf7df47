"""Write a synth run in the curated layout: one parquet per chunk and kind, done-markers, counts and the card section.

    write_chunk(out, 3, result)     # data/<kind>/synth-00003.parquet, removed/synth-00003.parquet, then the marker
    done_chunks(out)                # {0, 1, 2, 3}: a rerun skips these
    finish(out, settings)           # work/counts, work/card_sections/synth.json, datacard.md/json

Files are written to a hidden temporary name and renamed, and a chunk's marker (work/synth/chunks/<n>.json, with
the chunk's counts) only after its parquet files: a killed run leaves no half chunk that a rerun would keep.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from mixlab.schema import KEPT_SCHEMAS, REMOVED_SCHEMA, Kind, encode_row
from synth.chunk import STAT_FIELDS, ChunkResult, Settings

CHUNKS = Path("work") / "synth" / "chunks"
SECTION = Path("work") / "card_sections" / "synth.json"


def chunk_name(index: int) -> str:
    return f"synth-{index:05d}.parquet"


def write_table(rows: list[dict], schema: pa.Schema, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), tmp)
    os.replace(tmp, path)


def write_json(data, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def write_chunk(out: Path, index: int, result: ChunkResult) -> None:
    """The chunk's kept records per kind and removed rows, then its done-marker with its counts."""
    for kind in Kind:
        path = out / "data" / kind.value / chunk_name(index)
        records = result.kept.get(kind.value)
        if records:
            write_table([encode_row(r, kind) for r in records], KEPT_SCHEMAS[kind], path)
        elif path.exists():  # left by an earlier, killed attempt at this chunk
            path.unlink()
    removed = out / "removed" / chunk_name(index)
    if result.removed:
        write_table(result.removed, REMOVED_SCHEMA, removed)
    elif removed.exists():
        removed.unlink()
    write_json(result.stats(), out / CHUNKS / f"{index:05d}.json")


def done_chunks(out: Path) -> set[int]:
    folder = out / CHUNKS
    return {int(p.stem) for p in folder.glob("*.json")} if folder.is_dir() else set()


def merged_stats(out: Path) -> tuple[dict[str, Counter], dict[str, list[int]]]:
    """Every finished chunk's per-source counts and token lengths, added up."""
    by_source, tokens = {}, {"prompt": [], "sample": [], "accepted": []}
    for path in sorted((out / CHUNKS).glob("*.json")):
        stats = json.loads(path.read_text(encoding="utf-8"))
        for source, counts in stats["by_source"].items():
            by_source.setdefault(source, Counter()).update(counts)
        for name, values in stats["tokens"].items():
            tokens[name] += values
    return by_source, tokens


def quarantined(out: Path) -> Counter:
    counts = Counter()
    for path in sorted((out / "quarantine").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                counts[json.loads(line).get("source")] += 1
    return counts


def write_counts(out: Path, by_source: dict[str, Counter], bad_rows: Counter) -> None:
    """work/counts: what the card reconciles: every candidate record (kept or removed) and every quarantined row."""
    counts = {src: c["kept"] + c["removed"] for src, c in by_source.items()}
    for source, n in bad_rows.items():
        counts[source] = counts.get(source, 0) + n
    write_json(counts, out / "work" / "counts" / "00000.json")


def rate(accepted: int, samples: int) -> float | None:
    return round(accepted / samples, 4) if samples else None


def section_data(settings: Settings, by_source: dict[str, Counter], tokens: dict, rows_in: dict,
                 bad_rows: Counter) -> dict:
    from datacards.build import summarize

    sources = {}
    for src in sorted(set(by_source) | set(rows_in)):
        counts = by_source.get(src, Counter())
        sources[src] = {"rows_in": rows_in.get(src, 0), "quarantined": bad_rows.get(src, 0),
                        **{f: counts[f] for f in STAT_FIELDS},
                        "acceptance_rate": rate(counts["accepted"], counts["samples"])}
    total = {f: sum(s[f] for s in sources.values()) for f in ("rows_in", "quarantined", *STAT_FIELDS)}
    total["acceptance_rate"] = rate(total["accepted"], total["samples"])
    return {"settings": settings.as_dict(), "total": total, "by_source": sources,
            "tokens": {name: summarize(values) for name, values in tokens.items()}}


def section_markdown(data: dict) -> str:
    s = data["settings"]
    lines = [f"Task `{s['task']}` with `{s['model']}` ({s['engine']} engine): {s['n']} sample(s) per prompt, "
             f"temperature {s['temperature']}, at most {s['max_new_tokens']} new tokens, seed {s['seed']}. "
             "Accepted: samples the prompt's verifier passed (every non-empty one, for respond). The card's in / "
             "kept / removed count candidate records: each sample (or pair, or rl prompt) is kept or removed with "
             "its reason, and each input row a task cannot use is removed as it is.", "",
             "| Source | Rows in | Prompts | Samples | Accepted | Acceptance | Kept | Removed |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for src, c in [*data["by_source"].items(), ("**total**", data["total"])]:
        accepted = "–" if c["acceptance_rate"] is None else f"{100 * c['acceptance_rate']:.1f} %"
        lines.append(f"| {src} | {c['rows_in']} | {c['prompts']} | {c['samples']} | {c['accepted']} | {accepted} "
                     f"| {c['kept']} | {c['removed']} |")
    lines += ["", "Token lengths (model tokenizer):", "", "| | n | mean | median | p95 | max |",
              "|---|---:|---:|---:|---:|---:|"]
    for name, summary in data["tokens"].items():
        values = [summary.get(k, "–") for k in ("n", "mean", "median", "p95", "max")]
        lines.append(f"| {name} | " + " | ".join(str(v) for v in values) + " |")
    return "\n".join(lines) + "\n"


def finish(out: Path, settings: Settings) -> dict:
    """Counts, the synth card section and the datacard (datacard.md/json, plots) of a finished run."""
    from datacards.build import write_card

    by_source, tokens = merged_stats(out)
    bad_rows = quarantined(out)
    write_counts(out, by_source, bad_rows)
    input_counts = out / "work" / "input_counts" / "00000.json"
    rows_in = json.loads(input_counts.read_text()) if input_counts.exists() else {}
    data = section_data(settings, by_source, tokens, rows_in, bad_rows)
    write_json({"title": "Synthesis", "markdown": section_markdown(data), "data": data}, out / SECTION)
    return write_card(out)
