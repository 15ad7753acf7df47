"""End-to-end `mixlab curate` on small generated inputs: exact counts per reason, dup_of, layout, reconciliation."""

import json

import polars as pl
import pytest

from curation.pipeline import curate
from curation.read import InputError
from mixlab.cli import main as cli_main
from mixlab.manifest import OutputConflict

CLEAN = [
    ("How do plants make their food?",
     "Plants make food through photosynthesis: chlorophyll in the leaves captures sunlight, which powers the "
     "conversion of carbon dioxide and water into glucose, releasing oxygen as a by-product."),
    ("What is the capital of Australia, and why was it chosen?",
     "The capital is Canberra. It was purpose-built as a compromise because Sydney and Melbourne, the two "
     "largest cities, both wanted the title when the federation formed in 1901."),
    ("Give me three tips for better sleep.",
     "Keep a regular schedule, even at weekends. Avoid screens for an hour before bed. Keep your bedroom cool, "
     "dark and quiet so your body can wind down."),
    ("Why is the sky blue during the day?",
     "Sunlight scatters off the molecules in the atmosphere, and shorter blue wavelengths scatter far more than "
     "red ones, so blue light reaches our eyes from every direction of the sky."),
    ("Write a Python function that reverses a string.",
     "Here is a short version:\n\n```python\ndef reverse(text):\n    return text[::-1]\n```\n\nSlicing with a "
     "negative step walks the string from the end to the start."),
    ("A farmer has 17 sheep and buys 8 more. How many sheep does he have now?",
     "He starts with 17 sheep and buys 8 more, so he has 17 + 8 = 25 sheep.\n#### 25"),
    ("What does a compiler do?",
     "A compiler translates source code written in a high-level language into machine code or bytecode that a "
     "processor or virtual machine can execute, checking the program for errors along the way."),
    ("Summarise the water cycle in two sentences.",
     "Water evaporates from oceans and lakes, rises, cools and condenses into clouds. It then falls back as rain "
     "or snow, flows into rivers and seeps into the ground before the cycle begins again."),
]
NEAR_ORIGINAL = ("Describe how a bicycle gear system helps a rider climb steep hills.",
                 "Lower gears make the pedals easier to turn by trading speed for torque, so the rider can keep a "
                 "steady cadence while climbing a steep hill without exhausting the leg muscles too quickly, and "
                 "shifting early before the slope gets steep keeps the chain from slipping under heavy load.")
NEAR_COPY = (NEAR_ORIGINAL[0], NEAR_ORIGINAL[1].replace("too quickly", "very quickly"))
FRENCH = ("Peux-tu m'expliquer comment fonctionne la photosynthèse ?",
          "La photosynthèse permet aux plantes de transformer la lumière du soleil en énergie chimique, en "
          "utilisant le dioxyde de carbone de l'air et l'eau puisée par les racines.")


def chat(user, assistant, **extra):
    return {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}], **extra}


