"""Tests for datacards: build a real curated folder (parquet, jsonl, datatrove stats), check every rendering.

    .venv/bin/pytest tests/test_datacards.py
"""

from __future__ import annotations

import glob
import json
import os
import shutil
from html.parser import HTMLParser
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"  # before huggingface_hub reads it at import; nothing here may download

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from datatrove.data import Document
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.filters.base_filter import BaseFilter
from huggingface_hub import DatasetCard
from PIL import Image

from datacards.build import CountsMismatch, build_card, write_card
from datacards.html import render_html, write_html
from datacards.markdown import render_markdown, size_category
from datacards.terminal import render_terminal
from mixlab.schema import KEPT_SCHEMAS, REMOVED_SCHEMA, Kind, encode_row


def msgs(*pairs):
    return [{"role": role, "content": content} for role, content in pairs]


SFT = [
    {"id": "a0", "source": "alpha", "meta": {},
     "messages": msgs(("user", "one two three"), ("assistant", "a b"))},
    {"id": "a1", "source": "alpha", "meta": {"x": 1},
     "messages": msgs(("system", "be nice"), ("user", "hi"), ("assistant", "x y z w"))},
    {"id": "a2", "source": "alpha", "meta": {},
     "messages": msgs(("user", "q"), ("assistant", "r"), ("user", "s t"), ("assistant", "u v w"))},
    {"id": "a3", "source": "alpha", "meta": {},
     "messages": msgs(("user", "hello, world"), ("assistant", "fine."))},
]
PREFERENCE = [
    {"id": "b0", "source": "beta", "prompt": msgs(("user", "p q")), "chosen": msgs(("assistant", "c1 c2 c3")),
     "rejected": msgs(("assistant", "r")), "meta": {}},
    {"id": "b1", "source": "beta", "prompt": msgs(("user", "p")), "chosen": msgs(("assistant", "c")),
     "rejected": msgs(("assistant", "bad answer here")), "meta": {}},
]
RL = [{"id": "g0", "source": "gamma", "prompt": msgs(("user", "solve 2+2")),
       "verifier": {"name": "math", "answer": "4"}, "meta": {}}]
REMOVED = [
    ({"id": "rf2", "source": "alpha", "messages": msgs(("user", "bonjour le monde"), ("assistant", "salut")),
      "meta": {}}, "sft", "filter:language", "language:fr", None),
    ({"id": "rf1", "source": "alpha", "messages": msgs(("user", "ça va ```x``` <script>alert(1)</script>"),
                                                        ("assistant", "oui | non")), "meta": {}},
     "sft", "filter:language", "language:fr", None),
    ({"id": "rd1", "source": "alpha", "meta": {},
      "messages": msgs(("user", "one two three"), ("assistant", "a b"))},
     "sft", "dedup:exact", "exact_duplicate", "a0"),
    ({"id": "re1", "source": "beta", "prompt": msgs(("user", "")), "chosen": msgs(("assistant", "c")),
      "rejected": msgs(("assistant", "d")), "meta": {}},
     "preference", "filter:empty_turns", "empty_turn", None),
]
QUARANTINE = [
    {"file": "alpha.jsonl", "line": 7, "source": "alpha", "error": "malformed_json: Expecting value",
     "raw": "{oops"},
    {"file": "gamma.jsonl", "line": 2, "source": "gamma", "error": "missing_field:prompt", "raw": '{"x": 1}'},
]
LANGUAGES = ["en"] * 5 + ["fr"] * 2 + ["und"]


class LanguageCounter(BaseFilter):
    """Counts lang_<code> like the real language filter and drops non-English with reason language:<code>."""

    name = "language"

    def filter(self, doc: Document):
        code = doc.metadata["lang"]
        self.stat_update(f"lang_{code}")
        return code in ("en", "und") or (False, f"language:{code}")


def language_docs(data, rank: int = 0, world_size: int = 1):
    for i, code in enumerate(LANGUAGES):
        yield Document(text=f"doc {i}", id=str(i), metadata={"lang": code})


