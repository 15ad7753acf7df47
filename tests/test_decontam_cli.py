"""`mixlab decontam` end to end on a curated folder and a --benchmark-dir: removed rows, flag mode, report numbers."""

import json

import polars as pl
import pytest

from curation.pipeline import curate
from mixlab.cli import main as cli_main

GSM8K = [
    {"question": "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
                 "How many clips did Natalia sell altogether in April and May?",
     "answer": "Natalia sold 48/2 = 24 clips in May.\nNatalia sold 48+24 = 72 clips altogether in April and May.\n"
               "#### 72"},
    {"question": "Weng earns $12 an hour for babysitting. Yesterday, she just did 50 minutes of babysitting. "
                 "How much did she earn?",
     "answer": "Weng earns 12/60 = $0.2 per minute.\nWorking 50 minutes, she earned 0.2 x 50 = $10.\n#### 10"},
    {"question": "Betty is saving money for a new wallet which costs $100. Betty has only half of the money she "
                 "needs. Her parents decided to give her $15 for that purpose, and her grandparents twice as much "
                 "as her parents. How much more money does Betty need to buy the wallet?",
     "answer": "In the beginning, Betty has only 100 / 2 = $50.\nBetty's grandparents gave her 15 * 2 = $30.\n"
               "This means, Betty needs 100 - 50 - 30 - 15 = $5 more.\n#### 5"},
]
MMLU = [
    {"question": "Which of the following best describes the primary function of the mitochondria in a "
                 "eukaryotic cell?", "subject": "college_biology",
     "choices": ["Synthesis of proteins from messenger RNA", "Production of ATP through cellular respiration",
                 "Storage of genetic information in the nucleus", "Transport of lipids across the membrane"],
     "answer": 1},
    {"question": "What was the main economic consequence of the Black Death in fourteenth century Western Europe?",
     "subject": "high_school_european_history",
     "choices": ["Wages for surviving labourers rose sharply", "The price of land increased everywhere",
                 "Serfdom spread to the cities", "Trade with Asia stopped completely"],
     "answer": 0},
]


def chat(user, assistant):
    return {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]}


@pytest.fixture
def setup(tmp_path):
    bdir = tmp_path / "bench"
    bdir.mkdir()
    (bdir / "gsm8k.jsonl").write_text("".join(json.dumps(r) + "\n" for r in GSM8K))
    (bdir / "mmlu.jsonl").write_text("".join(json.dumps(r) + "\n" for r in MMLU))
    q = MMLU[0]
    rows = [
        chat(GSM8K[0]["question"], "She sold 72 clips in total."),                        # test question copied
        chat("Solve this for me please: " + GSM8K[1]["question"].upper(), "Weng earned $10."),  # embedded, recased
        chat(q["question"] + "\n" + "\n".join(f"{i}) {c}" for i, c in enumerate(reversed(q["choices"]), 1)),
             "The answer is the production of ATP through cellular respiration."),        # relabelled + reordered
        chat("A shop sells 48 pencils in April and a third as many in June. How many pencils in total?",
             "It sells 48/3 = 16 in June, so 64 pencils.\n#### 64"),                        # same style, clean
        chat("Explain what mitochondria do.", "They produce most of the cell's ATP."),      # same topic, clean
        chat("Write a haiku about autumn leaves.", "Red leaves drift and fall,\nquiet paths beneath the oaks,\n"
             "the year exhales slow."),
    ]
    raw = tmp_path / "raw.jsonl"
    raw.write_text("".join(json.dumps(r) + "\n" for r in rows))
    curated = tmp_path / "curated"
    curate([str(raw)], str(curated), workers=1)
    return curated, bdir


