"""`mixlab score-mix` end to end on CPU: two tiny mixes curated, trained from a random tiny Qwen3, scored, ranked.

    .venv/bin/pytest tests/test_score_mix.py

The benchmark is a tiny ARC-style file the test writes; mix `right` holds its questions with the right answers and
mix `wrong` the same questions with wrong ones, so even a few SFT steps of a random 2-layer model separate them.
"""

import json

import pytest
import yaml

from eval.leaderboard import rank
from mixlab.cli import main

pytestmark = pytest.mark.usefixtures("offline")  # tests/conftest.py

ARC = [
    ("Which gas do plants take in for photosynthesis?", ["oxygen", "nitrogen", "carbon dioxide", "helium"], 2),
    ("What is the boiling point of water at sea level?", ["50 C", "100 C", "150 C", "200 C"], 1),
    ("Which planet is closest to the Sun?", ["Mercury", "Venus", "Earth", "Mars"], 0),
    ("What do bees make?", ["milk", "silk", "wool", "honey"], 3),
    ("Which organ pumps blood through the body?", ["heart", "lung", "liver", "skin"], 0),
    ("What is frozen water called?", ["steam", "ice", "sand", "salt"], 1),
]
GSM8K = [{"question": "Tom has 3 apples and buys 4 more. How many apples does he have?",
          "answer": "3 + 4 = <<3+4=7>>7.\n#### 7"},
         {"question": "A box holds 6 eggs. How many eggs are in 5 boxes?", "answer": "5 * 6 = <<5*6=30>>30.\n#### 30"}]
SUITE = {"name": "tiny", "limit": None, "tasks": {
    "arc_challenge": {"num_fewshot": 0, "metrics": ["acc_norm"]},
    "gsm8k": {"num_fewshot": 0, "max_gen_toks": 4,
              "metrics": ["exact_match,flexible-extract", "exact_match,strict-match"]}}}
# short answers: no length/language filtering; six records need no MinHash (the slowest stage on 2 cores)
CURATION = {"filters": {"empty_turns": {}, "last_turn": {}}, "dedup": {"minhash": {"enabled": False}}}
STEPS = 8


def arc_rows() -> list[dict]:
    return [{"id": f"Q{i}", "question": q, "choices": {"text": choices, "label": list("ABCD")},
             "answerKey": "ABCD"[gold]} for i, (q, choices, gold) in enumerate(ARC)]


def conversations(pick_answer) -> list[dict]:
    """One conversation per question as lm-eval asks it, answered with pick_answer(choices, gold)."""
    return [{"messages": [{"role": "user", "content": f"Question: {q}\nAnswer:"},
                          {"role": "assistant", "content": pick_answer(choices, gold)}]} for q, choices, gold in ARC]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("score_mix")
    bdir = root / "benchmarks"
    bdir.mkdir()
    write_jsonl(bdir / "arc_challenge.jsonl", arc_rows())
    write_jsonl(bdir / "gsm8k.jsonl", GSM8K)
    (root / "suite.yaml").write_text(yaml.safe_dump(SUITE, sort_keys=False))
    (root / "curation.yaml").write_text(yaml.safe_dump(CURATION))
    right = write_jsonl(root / "right.jsonl", conversations(lambda choices, gold: choices[gold]))
    wrong = write_jsonl(root / "wrong.jsonl", conversations(lambda choices, gold: choices[(gold + 1) % 4]))
    chat = write_jsonl(root / "chat.jsonl", [{"messages": [{"role": "user", "content": "Say hello."},
                                                           {"role": "assistant", "content": "Hello there!"}]}])
    mixes = {
        "right.yaml": {"name": "right", "description": "the benchmark's answers",
                       "datasets": [{"curate": {"inputs": [right], "recipe": str(root / "curation.yaml")},
                                     "weight": 8}]},
        "wrong.yaml": {"datasets": [{"curate": {"inputs": [wrong], "set": ["filters={empty_turns: {}}",
                                                                         "dedup.minhash.enabled=false"]},
                                     "weight": 8},
                                    {"path": chat, "rows": 2}]},  # raw input used as it is (train's mix)
    }
    for name, mix in mixes.items():
        (root / name).write_text(yaml.safe_dump(mix, sort_keys=False))
    return root


def score_mix(setup, out, steps=STEPS, mixes=("right.yaml", "wrong.yaml")) -> int:
    return main(["score-mix", "--mixes", *(str(setup / name) for name in mixes),
                 "--model", "configs/tiny/model/config.json", "--steps", str(steps), "--suite",
                 str(setup / "suite.yaml"), "--output", str(out), "--benchmark-dir", str(setup / "benchmarks"),
                 "--set", "logging_steps=2", "--set", "gradient_checkpointing=false", "--workers", "1"])


@pytest.fixture(scope="module")
def first_run(setup):
    out = setup / "out"
    assert score_mix(setup, out) == 0
    return out


def read_json(path):
    return json.loads(path.read_text())


def curated_folders(out):
    return sorted(p for p in (out / "curated").iterdir() if p.is_dir())


