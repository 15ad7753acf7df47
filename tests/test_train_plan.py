"""`mixlab plan` on CPU: token counts, parameter counts, FLOPs / wall-time arithmetic and budget cuts, exactly.

    .venv/bin/pytest tests/test_train_plan.py

Runs the planner on configs/tiny/sft.yaml with a generated curated folder, the real Qwen3 tokenizer and the real
transformers model built from the tiny config.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from transformers import AutoModelForCausalLM, Qwen3Config  # noqa: E402

from mixlab.cli import main as mixlab_main  # noqa: E402
from mixlab.schema import KEPT_SCHEMAS, Kind, encode_row  # noqa: E402
from train.config import load_run_config  # noqa: E402
from train.plan import count_parameters, make_plan, measured_throughput  # noqa: E402
from train.template import PACKAGED_TOKENIZER, install_chat_template, load_tokenizer  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TINY_RECIPE = REPO / "configs" / "tiny" / "sft.yaml"
TINY_MODEL = REPO / "configs" / "tiny" / "model" / "config.json"
MAX_LENGTH = 48


def conversation(i: int) -> list[dict]:
    """Lengths vary; every fifth answer is longer than MAX_LENGTH, so the max_length cut matters."""
    answer = " ".join(f"word{j}" for j in range(3 + (40 if i % 5 == 0 else i % 7)))
    return [{"role": "system", "content": "Be brief."}, {"role": "user", "content": f"question {i}?"},
            {"role": "assistant", "content": answer}]


@pytest.fixture(scope="module")
def curated(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("curated")
    rows = [encode_row({"id": str(i), "source": f"src{i % 3}", "messages": conversation(i), "meta": {}}, Kind.sft)
            for i in range(60)]
    (folder / "data" / "sft").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=KEPT_SCHEMAS[Kind.sft]), folder / "data" / "sft" / "0.parquet")
    return folder


def overrides(curated: Path, *extra: str) -> list[str]:
    return [f"datasets=[{{path: {curated}, weight: 1.0}}]", f"max_length={MAX_LENGTH}", "output_dir=/tmp/unused",
            *extra]


def plan_json(capsys, curated: Path, fields: list[str], flags: list[str]) -> dict:
    """argparse takes the KEY=VALUE overrides in one run, so they all come before the flags."""
    assert mixlab_main(["plan", "--config", str(TINY_RECIPE), *overrides(curated, *fields), "--json", *flags]) == 0
    return json.loads(capsys.readouterr().out)


def test_token_count_equals_direct_count_with_the_training_template(curated):
    cfg = load_run_config("sft", TINY_RECIPE, overrides(curated))
    plan = make_plan(cfg, gpus=1, gpu="h100", tokens_per_sec=1000.0)
    tokenizer = install_chat_template(load_tokenizer(PACKAGED_TOKENIZER))
    table = pq.read_table(curated / "data" / "sft" / "0.parquet")
    lengths = [len(tokenizer.apply_chat_template(json.loads(m) if isinstance(m, str) else m, tokenize=True,
                                                 return_dict=False))
               for m in table.column("messages").to_pylist()]
    assert max(lengths) > MAX_LENGTH > min(lengths)
    assert plan["rows"] == plan["rows_counted"] == 60 and not plan["extrapolated"]
    assert plan["tokens"] == sum(lengths)
    assert plan["tokens_trained"] == sum(min(n, MAX_LENGTH) for n in lengths)


def test_sampled_count_is_extrapolated_and_says_so(curated, capsys):
    plan = plan_json(capsys, curated, [], ["--sample", "20", "--tokens-per-sec", "1000"])
    assert plan["extrapolated"] and plan["rows_counted"] == 20 and plan["rows"] == 60
    mixlab_main(["plan", "--config", str(TINY_RECIPE), *overrides(curated), "--sample", "20"])
    assert "counted 20 sampled rows, extrapolated" in capsys.readouterr().out


@pytest.mark.parametrize("variant", [{}, {"tie_word_embeddings": False, "attention_bias": True}])
def test_parameter_count_equals_the_built_model(variant):
    config = {**json.loads(TINY_MODEL.read_text()), **variant}
    model = AutoModelForCausalLM.from_config(Qwen3Config(**config))
    assert count_parameters(config)["total"] == sum(p.numel() for p in model.parameters())


def test_flops_and_wall_time_arithmetic(curated, capsys):
    plan = plan_json(capsys, curated, ["max_steps=-1", "num_train_epochs=3", "per_device_train_batch_size=2",
                     "gradient_accumulation_steps=2"], ["--gpus", "2", "--tokens-per-sec", "500"])
    config = json.loads(TINY_MODEL.read_text())
    n = count_parameters(config)["total"]  # tied: every parameter but the lookup is a matmul, lm_head = embedding
    assert plan["params"] == plan["params_compute"] == n
    d_attn = config["num_attention_heads"] * config["head_dim"]
    per_token = 6 * n + 6 * config["num_hidden_layers"] * MAX_LENGTH * d_attn
    assert plan["flops_per_token"] == per_token
    assert plan["tokens_total"] == plan["tokens_trained"] * 3
    assert plan["flops"] == per_token * plan["tokens_trained"] * 3
    assert plan["wall_hours"] == pytest.approx(plan["tokens_trained"] * 3 / (500 * 2) / 3600, rel=1e-12)
    packed_rows = -(-plan["tokens_trained"] // MAX_LENGTH)
    assert plan["train_rows_per_epoch"] == packed_rows
    assert plan["steps_per_epoch"] == -(-packed_rows // 8) and plan["steps"] == 3 * plan["steps_per_epoch"]
    assert plan["tokens_per_sec_source"] == "given (--tokens-per-sec)"
    assert plan["fits"] and plan["cuts"] == []


def test_over_budget_suggests_cuts_that_fit(curated, capsys):
    budget = ["--tokens-per-sec", "0.5", "--budget-hours", "1", "--gpus", "1"]
    plan = plan_json(capsys, curated, ["max_steps=-1", "num_train_epochs=3"], budget)
    assert not plan["fits"] and plan["wall_hours"] > 1
    epochs_cut, rows_cut, gpus_cut = plan["cuts"]
    epochs = epochs_cut.split(" to ")[1].split()[0]
    refit = plan_json(capsys, curated, ["max_steps=-1", f"num_train_epochs={epochs}"], budget)
    assert refit["fits"] and float(epochs) < 3
    gpus = gpus_cut.split(" to ")[1].split()[0]
    assert plan_json(capsys, curated, ["max_steps=-1", "num_train_epochs=3"], [*budget[:-1], gpus])["fits"]
    assert rows_cut.startswith("mix rows to ")


def test_over_budget_with_max_steps_cuts_max_steps(curated, capsys):
    budget = ["--tokens-per-sec", "0.05", "--budget-hours", "1"]
    plan = plan_json(capsys, curated, ["max_steps=24"], budget)
    assert not plan["fits"] and plan["steps"] == 24
    steps = plan["cuts"][0].removeprefix("max_steps to ").split()[0]
    assert plan_json(capsys, curated, [f"max_steps={steps}"], budget)["fits"]


def test_throughput_from_bench_results_else_assumed_mfu(curated, tmp_path):
    results = tmp_path / "RESULTS.md"
    results.write_text("## sft\nplan-throughput: model=model gpu=h200 tokens_per_sec_per_gpu=1234.5\n"
                       "plan-throughput: model=other gpu=h100 tokens_per_sec_per_gpu=9\n")
    assert measured_throughput(results, "model", "h200") == (1234.5, "measured on h200 (RESULTS.md)")
    value, source = measured_throughput(results, "model", "a100")
    assert value == pytest.approx(1234.5 * 312 / 989) and "scaled by peak ratio" in source
    cfg = load_run_config("sft", TINY_RECIPE, overrides(curated))
    measured = make_plan(cfg, gpus=1, gpu="h200", results=results)
    assert measured["tokens_per_sec_per_gpu"] == 1234.5
    assumed = make_plan(cfg, gpus=1, gpu="a100", results=tmp_path / "missing.md")
    assert assumed["tokens_per_sec_source"].startswith("ASSUMED: 40% MFU")
    assert assumed["tokens_per_sec_per_gpu"] == pytest.approx(0.4 * 312e12 / assumed["flops_per_token"])
