"""Render a datacard dict as a Hugging Face dataset card (YAML front matter + Markdown body).

    from datacards.markdown import render_markdown
    text = render_markdown(card)      # huggingface_hub.DatasetCard(text).data parses its front matter
"""

from __future__ import annotations

import json
import re

import yaml

from datacards.selection import selection_markdown
from mixlab.schema import Kind

SIZE_BUCKETS = ((10**3, "n<1K"), (10**4, "1K<n<10K"), (10**5, "10K<n<100K"), (10**6, "100K<n<1M"),
                (10**7, "1M<n<10M"), (10**8, "10M<n<100M"), (10**9, "100M<n<1B"), (10**10, "1B<n<10B"),
                (10**11, "10B<n<100B"), (10**12, "100B<n<1T"))
ISO_CODE = re.compile(r"^[a-z]{2,3}$")
STEP_ORDER = ("filter:", "dedup:exact", "dedup:minhash", "decontam", "quality", "dedup:semantic", "select")


def render_markdown(card: dict) -> str:
    body = [summary(card), counts_section(card), removals_section(card), quarantine_section(card),
            lengths_section(card), plots_section(card), languages_section(card), clusters_section(card),
            selection_markdown(card.get("selection")), recipe_section(card), *extra_sections(card)]
    return "---\n" + yaml.safe_dump(front_matter(card), sort_keys=False, allow_unicode=True) + "---\n\n" + \
        "\n\n".join(part for part in body if part) + "\n"


# ---------------------------------------------------------------- front matter


def recipe(card: dict) -> dict:
    return (card.get("manifest") or {}).get("recipe") or {}


def size_category(n: int) -> str:
    return next((label for limit, label in SIZE_BUCKETS if n < limit), "n>1T")


def kept_languages(card: dict) -> list[str]:
    languages = card["stats"].get("languages") or {}
    # "und" is the language filter's bucket for text it could not identify, not a language of the data
    return [code for code, c in languages.items() if c["kept"] > 0 and ISO_CODE.match(code) and code != "und"]


def kind_counts(card: dict) -> list[tuple[str, int]]:
    """(kind, kept) in the canonical kind order, whatever order the card's dict came in."""
    by_kind = card["counts"]["by_kind"]
    return [(kind.value, by_kind[kind.value]) for kind in Kind if kind.value in by_kind]


def kinds_present(card: dict) -> list[str]:
    return [kind for kind, n in kind_counts(card) if n]


def front_matter(card: dict) -> dict:
    meta = {"license": (recipe(card).get("card") or {}).get("license") or "other",
            "size_categories": [size_category(card["counts"]["total"]["kept"])],
            "task_categories": ["text-generation"]}
    if kept_languages(card):
        meta["language"] = kept_languages(card)
    meta["tags"] = ["mixlab", *kinds_present(card)]
    meta["pretty_name"] = card["title"]
    meta["configs"] = [{"config_name": kind,
                        "data_files": [{"split": "train", "path": f"data/{kind}/*.parquet"}]}
                       for kind in kinds_present(card)]
    return meta


# ---------------------------------------------------------------- building blocks


