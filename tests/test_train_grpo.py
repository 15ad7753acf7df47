"""GRPO end to end on CPU with the tiny Qwen3: per-row rewards, truncation masking, loss types, reward rises, resume.

    .venv/bin/pytest tests/test_train_grpo.py

The learnable task: a tiny model SFT'd (by `mixlab train sft`, in a fixture) to answer "Pick a number." with a
digit from 1 to 6 at random, then GRPO with the real `math` verifier whose gold is 4: the mean reward must climb
from about 1/6 towards 1. The reward adapter is tested directly on a mixed batch with the real registry verifiers.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
import yaml

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from curation.pipeline import curate  # noqa: E402
from curation.recipe import CurationRecipe  # noqa: E402
from mixlab.cli import main as mixlab_main  # noqa: E402
from mixlab.recipe import RecipeError, load_recipe  # noqa: E402
from mixlab.schema import KEPT_SCHEMAS, Kind, encode_row  # noqa: E402
from mixlab.verifiers import VerifierError, verify  # noqa: E402
from train.config import GRPORunArgs, load_run_config  # noqa: E402
from train.data import build_mix  # noqa: E402
from train.grpo import build_trainer  # noqa: E402
from train.rewards import VerifierReward, reward_functions  # noqa: E402
from train.template import PACKAGED_TOKENIZER  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TINY_MODEL = str(REPO / "configs" / "tiny" / "model" / "config.json")
PROMPT = "Pick a number."
GOLD = 4


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def write_records(folder: Path, kind: Kind, records: list[dict]) -> Path:
    rows = [encode_row({"id": str(i), "source": "numbers", "meta": {}, **r}, kind) for i, r in enumerate(records)]
    (folder / "data" / kind.value).mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=KEPT_SCHEMAS[kind]), folder / "data" / kind.value / "0.parquet")
    return folder


def write_yaml(path: Path, recipe: dict) -> Path:
    path.write_text(yaml.safe_dump(recipe))
    return path


@pytest.fixture(scope="module")
def task(tmp_path_factory) -> dict:
    """Curated folder (sft: a uniform digit; rl: gold 4) and the SFT'd model that starts every GRPO run here."""
    root = tmp_path_factory.mktemp("grpo")
    data = write_records(root / "curated", Kind.sft,
                         [{"messages": user(PROMPT) + [{"role": "assistant", "content": str(d)}]} for d in range(1, 7)])
    write_records(data, Kind.rl, [{"prompt": user(PROMPT), "verifier": {"name": "math", "answer": str(GOLD)}}])
    sft = {"model_name_or_path": TINY_MODEL, "tokenizer_name_or_path": PACKAGED_TOKENIZER,
           "datasets": [{"path": str(data), "rows": 24}], "output_dir": str(root / "sft"), "seed": 0,
           "assistant_only_loss": True, "packing": True, "packing_strategy": "bfd", "max_length": 100,
           "per_device_train_batch_size": 1, "learning_rate": 1.0e-2, "lr_scheduler_type": "constant",
           "max_steps": 24, "gradient_checkpointing": False, "logging_steps": 4, "save_strategy": "no",
           "report_to": "none", "dataset_num_proc": 1, "disable_tqdm": True}
    assert mixlab_main(["train", "sft", "--config", str(write_yaml(root / "sft.yaml", sft))]) == 0
    return {"root": root, "data": data, "model": str(root / "sft")}


def grpo_recipe(task: dict, name: str, **fields) -> Path:
    # adam_epsilon 1e-4: through the softmax every one of the 152k tied embedding rows gets a tiny gradient each
    # step; Adam scales those up to full-size steps, which on a 64-wide model drifts mass onto junk tokens
    recipe = {"model_name_or_path": task["model"], "datasets": [{"path": str(task["data"]), "rows": 64}],
              "output_dir": str(task["root"] / name), "seed": 0, "num_generations": 8,
              "per_device_train_batch_size": 16, "max_completion_length": 4, "temperature": 1.0, "beta": 0.0,
              "learning_rate": 1.0e-3, "adam_epsilon": 1.0e-4, "lr_scheduler_type": "constant", "max_steps": 20,
              "logging_steps": 1, "gradient_checkpointing": False, "save_strategy": "steps", "save_steps": 10,
              "report_to": "none", "disable_tqdm": True, **fields}
    return write_yaml(task["root"] / f"{name}.yaml", recipe)