def test_remove_mode_report_and_removed_columns(setup, tmp_path):
    curated, bdir = setup
    out = tmp_path / "clean"
    assert cli_main(["decontam", str(curated), "--output", str(out), "--benchmarks", "gsm8k,mmlu",
                     "--benchmark-dir", str(bdir), "--workers", "1"]) == 0
    removed = pl.read_parquet(f"{out}/removed/*.parquet").sort("benchmark", "benchmark_item")
    assert removed["removed_by"].to_list() == ["decontam"] * 3
    assert removed["reason"].to_list() == ["contaminated:gsm8k", "contaminated:gsm8k", "contaminated:mmlu"]
    assert all(o > 0.5 for o in removed["overlap"].to_list())
    kept = pl.read_parquet(f"{out}/data/sft/*.parquet")
    assert len(kept) == 3
    report = json.loads((out / "report.json").read_text())
    assert report["records_in"] == 6 and report["records_removed"] == 3
    assert report["benchmarks"]["gsm8k"] == {"items": 3, "items_hit": 2, "items_hit_pct": 66.67,
                                             "records_hit": 2}
    assert report["benchmarks"]["mmlu"]["items_hit"] == 1
    assert sorted(report["contaminated_benchmarks"]) == ["gsm8k", "mmlu"]
    card = json.loads((out / "datacard.json").read_text())
    assert card["counts"]["total"] == {"in": 6, "kept": 3, "removed": 3, "quarantined": 0}
    assert any(s["title"] == "Decontamination" for s in card["sections"])


def test_flag_mode_keeps_records_with_match_columns(setup, tmp_path):
    curated, bdir = setup
    out = tmp_path / "flagged"
    assert cli_main(["decontam", str(curated), "--output", str(out), "--benchmarks", "gsm8k,mmlu",
                     "--benchmark-dir", str(bdir), "--mode", "flag", "--workers", "1"]) == 0
    kept = pl.read_parquet(f"{out}/data/sft/*.parquet")
    assert len(kept) == 6
    assert sorted(b for b in kept["benchmark"].to_list() if b) == ["gsm8k", "gsm8k", "mmlu"]
    assert not list((out / "removed").glob("*.parquet"))
    assert json.loads((out / "report.json").read_text())["records_removed"] == 0


def test_missing_benchmark_file_is_a_clear_error(setup, tmp_path, capsys):
    curated, bdir = setup
    code = cli_main(["decontam", str(curated), "--output", str(tmp_path / "x"), "--benchmarks", "piqa",
                     "--benchmark-dir", str(bdir)])
    assert code == 2
    assert "piqa" in capsys.readouterr().err


def test_semantic_pass_flags_a_paraphrase_without_removing_it(tmp_path):
    bdir = tmp_path / "bench"
    bdir.mkdir()
    (bdir / "gsm8k.jsonl").write_text("".join(json.dumps(r) + "\n" for r in GSM8K))
    paraphrase = ("In April Natalia sold 48 clips to friends; in May she sold half that number. What is the total "
                  "number of clips she sold over the two months?")
    raw = tmp_path / "raw.jsonl"
    raw.write_text(json.dumps(chat(paraphrase, "She sold 72 clips.")) + "\n"
                   + json.dumps(chat("A shop sells 48 pencils in April and a third as many in June. How many "
                                     "pencils in total?", "It sells 64 pencils.")) + "\n")
    out = tmp_path / "out"
    assert cli_main(["decontam", str(raw), "--output", str(out), "--benchmarks", "gsm8k", "--benchmark-dir",
                     str(bdir), "--semantic", "--workers", "1"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["records_removed"] == 0                       # n-gram rule: a paraphrase is not a copy
    semantic = report["semantic"]
    assert semantic["records_checked"] == 2 and semantic["records_flagged"] == 1
    flag = semantic["examples"][0]
    assert flag["task"] == "gsm8k" and flag["cosine"] >= 0.9
    kept = pl.read_parquet(f"{out}/data/sft/*.parquet")
    assert len(kept) == 2
    assert kept.filter(pl.col("id") == flag["id"])["messages"][0][0]["content"] == paraphrase