def cell(value) -> str:
    return str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def table(headers: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def fenced(text: str, lang: str = "text") -> str:
    """A code block whose fence is longer than any backtick run inside, so examples cannot break out."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{text}\n{fence}"


def step_rank(removed_by: str) -> tuple[int, str]:
    rank = next((i for i, prefix in enumerate(STEP_ORDER) if removed_by.startswith(prefix)), len(STEP_ORDER))
    return rank, removed_by


# ---------------------------------------------------------------- sections


def summary(card: dict) -> str:
    total = card["counts"]["total"]
    kind_text = ", ".join(f"{n} {kind}" for kind, n in kind_counts(card)) or "none"
    return (f"# {card['title']}\n\nCurated with mixlab from {total['in']} input records across "
            f"{len(card['counts']['by_source'])} sources: **{total['kept']} kept** ({kind_text}), "
            f"{total['removed']} removed by filters/dedup/decontamination and "
            f"{total['quarantined']} quarantined as unreadable. Each kind is its own config; load one with "
            "`datasets.load_dataset(<this repo>, \"sft\")`.")


def counts_section(card: dict) -> str:
    counts = card["counts"]
    fields = ["in", "kept", "removed", "quarantined"]
    rows = [[src, *(c[f] for f in fields)] for src, c in counts["by_source"].items()]
    rows.append(["**total**", *(counts["total"][f] for f in fields)])
    mark = "✓ in = kept + removed + quarantined for every source." if counts.get("reconciled") else ""
    kinds = table(["kind", "kept"], [list(kn) for kn in kind_counts(card)])
    return f"## Record counts\n\n{table(['source', *fields], rows)}\n\n{mark}\n\n{kinds}"


def example_block(example: dict) -> str:
    head = f"- `{example['id']}` from `{example['source']}`"
    if example.get("dup_of"):
        head += f" (duplicate of `{example['dup_of']}`)"
    text = f"user: {example.get('user') or ''}\nassistant: {example.get('assistant') or ''}"
    return head + "\n\n" + "\n".join("  " + line for line in fenced(text).splitlines())


def removals_section(card: dict) -> str:
    steps = card.get("steps") or {}
    if not steps:
        return "## Removed records\n\nNothing was removed."
    parts = ["## Removed records"]
    for removed_by in sorted(steps, key=step_rank):
        step = steps[removed_by]
        parts.append(f"### `{removed_by}`: {step['count']} record{'s' * (step['count'] != 1)}")
        parts.append(table(["reason", "records"], [[r, e["count"]] for r, e in step["reasons"].items()]))
        for reason, entry in step["reasons"].items():
            examples = "\n".join(example_block(e) for e in entry["examples"])
            parts.append(f"Examples of `{reason}`:\n\n{examples}")
    return "\n\n".join(parts)


def quarantine_section(card: dict) -> str:
    quarantine = card.get("quarantine") or {"count": 0, "errors": {}}
    if not quarantine["count"]:
        return "## Quarantine\n\nEvery input row was readable."
    parts = ["## Quarantine", f"{quarantine['count']} input rows could not be read or normalised."]
    parts.append(table(["error", "rows"], [[e, v["count"]] for e, v in quarantine["errors"].items()]))
    for error, entry in quarantine["errors"].items():
        lines = [f"- `{ex['where']}`: {cell(ex['error'])}\n\n"
                 + "\n".join("  " + line for line in fenced(ex["raw"]).splitlines())
                 for ex in entry["examples"]]
        parts.append(f"Examples of `{error}`:\n\n" + "\n".join(lines))
    return "\n\n".join(parts)


def lengths_section(card: dict) -> str:
    stats = card["stats"]
    names = ["n", "mean", "median", "p95", "max"]
    rows = [[name, stats["prompt_tokens"].get(name, "-"), stats["response_tokens"].get(name, "-")]
            for name in names]
    turns = table(["messages", "records"], [[t, n] for t, n in stats["turns"].items()])
    return (f"## Lengths of kept records\n\nTokens counted with: {stats['tokenizer']}.\n\n"
            f"{table(['statistic', 'prompt tokens', 'response tokens'], rows)}\n\n{turns}")


def plots_section(card: dict) -> str:
    if not card.get("plots"):
        return ""
    images = [f"![{path.split('/')[-1].removesuffix('.png')}]({path})" for path in card["plots"]]
    return "## Plots\n\n" + "\n\n".join(images)


def languages_section(card: dict) -> str:
    languages = card["stats"].get("languages") or {}
    if not languages:
        return ""
    rows = [[code, c["seen"], c["dropped"], c["kept"]] for code, c in
            sorted(languages.items(), key=lambda kv: (-kv[1]["seen"], kv[0]))]
    return "## Languages\n\nDetected by the language filter.\n\n" + \
        table(["language", "seen", "dropped", "passed"], rows)


def clusters_section(card: dict) -> str:
    clusters = card["stats"].get("dedup_clusters")
    if not clusters:
        return ""
    sizes = sorted({int(s) for m in ("exact", "minhash") for s in clusters.get(m) or {}})
    rows = [[s, (clusters.get("exact") or {}).get(str(s), 0), (clusters.get("minhash") or {}).get(str(s), 0)]
            for s in sizes]
    parts = ["## Duplicate clusters",
             table(["cluster size", "exact clusters", "near-duplicate clusters"], rows)]
    if clusters.get("examples"):
        parts.append("Example clusters:\n\n" + fenced(
            "\n".join(json.dumps(ex, ensure_ascii=False)[:400] for ex in clusters["examples"][:5]), "json"))
    return "\n\n".join(parts)


def recipe_section(card: dict) -> str:
    manifest = card.get("manifest")
    if not manifest:
        return "## Provenance\n\nNo manifest.json was found."
    parts = ["## Provenance"]
    if manifest.get("command"):
        parts.append("Command:\n\n" + fenced(str(manifest["command"]), "bash"))
    if manifest.get("created"):
        parts.append(f"Created: {manifest['created']}")
    parts.append("### Recipe\n\n" + fenced(yaml.safe_dump(recipe(card), sort_keys=True,
                                                          allow_unicode=True).rstrip(), "yaml"))
    versions = manifest.get("versions") or {}
    parts.append("### Package versions\n\n" + table(["package", "version"], sorted(versions.items())))
    inputs = [[i.get("path"), i.get("bytes"), f"`{i.get('sha256')}`"] for i in manifest.get("inputs") or []]
    parts.append("### Inputs\n\n" + table(["path", "bytes", "sha256"], inputs))
    return "\n\n".join(parts)


def extra_sections(card: dict) -> list[str]:
    return [f"## {section['title']}\n\n{section['markdown']}".rstrip()
            for section in card.get("sections") or []]