def metrics(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_rewards_route_each_row_to_its_own_verifier():
    rows = [({"name": "math", "answer": "#### 72"}, "She sold 48 + 24 = 72 clips."),
            ({"name": "math", "answer": "#### 72"}, "<think>maybe 72</think> The answer is 70."),
            ({"name": "format"}, "<think>2+2 is 4</think>4"),
            ({"name": "format"}, "4, no thinking"),
            ({"name": "math", "answer": "\\frac{1}{2}"}, "So we get \\boxed{0.5}."),
            ({"name": "ifeval", "instruction_id_list": ["change_case:english_lowercase"], "kwargs": [{}]},
             "all lower case here.")]
    specs = [json.dumps(spec) for spec, _ in rows]  # as build_mix gives them: JSON text from parquet
    completions = [[{"role": "assistant", "content": text}] for _, text in rows]
    logged = {}
    scores = VerifierReward(workers=3)(completions, verifier=specs, log_metric=logged.__setitem__)
    assert scores == [1.0, 0.0, 1.0, 0.0, 1.0, 1.0]
    assert logged == {"rewards/verifier/math": 2 / 3, "rewards/verifier/format": 0.5, "rewards/verifier/ifeval": 1.0}

    run = GRPORunArgs(model_name_or_path=TINY_MODEL, rewards={"verifier": 1.0, "format": 0.5}, reward_workers=1)
    row_reward, shaping = reward_functions(run, specs)
    assert (row_reward.__name__, shaping.__name__) == ("verifier", "format")
    assert row_reward(completions, verifier=specs) == scores  # one worker: the same scores, on this thread
    assert shaping(completions, verifier=specs) == [0.0, 1.0, 1.0, 0.0, 0.0, 0.0]  # every row, its own spec ignored

    with pytest.raises(VerifierError, match=r"reward 'verifier': verifier .*'answer'"):
        row_reward([[{"role": "assistant", "content": "4"}]], verifier=[json.dumps({"name": "math"})])
    with pytest.raises(RecipeError, match="unknown verifier.*'maths'"):
        reward_functions(run, [json.dumps({"name": "maths", "answer": "1"})])


def test_rl_math_recipe_turns_question_gold_files_into_rl_records(tmp_path):
    gsm8k = [{"question": "Natalia sold 48 clips in April and half as many in May. How many did she sell?",
              "answer": "In May she sold 48 / 2 = 24 clips.\nAltogether 48 + 24 = 72 clips.\n#### 72"},
             {"question": "A pen costs $3. How much do 4 pens cost?", "answer": "4 * 3 = 12 dollars.\n#### 12"}]
    maths = [{"problem": "What is the sum of $\\frac{1}{2}$ and $\\frac{1}{4}$, written as a common fraction?",
              "solution": "Adding the fractions gives $\\boxed{\\frac{3}{4}}$."}]
    (tmp_path / "gsm8k.jsonl").write_text("".join(json.dumps(r) + "\n" for r in gsm8k + gsm8k[:1]))  # + a duplicate
    (tmp_path / "math.jsonl").write_text(json.dumps(maths[0]) + "\n")
    recipe_path = REPO / "configs" / "curation" / "rl_math.yaml"
    recipe = load_recipe(CurationRecipe, str(recipe_path))
    card = curate([str(tmp_path / "gsm8k.jsonl")], str(tmp_path / "rl"), recipe, recipe_path=str(recipe_path),
                  workers=1, progress=lambda *_: None)
    assert card["counts"]["total"] == {"in": 3, "kept": 2, "removed": 1, "quarantined": 0}
    recipe.input.field_map = {"question": "problem", "answer": "solution"}  # MATH's field names
    curate([str(tmp_path / "math.jsonl")], str(tmp_path / "rl_math"), recipe, workers=1, progress=lambda *_: None)

    dataset, mix = build_mix([str(tmp_path / "rl"), str(tmp_path / "rl_math")], "rl", seed=0)
    assert mix["rows"] == 3 and dataset.column_names == ["prompt", "verifier"]
    golds = {r["question"]: r["answer"] for r in gsm8k} | {maths[0]["problem"]: maths[0]["solution"]}
    for row in dataset:
        question = row["prompt"][0]["content"]
        assert row["prompt"] == user(question)
        assert json.loads(row["verifier"]) == {"name": "math", "answer": golds[question]}  # the gold verbatim
        assert verify(json.loads(row["verifier"]), golds[question]).score == 1.0
    reward, = reward_functions(GRPORunArgs(model_name_or_path=TINY_MODEL), dataset["verifier"])
    assert reward([[{"role": "assistant", "content": "so \\boxed{0.75}"}]], verifier=[
        json.dumps({"name": "math", "answer": maths[0]["solution"]})]) == [1.0]


def test_code_rows_without_allow_code_exec_stop_the_run(tmp_path):
    code = {"name": "code", "prompt": "def add(a, b):\n", "test": "def check(f):\n    assert f(1, 2) == 3\n",
            "entry_point": "add"}
    data = write_records(tmp_path / "curated", Kind.rl, [{"prompt": user("Write add."), "verifier": code},
                                                         {"prompt": user(PROMPT), "verifier": {"name": "math",
                                                                                               "answer": "4"}}])
    recipe = write_yaml(tmp_path / "grpo.yaml", {"model_name_or_path": TINY_MODEL,
                                                 "datasets": [str(data)], "output_dir": str(tmp_path / "out")})
    with pytest.raises(RecipeError, match="'code' run generated code; set `allow_code_exec: true`"):
        build_trainer(load_run_config("grpo", recipe))
    assert mixlab_main(["train", "grpo", "--config", str(recipe)]) == 2  # a one-line user error, nothing trained
    assert not (tmp_path / "out").exists()

    reward, = reward_functions(GRPORunArgs(model_name_or_path=TINY_MODEL, allow_code_exec=True),
                               [json.dumps(code)])
    body = "```python\ndef add(a, b):\n    return a + b\n```"
    assert reward([[{"role": "assistant", "content": body}]] * 2, verifier=[json.dumps(code)] * 2) == [1.0, 1.0]


def test_loss_type_is_validated_and_defaults_resolved(tmp_path):
    recipe = write_yaml(tmp_path / "grpo.yaml", {"model_name_or_path": TINY_MODEL, "datasets": ["x"],
                                                 "output_dir": str(tmp_path / "out"), "loss_type": "ppo",
                                                 "use_vllm": True, "rewards": {"verifier": 1.0, "format": 0.25}})
    with pytest.raises(RecipeError, match=r"grpo.yaml:\d+: loss_type 'ppo' is not one of dapo, dr_grpo, grpo"):
        load_run_config("grpo", recipe)
    cfg = load_run_config("grpo", recipe, ["loss_type=dr_grpo"])
    assert cfg.args.loss_type == "dr_grpo" and cfg.args.mask_truncated_completions is True
    assert dict(zip(cfg.run.rewards, cfg.args.reward_weights)) == {"verifier": 1.0, "format": 0.25}  # same order
    if not torch.cuda.is_available():
        assert cfg.args.use_vllm is False and any("use_vllm: true, but no GPU" in n for n in cfg.notes)
    assert load_run_config("grpo", recipe, ["loss_type=grpo"]).args.loss_type == "grpo"
    with pytest.raises(RecipeError, match="not in 'reward_weights'"):
        load_run_config("grpo", recipe, ["loss_type=dapo", "reward_weights=[1.0]"])
    with pytest.raises(RecipeError, match="'rewards' weights must be numbers"):
        load_run_config("grpo", recipe, ["loss_type=dapo", "rewards={verifier: high}"])


@pytest.mark.parametrize("mask", [True, False])
def test_truncated_completions_are_masked_from_the_loss(task, mask):
    cfg = load_run_config("grpo", grpo_recipe(task, f"mask_{mask}", max_completion_length=2, temperature=1.5,
                                              mask_truncated_completions=mask))
    trainer, _ = build_trainer(cfg)
    trainer.model.train()
    inputs = [{"prompt": user(PROMPT), "verifier": json.dumps({"name": "math", "answer": "4"})}] * 32
    batch = trainer._generate_and_score_completions(inputs)
    stops = set(trainer.eos_token_ids) | {trainer.processing_class.pad_token_id}
    ended = torch.tensor([any(t in stops for t in row) for row in batch["completion_ids"].tolist()])
    assert ended.any() and not ended.all()  # the batch has both finished and cut-off completions
    kept = batch["completion_mask"].sum(dim=1) > 0
    assert torch.equal(kept, ended) if mask else bool(kept.all())


def test_grpo_reward_rises_writes_outputs_and_resumes(task):
    recipe = grpo_recipe(task, "run")
    out = task["root"] / "run"
    assert mixlab_main(["train", "grpo", "--config", str(recipe)]) == 0

    rewards = [r["reward"] for r in metrics(out) if "reward" in r]
    assert len(rewards) == 20
    first, last = sum(rewards[:6]) / 6, sum(rewards[-6:]) / 6
    assert first < 0.45 and last > first + 0.25, rewards
    for name in ("config.json", "model.safetensors", "tokenizer.json", "generation_config.json", "config.yaml",
                 "mix.json", "plots/loss.png", "plots/reward.png", "checkpoint-10", "checkpoint-20"):
        assert (out / name).exists(), name
    assert json.loads((out / "mix.json").read_text())["kind"] == "rl"
    resolved = load_run_config("grpo", out / "config.yaml")  # the resolved config is a recipe again
    assert resolved.args.loss_type == "dapo" and resolved.run.rewards == {"verifier": 1.0}

    assert mixlab_main(["train", "grpo", "--config", str(recipe), "max_steps=22", "--resume"]) == 0
    steps = [r["step"] for r in metrics(out) if "reward" in r]
    assert steps == list(range(1, 23))  # continued at step 21, not from 1
    assert json.loads((out / "checkpoint-22" / "trainer_state.json").read_text())["global_step"] == 22