def write_parquet(path: Path, rows: list[dict], schema: pa.Schema) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)


def removed_rows(entries) -> list[dict]:
    rows = []
    for record, kind, removed_by, reason, dup_of in entries:
        row = {name: None for name in REMOVED_SCHEMA.names}
        row.update(encode_row(record), kind=kind, removed_by=removed_by, reason=reason, dup_of=dup_of)
        rows.append(row)
    return rows


def write_folder(out: Path) -> None:
    for kind, records in ((Kind.sft, SFT), (Kind.preference, PREFERENCE), (Kind.rl, RL)):
        write_parquet(out / "data" / kind.value / "00000.parquet", [encode_row(r, kind) for r in records],
                      KEPT_SCHEMAS[kind])
    write_parquet(out / "removed" / "prepare-00000.parquet", removed_rows(REMOVED[:2] + REMOVED[3:]),
                  REMOVED_SCHEMA)
    write_parquet(out / "removed" / "dedup-00000.parquet", removed_rows(REMOVED[2:3]), REMOVED_SCHEMA)
    (out / "quarantine").mkdir()
    (out / "quarantine" / "00000.jsonl").write_text("".join(json.dumps(q) + "\n" for q in QUARANTINE))
    (out / "work" / "counts").mkdir(parents=True)
    (out / "work" / "counts" / "00000.json").write_text(json.dumps({"alpha": 5, "beta": 2}))
    (out / "work" / "counts" / "00001.json").write_text(json.dumps({"alpha": 3, "beta": 1, "gamma": 2}))
    (out / "work" / "dedup").mkdir()
    (out / "work" / "dedup" / "clusters.json").write_text(json.dumps(
        {"exact": {"2": 1}, "minhash": {"2": 3, "3": 1}, "examples": [{"kept": "a0", "removed": ["rd1"]}]}))
    (out / "work" / "card_sections").mkdir()
    (out / "work" / "card_sections" / "decontam.json").write_text(json.dumps(
        {"title": "Decontamination", "markdown": "No benchmark overlap found.", "data": {"checked": 3}}))
    (out / "manifest.json").write_text(json.dumps({
        "command": "mixlab curate demo.yaml", "created": "2025-01-01T00:00:00",
        "recipe": {"name": "demo", "card": {"license": "apache-2.0", "pretty_name": "Demo mix"}},
        "versions": {"datatrove": "0.10.1", "polars": "2.1.0"},
        "inputs": [{"path": "alpha.jsonl", "sha256": "ab" * 32, "bytes": 123}]}))
    LocalPipelineExecutor([language_docs, LanguageCounter()], tasks=1,
                          logging_dir=str(out / "logs" / "prepare")).run()


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("curated")
    write_folder(out)
    return out


@pytest.fixture(scope="module")
def card(folder) -> dict:
    return build_card(folder)


