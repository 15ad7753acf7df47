"""Build a datacard (a JSON-able dict) from a curated folder and write datacard.md/.json and plots.

    from datacards.build import build_card, write_card
    card = build_card("runs/demo")      # read-only: counts, removals, stats, manifest, extra sections
    card = write_card("runs/demo")      # also writes plots/*.png, datacard.md and datacard.json

The folder layout is the curated-output contract: data/<kind>/*.parquet, removed/*.parquet,
quarantine/*.jsonl, work/counts/*.json, work/dedup/clusters.json, work/card_sections/*.json,
work/select/report.json (data selection), logs/<stage>/stats.json and manifest.json.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import polars as pl

from datacards.selection import read_selection
from mixlab.schema import Kind

EXAMPLES_PER_REASON = 3
EXAMPLE_CHARS = 200
COUNT_FIELDS = ("in", "kept", "removed", "quarantined")
UNKNOWN_SOURCE = "<unknown>"
# which message list holds a kind's prompt side and its trained response
PROMPT_FIELD = {Kind.sft: "messages", Kind.preference: "prompt", Kind.rl: "prompt"}
RESPONSE_FIELD = {Kind.sft: "messages", Kind.preference: "chosen", Kind.rl: None}


class CountsMismatch(RuntimeError):
    """in != kept + removed + quarantined for some source: a record was lost or counted twice."""


def build_card(out_dir: str | Path, tokenizer: str | None = None) -> dict:
    """The datacard of a curated folder; raises CountsMismatch when the counts do not reconcile."""
    return assemble_card(Path(out_dir), tokenizer)[0]


def write_card(out_dir: str | Path, tokenizer: str | None = None) -> dict:
    """Build the card, draw its plots and write datacard.md and datacard.json into out_dir."""
    from datacards.markdown import render_markdown
    from datacards.plots import write_plots
    from datacards.selection_plots import write_selection_plots

    out_dir = Path(out_dir)
    card, lengths = assemble_card(out_dir, tokenizer)
    card["plots"] = write_plots(card, out_dir, lengths) + write_selection_plots(card, out_dir)
    card["files"] = ["datacard.md", "datacard.json", *card["plots"]]
    (out_dir / "datacard.md").write_text(render_markdown(card), encoding="utf-8")
    card_json = json.dumps(card, indent=2, sort_keys=True, ensure_ascii=False)
    (out_dir / "datacard.json").write_text(card_json + "\n", encoding="utf-8")
    return card


def assemble_card(out_dir: Path, tokenizer: str | None) -> tuple[dict, dict[str, list[int]]]:
    """The card plus the per-record kept lengths the plots need (too many to keep in the card)."""
    kept = read_kept(out_dir)
    removed = read_parquets(sorted((out_dir / "removed").glob("*.parquet")))
    quarantine = read_quarantine(out_dir)
    counts = count_records(out_dir, kept, removed, quarantine)
    lengths = kept_lengths(kept, tokenizer)
    manifest = read_json(out_dir / "manifest.json")
    card = {
        "title": card_title(out_dir, manifest),
        "counts": counts,
        "steps": removal_steps(removed),
        "quarantine": quarantine_summary(quarantine),
        "stats": {
            "tokenizer": str(tokenizer) if tokenizer else "whitespace",
            "prompt_tokens": summarize(lengths["prompt"]),
            "response_tokens": summarize(lengths["response"]),
            "turns": {str(n): c for n, c in sorted(Counter(lengths["turns"]).items())},
            "languages": read_languages(out_dir),
            "dedup_clusters": read_json(out_dir / "work" / "dedup" / "clusters.json"),
        },
        "manifest": manifest,
        "sections": read_sections(out_dir),
        "selection": read_selection(out_dir),
        "plots": [],
        "files": [],
    }
    return card, lengths


def card_title(out_dir: Path, manifest: dict | None) -> str:
    recipe = (manifest or {}).get("recipe") or {}
    return (recipe.get("card") or {}).get("pretty_name") or recipe.get("name") or out_dir.resolve().name


# ---------------------------------------------------------------- reading


def read_json(path: Path):
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def read_parquets(paths: list[Path]) -> pl.DataFrame | None:
    frames = [pl.read_parquet(p) for p in paths]
    frames = [f for f in frames if f.height]
    return pl.concat(frames, how="diagonal_relaxed") if frames else None


def read_kept(out_dir: Path) -> dict[Kind, pl.DataFrame]:
    kept = {}
    for kind in Kind:
        frame = read_parquets(sorted((out_dir / "data" / kind.value).glob("*.parquet")))
        if frame is not None:
            kept[kind] = frame
    return kept


def read_quarantine(out_dir: Path) -> list[dict]:
    rows = []
    for path in sorted((out_dir / "quarantine").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rows.append(json.loads(line))
    return rows


def read_sections(out_dir: Path) -> list[dict]:
    """Extra sections other stages (decontam, synth) drop into work/card_sections/, in file-name order."""
    sections = []
    for path in sorted((out_dir / "work" / "card_sections").glob("*.json")):
        data = read_json(path)
        for section in data if isinstance(data, list) else [data]:
            sections.append({"title": section.get("title", path.stem),
                             "markdown": section.get("markdown", ""), "data": section.get("data")})
    return sections


def counter_value(value) -> int:
    """datatrove stats hold plain counters as ints and metrics as {"total": ..., ...}."""
    return int(value["total"] if isinstance(value, dict) else value)


def read_languages(out_dir: Path) -> dict[str, dict]:
    """lang_<code> counters of every stage's merged stats, with the language filter's drops per code."""
    seen, dropped = Counter(), Counter()
    for path in sorted((out_dir / "logs").glob("*/stats.json")):
        for step in read_json(path):
            for name, value in (step.get("stats") or {}).items():
                if name.startswith("lang_"):
                    seen[name.removeprefix("lang_")] += counter_value(value)
                elif name.startswith("dropped_language:"):
                    dropped[name.removeprefix("dropped_language:")] += counter_value(value)
    return {code: {"seen": n, "dropped": dropped[code], "kept": n - dropped[code]}
            for code, n in sorted(seen.items())}


# ---------------------------------------------------------------- counts


def count_records(out_dir: Path, kept: dict, removed: pl.DataFrame | None, quarantine: list[dict]) -> dict:
    by_source: dict[str, Counter] = {}

    def add(source, field, n):
        by_source.setdefault(source or UNKNOWN_SOURCE, Counter())[field] += n

    for path in sorted((out_dir / "work" / "counts").glob("*.json")):
        for source, n in read_json(path).items():
            add(source, "in", int(n))
    for frame in kept.values():
        for source, n in frame.group_by("source").len().iter_rows():
            add(source, "kept", n)
    if removed is not None:
        for source, n in removed.group_by("source").len().iter_rows():
            add(source, "removed", n)
    for row in quarantine:
        add(row.get("source"), "quarantined", 1)
    sources = {src: {f: c[f] for f in COUNT_FIELDS} for src, c in sorted(by_source.items())}
    total = {f: sum(c[f] for c in sources.values()) for f in COUNT_FIELDS}
    counts = {"total": total, "by_source": sources,
              "by_kind": {kind.value: frame.height for kind, frame in kept.items()}}
    check_reconciled(counts)
    counts["reconciled"] = True
    return counts


def check_reconciled(counts: dict) -> None:
    rows = {**counts["by_source"], "TOTAL": counts["total"]}
    bad = [f"{src}: in={c['in']} kept={c['kept']} removed={c['removed']} quarantined={c['quarantined']}"
           for src, c in rows.items() if c["in"] != c["kept"] + c["removed"] + c["quarantined"]]
    if bad:
        raise CountsMismatch("counts do not reconcile (in != kept + removed + quarantined): "
                             + "; ".join(bad))


# ---------------------------------------------------------------- removals


def first_content(messages, role: str) -> str | None:
    for message in messages or []:
        if message["role"] == role:
            return message["content"][:EXAMPLE_CHARS]
    return None


def removed_example(row: dict) -> dict:
    example = {"id": row["id"], "source": row["source"],
               "user": first_content(row.get("messages") or row.get("prompt"), "user"),
               "assistant": first_content(row.get("messages") or row.get("chosen"), "assistant")}
    if row.get("dup_of"):
        example["dup_of"] = row["dup_of"]
    return example


def removal_steps(removed: pl.DataFrame | None) -> dict:
    """{removed_by: {"count", "reasons": {reason: {"count", "examples"}}}}; examples are the lowest ids."""
    if removed is None:
        return {}
    removed = removed.with_columns(pl.col("reason").fill_null(pl.col("removed_by")))
    reason_counts = removed.group_by("removed_by", "reason").len().sort("removed_by", "reason")
    ordered = removed.sort("removed_by", "reason", "id")
    examples = ordered.group_by("removed_by", "reason", maintain_order=True).head(EXAMPLES_PER_REASON)
    steps: dict[str, dict] = {}
    for removed_by, reason, n in reason_counts.iter_rows():
        step = steps.setdefault(removed_by, {"count": 0, "reasons": {}})
        step["count"] += n
        rows = examples.filter((pl.col("removed_by") == removed_by) & (pl.col("reason") == reason))
        step["reasons"][reason] = {"count": n,
                                   "examples": [removed_example(r) for r in rows.iter_rows(named=True)]}
    return steps


def error_class(error: str) -> str:
    return re.split(r"[:\s]", error or "unknown", maxsplit=1)[0] or "unknown"


def quarantine_summary(rows: list[dict]) -> dict:
    errors: dict[str, dict] = {}
    for row in rows:
        entry = errors.setdefault(error_class(row.get("error")), {"count": 0, "examples": []})
        entry["count"] += 1
        if len(entry["examples"]) < EXAMPLES_PER_REASON:
            entry["examples"].append({"where": f"{row.get('file')}:{row.get('line')}",
                                      "source": row.get("source"), "error": row.get("error"),
                                      "raw": str(row.get("raw") or "")[:EXAMPLE_CHARS]})
    return {"count": len(rows), "errors": dict(sorted(errors.items()))}


# ---------------------------------------------------------------- lengths


def token_counter(tokenizer: str | None):
    """A function from a string Series to its token counts: whitespace words, or a local HF tokenizer's."""
    if not tokenizer:
        return lambda texts: texts.str.count_matches(r"\S+").fill_null(0)
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tokenizer))

    def count(texts: pl.Series) -> pl.Series:
        ids = tok(texts.fill_null("").to_list(), add_special_tokens=False)["input_ids"]
        return pl.Series([len(x) for x in ids], dtype=pl.UInt32)

    return count


