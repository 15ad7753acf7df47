"""`mixlab synth` end to end with a tiny random-init Qwen3 (transformers engine): every task, exact counts, resume.

    .venv/bin/pytest tests/test_synth.py

A random model writes garbage, so acceptance is made predictable by the verifiers: an ifeval word limit of 1000
passes any short sample, a math gold answer of 987654321 is never produced, and a limit of 6 words passes some.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from curation.pipeline import curate  # noqa: E402
from mixlab.cli import main as mixlab_main  # noqa: E402
from mixlab.manifest import OutputConflict  # noqa: E402
from mixlab.schema import decode_row  # noqa: E402
from mixlab.verifiers import verify  # noqa: E402
from synth.chunk import Settings  # noqa: E402
from synth.run import synth  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TINY_CONFIG = REPO / "configs" / "tiny" / "model" / "config.json"
NEW_TOKENS = 12


def word_limit(words: int) -> dict:
    return {"name": "ifeval", "instruction_id_list": ["length_constraints:number_words"],
            "kwargs": [{"num_words": words, "relation": "less than"}], "loose": False}


ALWAYS = word_limit(1000)   # any sample of NEW_TOKENS tokens has fewer words
SOMETIMES = word_limit(6)   # about 40 % of the tiny model's samples


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> str:
    """A tiny random Qwen3 saved as a model folder, with the packaged Qwen3 tokenizer and ChatML template."""
    from train.model import load_model
    from train.template import PACKAGED_TOKENIZER, install_chat_template, load_tokenizer

    folder = tmp_path_factory.mktemp("tiny-model")
    tokenizer = install_chat_template(load_tokenizer(PACKAGED_TOKENIZER))
    load_model(str(TINY_CONFIG), tokenizer, {"dtype": "float32"}, seed=0).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def write_jsonl(path: Path, rows: list, bad_lines: int = 0) -> str:
    lines = [json.dumps(r) for r in rows] + ["{not json"] * bad_lines
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def rl_row(text: str, verifier: dict) -> dict:
    return {"prompt": [{"role": "user", "content": text}], "verifier": verifier}


def chat_row(user: str, assistant: str = "An old answer.") -> dict:
    return {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]}


def run(task: str, inputs: list[str], out: Path, model: str, *extra: str) -> None:
    argv = ["synth", task, "--input", *inputs, "--output", str(out), "--model", model, "--engine", "hf",
            "--max-new-tokens", str(NEW_TOKENS), *extra]
    assert mixlab_main(argv) == 0


def card(out: Path) -> dict:
    return json.loads((out / "datacard.json").read_text())


def synth_section(out: Path) -> dict:
    return next(s["data"] for s in card(out)["sections"] if s["title"] == "Synthesis")


def kept(out: Path, kind: str) -> list[dict]:
    files = sorted((out / "data" / kind).glob("*.parquet"))
    return [decode_row(r) for f in files for r in pl.read_parquet(f).to_dicts()]


def removed(out: Path) -> list[dict]:
    files = sorted((out / "removed").glob("*.parquet"))
    return [decode_row(r) for f in files for r in pl.read_parquet(f).to_dicts()]


def reasons(rows: list[dict]) -> dict[str, int]:
    counts = {}
    for row in rows:
        counts[row["reason"]] = counts.get(row["reason"], 0) + 1
    return counts


@pytest.fixture
def cot_inputs(tmp_path) -> list[str]:
    folder = tmp_path / "in"
    folder.mkdir()
    easy = write_jsonl(folder / "easy.jsonl", [rl_row(f"Say something short {i}.", ALWAYS) for i in range(2)])
    gsm = write_jsonl(folder / "gsm.jsonl", [{"question": f"What is {i} + 987654320?", "answer": "... #### 987654321"}
                                             for i in range(2)], bad_lines=1)
    chat = write_jsonl(folder / "chat.jsonl", [chat_row("Hello!")])
    return [easy, gsm, chat]


def test_cot_keeps_verified_samples_and_counts_reconcile(model, cot_inputs, tmp_path):
    out = tmp_path / "cot"
    run("cot", cot_inputs, out, model, "--n", "3")
    data = synth_section(out)
    assert data["by_source"]["easy"] == {"rows_in": 2, "quarantined": 0, "prompts": 2, "samples": 6, "accepted": 6,
                                         "kept": 6, "removed": 0, "acceptance_rate": 1.0}
    gsm = data["by_source"]["gsm"]
    assert (gsm["rows_in"], gsm["quarantined"], gsm["prompts"], gsm["samples"], gsm["accepted"]) == (3, 1, 2, 6, 0)
    assert gsm["acceptance_rate"] == 0.0
    assert data["total"]["samples"] == 4 * 3 == data["total"]["accepted"] + 6  # prompts x K = accepted + rejected
    assert data["tokens"]["sample"]["n"] == 12 and data["tokens"]["accepted"]["n"] == 6
    counts = card(out)["counts"]
    assert counts["reconciled"] and counts["total"] == {"in": 14, "kept": 6, "removed": 7, "quarantined": 1}
    assert reasons(removed(out)) == {"verifier_rejected": 6, "no_verifier": 1}

    records = kept(out, "sft")
    assert len({r["id"] for r in records}) == 6
    for record in records:
        user, answer = record["messages"]
        assert user["content"].startswith("Say something short") and "\\boxed{}" in user["content"]
        assert answer["role"] == "assistant" and verify(record["meta"]["verifier"], answer["content"]).score == 1.0
        info = record["meta"]["synth"]
        assert {k: info[k] for k in ("task", "model", "engine", "n", "temperature", "max_new_tokens", "seed",
                                     "template")} == {"task": "cot", "model": model, "engine": "hf", "n": 3,
                                                      "temperature": 0.7, "max_new_tokens": NEW_TOKENS, "seed": 0,
                                                      "template": "cot-v1"}
        assert info["sample"] in (0, 1, 2) and len(info["chat_template_sha256"]) == 16
    assert "## Synthesis" in (out / "datacard.md").read_text()


def test_cot_best_of_k_keeps_the_shortest(model, cot_inputs, tmp_path):
    out = tmp_path / "cot-short"
    run("cot", cot_inputs[:1], out, model, "--n", "3", "--keep", "shortest")
    records, others = kept(out, "sft"), removed(out)
    assert len(records) == 2 and reasons(others) == {"not_shortest": 4}
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model)

    def tokens(record):
        return len(tokenizer(record["messages"][-1]["content"], add_special_tokens=False)["input_ids"])

    for record in records:
        rivals = [r for r in others if r["meta"]["prompt_id"] == record["meta"]["prompt_id"]]
        assert len(rivals) == 2 and all(tokens(record) <= tokens(r) + 1 for r in rivals)  # +1: re-tokenised text
    assert synth_section(out)["total"]["accepted"] == 6


def test_respond_answers_every_prompt_and_flows_into_curate(model, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    prompts = write_jsonl(folder / "prompts.jsonl", [chat_row(f"Tell me about topic {i}.") for i in range(3)]
                          + [{"messages": [{"role": "assistant", "content": "No question here."}]}])
    out = tmp_path / "respond"
    run("respond", [prompts], out, model, "--n", "2")
    records = kept(out, "sft")
    assert len(records) == 6 and reasons(removed(out)) == {"no_user_turn": 1}
    for record in records:
        user, answer = record["messages"]
        assert user["content"].startswith("Tell me about topic") and answer["content"] != "An old answer."
        assert record["meta"]["synth"]["template"] == "respond-v1"
    assert synth_section(out)["total"] == {
        "rows_in": 4, "quarantined": 0, "prompts": 3, "samples": 6, "accepted": 6, "kept": 6, "removed": 1,
        "acceptance_rate": 1.0}

    curated = curate([str(out / "data")], str(tmp_path / "curated"), workers=1, progress=lambda *_: None)
    assert curated["counts"]["total"]["in"] == 6 and curated["counts"]["reconciled"]
    ids = {r["id"] for r in kept(tmp_path / "curated", "sft")} | {r["id"] for r in removed(tmp_path / "curated")}
    assert ids == {r["id"] for r in records}


def test_ifeval_prompts_attach_constraints_without_loading_a_model(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    prompts = write_jsonl(folder / "prompts.jsonl", [chat_row(f"Write a poem about the number {i}.") for i in range(6)])
    checked = write_jsonl(folder / "checked.jsonl", [rl_row("Solve it.", ALWAYS)])
    out = tmp_path / "ifeval"
    run("ifeval-prompts", [prompts, checked], out, str(tmp_path / "no-such-model"))
    records = kept(out, "rl")
    assert len(records) == 6 and reasons(removed(out)) == {"has_verifier": 1}
    for record in records:
        verifier, (user,) = record["verifier"], record["prompt"]
        assert verifier["name"] == "ifeval" and 1 <= len(verifier["instruction_id_list"]) <= 3
        assert user["content"].startswith("Write a poem about the number") and "\n\n" in user["content"]
        verify(verifier, "A short answer.")  # a well-formed spec: no VerifierError
    assert len({tuple(r["verifier"]["instruction_id_list"]) for r in records}) > 1


def test_ifeval_prompts_respond_keeps_only_passing_responses(model, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    prompts = write_jsonl(folder / "prompts.jsonl", [chat_row(f"Describe colour {i}.") for i in range(4)])
    out = tmp_path / "ifeval-sft"
    run("ifeval-prompts", [prompts], out, model, "--respond", "--n", "3")
    data, sft, rejected = synth_section(out), kept(out, "sft"), removed(out)
    assert len(kept(out, "rl")) == 4 and data["total"]["samples"] == 12
    assert data["total"]["accepted"] == len(sft) and len(sft) + len(rejected) == 12
    for record in sft:
        assert verify(record["meta"]["verifier"], record["messages"][-1]["content"]).score == 1.0
    for row in rejected:
        assert row["reason"] == "verifier_rejected" and row["meta"]["score"] < 1.0


def test_preference_pairs_pass_over_fail(model, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    rows = [rl_row("Always fine.", ALWAYS), rl_row("Never right.", {"name": "math", "answer": "987654321"})]
    rows += [rl_row(f"Be brief {i}.", SOMETIMES) for i in range(2)]
    out = tmp_path / "pairs"
    run("preference", [write_jsonl(folder / "rl.jsonl", rows)], out, model, "--n", "6", "--temperature", "1.0")
    pairs, dropped = kept(out, "preference"), removed(out)
    assert pairs and len(pairs) + len(dropped) == 4
    by_prompt = {r["prompt"][0]["content"]: r for r in dropped}
    assert by_prompt["Always fine."]["reason"] == "all_samples_pass"
    assert by_prompt["Never right."]["reason"] == "no_sample_passes"
    for pair in pairs:
        verifier = pair["meta"]["verifier"]
        assert pair["prompt"][0]["content"].startswith("Be brief")
        assert verify(verifier, pair["chosen"][0]["content"]).score == 1.0
        assert verify(verifier, pair["rejected"][0]["content"]).score < 1.0
        assert pair["chosen"][0]["role"] == pair["rejected"][0]["role"] == "assistant"
    data = synth_section(out)
    passes = sum(s == 1.0 for r in [*pairs, *dropped] for s in r["meta"]["scores"])
    assert data["total"]["samples"] == 24 and data["total"]["accepted"] == passes


def test_interrupted_run_resumes_without_duplicates(model, cot_inputs, tmp_path):
    from synth.engines import HFEngine

    inputs, engine = [cot_inputs[0], cot_inputs[2]], HFEngine(model)  # 2 problems + 1 record without a verifier
    settings = Settings(task="cot", model=model, engine="hf", n=2, max_new_tokens=NEW_TOKENS, chunk_size=1)
    whole = tmp_path / "whole"
    synth(settings, inputs, whole, progress=lambda *_: None, engine=engine)

    def stop_after_first_chunk(message):
        raise KeyboardInterrupt(message)  # the process dies right after chunk 0 is on disk

    part = tmp_path / "part"
    with pytest.raises(KeyboardInterrupt):
        synth(settings, inputs, part, progress=stop_after_first_chunk, engine=engine)
    assert not (part / "datacard.json").exists()
    first = (part / "data" / "sft" / "synth-00000.parquet").stat().st_mtime_ns
    done = []
    synth(settings, inputs, part, progress=done.append, engine=engine)
    assert [m.split(":")[0] for m in done] == ["chunk 1", "chunk 2"]
    assert (part / "data" / "sft" / "synth-00000.parquet").stat().st_mtime_ns == first

    # killed between a chunk's parquet and its done-marker: the chunk is redone, not duplicated
    (part / "work" / "synth" / "chunks" / "00001.json").unlink()
    synth(settings, inputs, part, progress=lambda *_: None, engine=engine)
    def samples(out):
        return sorted((r["id"], r["messages"][-1]["content"]) for r in [*kept(out, "sft"), *removed(out)])

    assert samples(part) == samples(whole) and len(samples(whole)) == len({i for i, _ in samples(whole)})
    assert card(part)["counts"]["total"] == card(whole)["counts"]["total"]

    with pytest.raises(OutputConflict):
        synth(Settings(**{**settings.as_dict(), "seed": 1}), inputs, part, progress=lambda *_: None, engine=engine)


def test_synth_output_flows_into_decontam_unchanged(model, tmp_path):
    """A synthesised answer to a benchmark test question is caught by `mixlab decontam` on the synth folder."""
    question = ("Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
                "How many clips did Natalia sell altogether in April and May?")
    bdir = tmp_path / "bench"
    bdir.mkdir()
    (bdir / "gsm8k.jsonl").write_text(json.dumps({"question": question, "answer": "48/2 = 24\n#### 72"}) + "\n")
    prompts = write_jsonl(tmp_path / "prompts.jsonl", [chat_row(question), chat_row("Write a haiku about rain.")])
    out = tmp_path / "respond"
    run("respond", [prompts], out, model, "--n", "1")
    assert len(kept(out, "sft")) == 2
    clean = tmp_path / "clean"
    assert mixlab_main(["decontam", str(out), "--output", str(clean), "--benchmarks", "gsm8k",
                     "--benchmark-dir", str(bdir), "--workers", "1"]) == 0
    report = json.loads((clean / "report.json").read_text())
    assert report["records_in"] == 2 and report["records_removed"] == 1
    assert [r["messages"][0]["content"] for r in kept(clean, "sft")] == ["Write a haiku about rain."]