@pytest.fixture
def inputs(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    rows = [chat(u, a) for u, a in CLEAN] + [chat(*NEAR_ORIGINAL)]
    rows += [chat(*CLEAN[0]), chat(*CLEAN[1])]                      # exact duplicates of kept records
    rows += [chat(*NEAR_COPY)]                                       # near duplicate
    rows += [chat("Tell me a joke about cats.", "   ")]              # empty turn
    rows += [{"messages": [{"role": "user", "content": "Hello there, how are you doing today?"}]}]
    rows += [chat(*FRENCH)]
    rows += [chat("What is a good name for a dog?",
                  "As an AI language model, I cannot have a favourite, but Biscuit, Luna and Max are popular.")]
    lines = [json.dumps(r) for r in rows] + ['{"messages": [broken', json.dumps({"messages": "not a list"})]
    (raw / "chat.jsonl").write_text("\n".join(lines) + "\n")
    alpaca = [{"instruction": CLEAN[2][0], "input": "", "output": CLEAN[2][1]},   # same conversation as chat row 3
              {"instruction": "Name a primary colour.", "input": "", "output": "Red is a primary colour."}]
    (raw / "alpaca.jsonl").write_text("\n".join(json.dumps(r) for r in alpaca) + "\n")
    return [str(raw / "chat.jsonl"), str(raw / "alpaca.jsonl")]


def read_folder(out):
    kept = pl.read_parquet(f"{out}/data/sft/*.parquet")
    removed = pl.read_parquet(f"{out}/removed/*.parquet")
    quarantine = [json.loads(line) for p in sorted((out / "quarantine").glob("*.jsonl"))
                  for line in p.read_text().splitlines()]
    return kept, removed, quarantine


def test_curate_counts_reasons_and_dup_of(inputs, tmp_path):
    out = tmp_path / "out"
    card = curate(inputs, str(out), workers=1)
    kept, removed, quarantine = read_folder(out)
    reasons = dict(removed.group_by("removed_by", "reason").len().select(
        pl.concat_str("removed_by", "reason", separator="|"), "len").iter_rows())
    assert reasons == {
        "dedup:exact|exact_duplicate": 3, "dedup:minhash|near_duplicate": 1,
        "filter:empty_turns|empty_turn": 1, "filter:last_turn|last_turn_not_assistant": 1,
        "filter:language|language:fr": 1, "filter:blocklist|blocklist:as_an_ai": 1,
    }
    assert len(kept) == len(CLEAN) + 1 + 1          # clean + near original + the new alpaca record
    assert sorted(q["error"].split(":")[0].split()[0] for q in quarantine) == ["malformed_json", "wrong_type"]
    assert {q["line"] for q in quarantine} == {17, 18}
    ids = dict(zip(kept["messages"].list.first().struct.field("content").to_list(), kept["id"].to_list()))
    dups = removed.filter(pl.col("removed_by") == "dedup:exact")
    assert sorted(dups["dup_of"].to_list()) == sorted([ids[CLEAN[0][0]], ids[CLEAN[1][0]], ids[CLEAN[2][0]]])
    near = removed.filter(pl.col("removed_by") == "dedup:minhash")
    assert near["dup_of"].to_list() == [ids[NEAR_ORIGINAL[0]]]
    total = card["counts"]["total"]
    assert (total["in"], total["kept"], total["removed"], total["quarantined"]) == (20, 10, 8, 2)
    assert card["counts"]["by_source"]["alpaca"] == {"in": 2, "kept": 1, "removed": 1, "quarantined": 0}
    assert (out / "datacard.md").read_text().startswith("---\n")


def test_ids_stable_and_workers_do_not_change_output(inputs, tmp_path):
    curate(inputs, str(tmp_path / "a"), workers=1)
    curate(inputs, str(tmp_path / "b"), workers=2)
    for sub in ("data/sft", "removed"):
        a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a" / sub).glob("*.parquet"))
        b = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b" / sub).glob("*.parquet"))
        assert a == b
        for rel in a:
            assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()


def test_other_run_in_same_folder_is_refused_and_force_restarts(inputs, tmp_path):
    out = tmp_path / "out"
    curate(inputs, str(out), workers=1)
    with pytest.raises(OutputConflict, match="--force"):
        curate(inputs[:1], str(out), workers=1)
    card = curate(inputs[:1], str(out), workers=1, force=True)
    assert card["counts"]["total"]["in"] == 18


def test_unrecognised_file_fails_before_any_work(tmp_path):
    bad = tmp_path / "weird.jsonl"
    bad.write_text(json.dumps({"foo": 1, "bar": 2}) + "\n")
    with pytest.raises(InputError, match="foo"):
        curate([str(bad)], str(tmp_path / "out"), workers=1)
    assert not (tmp_path / "out").exists()


def test_cli_reports_bad_input_as_one_clear_line(tmp_path, capsys):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert cli_main(["curate", str(empty), "--output", str(tmp_path / "out")]) == 2
    assert "empty" in capsys.readouterr().err