def messages_frame(frame: pl.DataFrame, field: str, count) -> pl.DataFrame:
    """One row per message of `field`: row (record index), role, tokens."""
    exploded = frame.select(pl.col(field)).with_row_index("row").explode(field).unnest(field)
    exploded = exploded.filter(pl.col("role").is_not_null())
    return exploded.with_columns(tokens=count(exploded["content"])).select("row", "role", "tokens")


def per_record_tokens(messages: pl.DataFrame, n_rows: int, keep: pl.Expr) -> list[int]:
    kept = messages.filter(keep)
    totals = np.bincount(kept["row"].to_numpy(), weights=kept["tokens"].to_numpy(), minlength=n_rows)
    return totals.astype(np.int64).tolist()


def kept_lengths(kept: dict[Kind, pl.DataFrame], tokenizer: str | None) -> dict[str, list[int]]:
    """Per kept record: prompt tokens, response tokens (the trained assistant turns) and turns (messages).

    sft: prompt = its non-assistant messages; preference and rl: prompt = the whole prompt list (context)."""
    count = token_counter(tokenizer)
    lengths = {"prompt": [], "response": [], "turns": []}
    for kind, frame in kept.items():
        prompt = messages_frame(frame, PROMPT_FIELD[kind], count)
        in_prompt = pl.col("role") != "assistant" if kind == Kind.sft else pl.lit(True)
        lengths["prompt"] += per_record_tokens(prompt, frame.height, in_prompt)
        turns = frame[PROMPT_FIELD[kind]].list.len().fill_null(0)
        if RESPONSE_FIELD[kind]:
            # sft: prompt and response come from the same messages, counted once
            same = RESPONSE_FIELD[kind] == PROMPT_FIELD[kind]
            response = prompt if same else messages_frame(frame, RESPONSE_FIELD[kind], count)
            lengths["response"] += per_record_tokens(response, frame.height, pl.col("role") == "assistant")
            if kind == Kind.preference:
                turns = turns + frame["chosen"].list.len().fill_null(0)
        lengths["turns"] += turns.to_list()
    return lengths


def summarize(values: list[int]) -> dict:
    if not values:
        return {"n": 0}
    arr = np.asarray(values)
    return {"n": len(values), "mean": round(float(arr.mean()), 1), "median": round(float(np.median(arr)), 1),
            "p95": round(float(np.percentile(arr, 95)), 1), "max": int(arr.max())}