def test_leaderboard_ranks_both_mixes_with_scores_and_costs(first_run):
    board = read_json(first_run / "leaderboard.json")
    ranking = board["ranking"]
    assert [row["name"] for row in ranking] == ["right", "wrong"]  # learnable: the right answers win
    right, wrong = ranking
    assert right["tasks"]["arc_challenge"]["value"] > wrong["tasks"]["arc_challenge"]["value"]
    for row in ranking:
        assert list(row["tasks"]) == ["arc_challenge", "gsm8k"]
        assert row["tasks"]["gsm8k"]["metric"] == "exact_match,flexible-extract"  # the suite's first metric
        values = [task["value"] for task in row["tasks"].values()]
        assert row["mean"] == pytest.approx(sum(values) / 2)
        cost = row["cost"]
        assert cost["curate_seconds"] > 0 and cost["sft_seconds"] > 0 and cost["eval_seconds"] > 0
        assert cost["total_seconds"] == pytest.approx(
            cost["curate_seconds"] + cost["sft_seconds"] + cost["eval_seconds"], abs=0.2)
        assert cost["tokens_trained"] > 0
    assert right["rows"] == 8 * len(ARC) and wrong["rows"] == 8 * len(ARC) + 2
    assert board["settings"]["steps"] == STEPS and board["settings"]["suite"] == "tiny"

    table = (first_run / "leaderboard.md").read_text()
    lines = {line.split(" | ")[1]: line for line in table.splitlines() if line.startswith("| 1") or
             line.startswith("| 2")}
    assert set(lines) == {"right", "wrong"}
    assert f"{100 * right['tasks']['arc_challenge']['value']:.1f} ±" in lines["right"]
    assert f"| {right['cost']['tokens_trained']:,} | {8 * len(ARC)} |" in lines["right"]
    assert "| arc_challenge acc_norm | gsm8k exact_match,flexible-extract |" in table
    assert "### 1. right — the benchmark's answers" in table and "### 2. wrong" in table
    assert (first_run / "leaderboard.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_each_mix_is_trained_from_the_base_for_n_steps_and_evaluated(first_run):
    for name in ("right", "wrong"):
        folder = first_run / "mixes" / name
        config = yaml.safe_load((folder / "sft" / "config.yaml").read_text())
        assert config["max_steps"] == STEPS and config["model_name_or_path"] == "configs/tiny/model/config.json"
        assert config["save_strategy"] == "no" and not list((folder / "sft").glob("checkpoint-*"))
        assert config["datasets"][0]["path"].startswith(str(first_run / "curated"))
        metrics = [json.loads(line) for line in (folder / "sft" / "metrics.jsonl").read_text().splitlines()]
        assert max(row["step"] for row in metrics) == STEPS
        assert (folder / "sft" / "model.safetensors").is_file()
        summary = read_json(folder / "eval" / "summary.json")
        assert summary["arc_challenge"]["n"] == len(ARC) and summary["gsm8k"]["n"] == len(GSM8K)
        assert read_json(folder / "score.json")["eval"]["summary"] == summary
        assert (folder / "mix.yaml").is_file()
    mix = read_json(first_run / "mixes" / "wrong" / "sft" / "mix.json")
    assert [entry["rows_taken"] for entry in mix["datasets"]] == [8 * len(ARC), 2]


def test_rerun_reuses_the_curated_folders(setup, first_run, capsys):
    folders = curated_folders(first_run)
    assert len(folders) == 2
    stamps = {p: (p / "manifest.json").stat().st_mtime_ns for p in folders}
    capsys.readouterr()
    assert score_mix(setup, first_run, steps=1, mixes=["wrong.yaml"]) == 0  # one mix again: a cheaper rerun
    out = capsys.readouterr().out
    assert out.count("curate: reusing") == 1 and "curate: " not in out.replace("curate: reusing", "")
    assert curated_folders(first_run) == folders
    assert {p: (p / "manifest.json").stat().st_mtime_ns for p in folders} == stamps
    score = read_json(first_run / "mixes" / "wrong" / "score.json")
    assert [c["reused"] for c in score["curations"]] == [True]
    assert score["cost"]["curate_seconds"] == 0 and score["sft"]["steps"] == 1  # trained and scored again
    assert [row["name"] for row in read_json(first_run / "leaderboard.json")["ranking"]] == ["wrong"]
    assert "| 0 (cached) |" in (first_run / "leaderboard.md").read_text()


def test_a_bad_mix_file_or_recipe_fails_before_any_work(setup, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"datasets": [{"curate": {"inputs": [str(tmp_path / "nowhere.jsonl")]}}]}))
    code = main(["score-mix", "--mixes", str(setup / "right.yaml"), str(bad), "--model",
                 "configs/tiny/model/config.json", "--steps", "2", "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and f"{bad}:1: datasets[0].curate.inputs: {tmp_path / 'nowhere.jsonl'} not found" in err
    assert not (tmp_path / "out").exists()
    twice = tmp_path / "twice.yaml"
    twice.write_text("name: right\ndatasets:\n  - path: " + str(setup / "chat.jsonl") + "\n    curate: {}\n")
    code = main(["score-mix", "--mixes", str(twice), "--model", "configs/tiny/model/config.json", "--steps", "2",
                 "--output", str(tmp_path / "out")])
    assert code == 2 and "give either `curate:`" in capsys.readouterr().err
    code = main(["score-mix", "--mixes", str(setup / "right.yaml"), "--model", "configs/tiny/model/config.json",
                 "--steps", "2", "--output", str(tmp_path / "out"), "--set", "learnin_rate=0.1"])
    assert code == 2 and "unknown field 'learnin_rate'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_ranking_marks_mixes_within_noise_of_the_leader():
    def score(name, value, stderr):
        summary = {"t": {"acc": value, "stderr": {"acc": stderr}, "n": 100, "num_fewshot": 0}}
        return {"name": name, "description": "", "eval": {"summary": summary}, "cost": {}, "sft": {"rows": 1}}

    rows = rank([score("close", 0.50, 0.05), score("best", 0.55, 0.05), score("far", 0.20, 0.01)])
    assert [(r["name"], r["rank"], r["tied_with_leader"]) for r in rows] == [
        ("best", 1, False), ("close", 2, True), ("far", 3, False)]