@pytest.fixture(scope="module")
def written(folder, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("written") / "run"
    shutil.copytree(folder, out)
    return out, write_card(out)


def test_counts_reconcile_per_source_and_total(card):
    counts = card["counts"]
    assert counts["total"] == {"in": 13, "kept": 7, "removed": 4, "quarantined": 2}
    assert counts["by_source"] == {
        "alpha": {"in": 8, "kept": 4, "removed": 3, "quarantined": 1},
        "beta": {"in": 3, "kept": 2, "removed": 1, "quarantined": 0},
        "gamma": {"in": 2, "kept": 1, "removed": 0, "quarantined": 1},
    }
    assert counts["by_kind"] == {"sft": 4, "preference": 2, "rl": 1}
    assert counts["reconciled"] is True


def test_broken_folder_raises_counts_mismatch(folder, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(folder, broken)
    (broken / "data" / "rl" / "00000.parquet").unlink()
    with pytest.raises(CountsMismatch) as err:
        build_card(broken)
    assert "gamma: in=2 kept=0 removed=0 quarantined=1" in str(err.value)
    assert "alpha" not in str(err.value)


def test_steps_count_reasons_with_examples(card):
    steps = card["steps"]
    assert {by: s["count"] for by, s in steps.items()} == {
        "filter:language": 2, "dedup:exact": 1, "filter:empty_turns": 1}
    language = steps["filter:language"]["reasons"]["language:fr"]
    assert language["count"] == 2
    assert [e["id"] for e in language["examples"]] == ["rf1", "rf2"]
    assert language["examples"][1] == {"id": "rf2", "source": "alpha", "user": "bonjour le monde",
                                       "assistant": "salut"}
    dup = steps["dedup:exact"]["reasons"]["exact_duplicate"]["examples"][0]
    assert dup["dup_of"] == "a0" and dup["user"] == "one two three"
    empty = steps["filter:empty_turns"]["reasons"]["empty_turn"]["examples"][0]
    assert empty["user"] == "" and empty["assistant"] == "c"


def test_quarantine_grouped_by_error_class(card):
    quarantine = card["quarantine"]
    assert quarantine["count"] == 2
    assert set(quarantine["errors"]) == {"malformed_json", "missing_field"}
    example = quarantine["errors"]["malformed_json"]["examples"][0]
    assert example == {"where": "alpha.jsonl:7", "source": "alpha",
                       "error": "malformed_json: Expecting value", "raw": "{oops"}


def test_length_stats_in_whitespace_words(card):
    stats = card["stats"]
    assert stats["tokenizer"] == "whitespace"
    # prompts [3, 3, 3, 2, 2, 1, 2]; responses (sft assistant turns, preference chosen) [2, 4, 4, 1, 3, 1]
    assert stats["prompt_tokens"] == {"n": 7, "mean": 2.3, "median": 2.0, "p95": 3.0, "max": 3}
    assert stats["response_tokens"] == {"n": 6, "mean": 2.5, "median": 2.5, "p95": 4.0, "max": 4}
    assert stats["turns"] == {"1": 1, "2": 4, "3": 1, "4": 1}


def test_languages_from_real_datatrove_stats(card, folder):
    assert (folder / "logs" / "prepare" / "stats.json").exists()
    assert card["stats"]["languages"] == {"en": {"seen": 5, "dropped": 0, "kept": 5},
                                          "fr": {"seen": 2, "dropped": 2, "kept": 0},
                                          "und": {"seen": 1, "dropped": 0, "kept": 1}}


def test_manifest_clusters_and_sections_are_carried(card):
    assert card["manifest"]["recipe"]["name"] == "demo"
    assert card["stats"]["dedup_clusters"]["minhash"] == {"2": 3, "3": 1}
    assert card["sections"] == [{"title": "Decontamination", "markdown": "No benchmark overlap found.",
                                 "data": {"checked": 3}}]
    assert card["title"] == "Demo mix"
    json.dumps(card)


def test_hf_tokenizer_counts_tokens_not_words(folder, tmp_path):
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(WordLevel({"[UNK]": 0}, unk_token="[UNK]"))
    tok.pre_tokenizer = Whitespace()  # splits punctuation off: "hello, world" is 3 tokens
    PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]").save_pretrained(tmp_path / "tok")
    stats = build_card(folder, tokenizer=str(tmp_path / "tok"))["stats"]
    assert stats["prompt_tokens"]["max"] == 4  # "solve 2+2" -> solve 2 + 2
    assert stats["prompt_tokens"]["mean"] == round(19 / 7, 1)
    assert stats["response_tokens"]["mean"] == round(16 / 6, 1)


def test_markdown_is_a_valid_hf_dataset_card(card, folder):
    text = render_markdown(card)
    data = DatasetCard(text).data.to_dict()
    assert data["license"] == "apache-2.0"
    assert data["size_categories"] == ["n<1K"]
    assert data["task_categories"] == ["text-generation"]
    assert data["language"] == ["en"]  # fr was all dropped, und is no language
    assert data["tags"] == ["mixlab", "sft", "preference", "rl"]
    assert data["pretty_name"] == "Demo mix"
    assert [c["config_name"] for c in data["configs"]] == ["sft", "preference", "rl"]
    for config in data["configs"]:
        assert config["data_files"][0]["split"] == "train"
        assert glob.glob(str(folder / config["data_files"][0]["path"]))
    assert "| **total** | 13 | 7 | 4 | 2 |" in text
    assert "| alpha | 8 | 4 | 3 | 1 |" in text
    assert "### `filter:language`: 2 records" in text
    assert "````text" in text  # the example holding ``` gets a longer fence
    assert "## Decontamination\n\nNo benchmark overlap found." in text
    assert "ab" * 32 in text and "name: demo" in text


def test_size_categories_follow_hf_buckets():
    assert [size_category(n) for n in (0, 999, 1000, 54_321, 2_000_000)] == [
        "n<1K", "n<1K", "1K<n<10K", "10K<n<100K", "1M<n<10M"]


def test_write_card_writes_deterministic_files_and_valid_pngs(written, tmp_path):
    out, card = written
    names = ("prompt_tokens", "response_tokens", "turns", "languages", "dedup_clusters", "removed_by_reason")
    assert card["plots"] == [f"plots/{n}.png" for n in names]
    for rel in card["plots"]:
        with Image.open(out / rel) as image:
            image.verify()
            assert image.format == "PNG"
    loaded = json.loads((out / "datacard.json").read_text())
    assert loaded == card
    # key order is lost in datacard.json; rendering must not depend on it
    assert render_markdown(loaded) == (out / "datacard.md").read_text()
    assert "![languages](plots/languages.png)" in (out / "datacard.md").read_text()
    before = {p: (out / p).read_bytes() for p in ["datacard.md", "datacard.json", *card["plots"]]}
    write_card(out)
    assert before == {p: (out / p).read_bytes() for p in before}


def test_plots_only_with_data(tmp_path):
    out = tmp_path / "tiny"
    write_parquet(out / "data" / "rl" / "0.parquet", [encode_row(RL[0], Kind.rl)], KEPT_SCHEMAS[Kind.rl])
    (out / "work" / "counts").mkdir(parents=True)
    (out / "work" / "counts" / "0.json").write_text(json.dumps({"gamma": 1}))
    card = write_card(out)
    assert card["plots"] == ["plots/prompt_tokens.png", "plots/turns.png"]
    assert DatasetCard((out / "datacard.md").read_text()).data.configs[0]["config_name"] == "rl"


class LinkCollector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.scripts = [], 0

    def handle_starttag(self, tag, attrs):
        self.scripts += tag == "script"
        self.links += [value for name, value in attrs if name in ("src", "href")]


def test_html_is_self_contained(written):
    out, card = written
    path = write_html(out)
    assert path == str(out / "datacard.html")
    page = Path(path).read_text()
    parser = LinkCollector()
    parser.feed(page)
    assert parser.scripts == 0  # the <script> inside an example is escaped
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert parser.links and all(link.startswith(("#", "data:image/png;base64,")) for link in parser.links)
    assert sum(link.startswith("data:") for link in parser.links) == len(card["plots"])
    assert render_html(card, out) == page


def test_terminal_summary_shows_the_numbers(written):
    out, card = written
    text = render_terminal(card, out_dir=out)
    lines = text.splitlines()
    assert any(line.split() == ["alpha", "8", "4", "3", "1"] for line in lines)
    assert any(line.split() == ["TOTAL", "13", "7", "4", "2"] for line in lines)
    assert "✓ reconciled" in text
    assert any(line.split() == ["filter:language", "language:fr", "2"] for line in lines)
    assert any(line.split() == ["fr", "2", "2"] for line in lines)
    assert "kept by kind: sft 4, preference 2, rl 1" in text
    assert str(out / "datacard.md") in text
    header = next(line for line in lines if line.startswith("source"))
    assert header.index("kept") < header.index("removed")
