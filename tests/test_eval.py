"""`mixlab eval` end to end: real lm-eval (hf backend) on a tiny random Qwen3 over task files the tests write."""

import json

import pytest
import yaml

from eval.checkpoint import decide_chat_template
from eval.humaneval import code_verifier_available
from mixlab.cli import main

pytestmark = pytest.mark.usefixtures("offline")  # tests/conftest.py

GSM8K = [
    {"question": "Tom has 3 apples and buys 4 more. How many apples does he have?",
     "answer": "Tom has 3 + 4 = <<3+4=7>>7 apples.\n#### 7"},
    {"question": "A box holds 6 eggs. How many eggs are in 5 boxes?", "answer": "5 * 6 = <<5*6=30>>30 eggs.\n#### 30"},
    {"question": "Ann had 10 pens and gave away 4. How many are left?", "answer": "10 - 4 = <<10-4=6>>6 pens.\n#### 6"},
]
ARC = [
    {"id": "Mercury_1", "question": "Which gas do plants take in for photosynthesis?",
     "choices": {"text": ["oxygen", "nitrogen", "carbon dioxide", "helium"], "label": ["A", "B", "C", "D"]},
     "answerKey": "C"},
    {"id": "Mercury_2", "question": "What is the boiling point of water at sea level?",
     "choices": {"text": ["50 C", "100 C", "150 C", "200 C"], "label": ["1", "2", "3", "4"]}, "answerKey": "2"},
    {"id": "Mercury_3", "question": "Which planet is closest to the Sun?",
     "choices": {"text": ["Mercury", "Venus", "Earth", "Mars"], "label": ["A", "B", "C", "D"]}, "answerKey": "A"},
]
WINOGRANDE = [
    {"sentence": "Sarah was a much better surgeon than Maria so _ always got the easier cases.",
     "option1": "Sarah", "option2": "Maria", "answer": "2"},
    {"sentence": "The trophy does not fit into the suitcase because _ is too large.",
     "option1": "the trophy", "option2": "the suitcase", "answer": "1"},
    {"sentence": "The cup fell off the table because _ was unstable.", "option1": "the cup", "option2": "the table",
     "answer": "2"},
]
IFEVAL = [
    {"key": 1000, "prompt": "Write a short poem about rain. Do not use any commas.",
     "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]},
    {"key": 1001, "prompt": "Describe a cat in at least 50 words.",
     "instruction_id_list": ["length_constraints:number_words"], "kwargs": [{"relation": "at least", "num_words": 50}]},
]
HUMANEVAL = [
    {"task_id": "HumanEval/0", "prompt": 'def add(a, b):\n    """Add two numbers.\n    >>> add(2, 3)\n    5\n    """\n',
     "canonical_solution": "    return a + b\n", "test": "def check(candidate):\n    assert candidate(2, 3) == 5\n",
     "entry_point": "add"},
    {"task_id": "HumanEval/1", "prompt": 'def neg(x):\n    """Negate x."""\n', "canonical_solution": "    return -x\n",
     "test": "def check(candidate):\n    assert candidate(1) == -1\n", "entry_point": "neg"},
]
ROWS = {"gsm8k": GSM8K, "arc_challenge": ARC, "winogrande": WINOGRANDE, "ifeval": IFEVAL, "humaneval": HUMANEVAL}
IFEVAL_METRICS = ["prompt_level_strict_acc", "prompt_level_loose_acc", "inst_level_strict_acc", "inst_level_loose_acc"]
SUITE = {
    "name": "tiny", "limit": 3,
    "tasks": {
        "arc_challenge": {"num_fewshot": 1, "metrics": ["acc_norm"]},
        "gsm8k": {"num_fewshot": 1, "max_gen_toks": 8,
                  "metrics": ["exact_match,flexible-extract", "exact_match,strict-match"]},
        "winogrande": {"num_fewshot": 0, "metrics": ["acc"]},
        "ifeval": {"num_fewshot": 0, "max_gen_toks": 8, "metrics": IFEVAL_METRICS},
        "humaneval": {"num_fewshot": 0, "max_gen_toks": 8, "metrics": ["pass@1"]},
    },
}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """One random tiny Qwen3 saved twice: post-trained (our ChatML template, eos <|im_end|>) and base (no template)."""
    from train.model import load_model
    from train.template import PACKAGED_TOKENIZER, install_chat_template, load_tokenizer

    root = tmp_path_factory.mktemp("models")
    chat_tokenizer = install_chat_template(load_tokenizer(PACKAGED_TOKENIZER))
    model = load_model("configs/tiny/model/config.json", chat_tokenizer, {"dtype": "float32"})
    for name, tokenizer in (("sft", chat_tokenizer), ("base", load_tokenizer(PACKAGED_TOKENIZER))):
        model.save_pretrained(root / name)
        tokenizer.save_pretrained(root / name)
    return root


@pytest.fixture(scope="module")
def bdir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("benchmarks")
    for task, rows in ROWS.items():
        (folder / f"{task}.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return folder


@pytest.fixture(scope="module")
def suite_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("suite") / "tiny.yaml"
    path.write_text(yaml.safe_dump(SUITE, sort_keys=False))
    return path


def run_cli(argv, capsys) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def sft_run(models, bdir, suite_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("eval") / "sft"
    assert main(["eval", str(models / "sft"), "--output", str(out), "--suite", str(suite_file),
                 "--benchmark-dir", str(bdir)]) == 0
    return out


@pytest.fixture(scope="module")
def base_run(models, bdir, suite_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("eval") / "base"
    assert main(["eval", str(models / "base"), "--output", str(out), "--suite", str(suite_file), "--tasks",
                 "arc_challenge,gsm8k", "--limit", "2", "--benchmark-dir", str(bdir)]) == 0
    return out


def read_samples(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_summary_holds_the_suites_metrics_with_stderr_and_matches_the_samples(sft_run):
    summary = json.loads((sft_run / "summary.json").read_text())
    assert list(summary) == ["arc_challenge", "gsm8k", "winogrande", "ifeval"]  # humaneval skipped: no flag
    expected = {task: spec["metrics"] for task, spec in SUITE["tasks"].items()}
    for task, entry in summary.items():
        assert list(entry) == [*expected[task], "stderr", "n", "num_fewshot"]
        assert list(entry["stderr"]) == expected[task]
        assert all(0.0 <= entry[metric] <= 1.0 for metric in expected[task])
        assert entry["n"] == min(3, len(ROWS[task]))
        assert entry["num_fewshot"] == SUITE["tasks"][task]["num_fewshot"]
    assert summary["ifeval"]["stderr"]["inst_level_strict_acc"] is None  # lm-eval reports "N/A"
    assert summary["arc_challenge"]["stderr"]["acc_norm"] is not None
    arc = read_samples(sft_run / "samples" / "arc_challenge.jsonl")
    assert summary["arc_challenge"]["acc_norm"] == pytest.approx(sum(s["acc_norm"] for s in arc) / len(arc))
    strict = [s for s in read_samples(sft_run / "samples" / "gsm8k.jsonl") if s["filter"] == "strict-match"]
    assert summary["gsm8k"]["exact_match,strict-match"] == pytest.approx(
        sum(s["exact_match"] for s in strict) / len(strict))


def test_results_json_is_lm_evals_and_report_names_the_decisions(sft_run):
    results = json.loads((sft_run / "results.json").read_text())
    assert {"exact_match,strict-match", "exact_match,flexible-extract"} <= set(results["results"]["mixlab_local_gsm8k"])
    assert results["configs"]["mixlab_local_gsm8k"]["generation_kwargs"]["max_gen_toks"] == 8
    assert "samples" not in results
    report = (sft_run / "report.md").read_text()
    assert "chat template: **on** (post-trained: it stops on <|im_end|>" in report
    assert "> **humaneval SKIPPED**: executes generated code; rerun with --allow-code-exec" in report
    assert "| gsm8k | exact_match,strict-match |" in report and "| ifeval | prompt_level_loose_acc |" in report
    settings = json.loads((sft_run / "eval.json").read_text())
    assert settings["model_args"]["think_end_token"] == "</think>" and settings["strip_think"] is True
    assert settings["backend"] == "hf" and settings["limit"] == 3


def test_chat_template_on_gives_multiturn_fewshot_prompts(sft_run):
    [first, *_] = read_samples(sft_run / "samples" / "gsm8k.jsonl")
    [[prompt, generation]] = first["arguments"]
    assert prompt.count("<|im_start|>user\n") == 2 and prompt.count("<|im_start|>assistant\n") == 2  # 1 shot + doc
    assert prompt.endswith(f"Question: {GSM8K[0]['question']}\nAnswer:<|im_end|>\n<|im_start|>assistant\n")
    assert generation["max_gen_toks"] == 8


def test_base_checkpoint_gets_plain_prompts_and_no_think_stripping(base_run):
    summary = json.loads((base_run / "summary.json").read_text())
    assert list(summary) == ["arc_challenge", "gsm8k"] and summary["gsm8k"]["n"] == 2
    [first, *_] = read_samples(base_run / "samples" / "gsm8k.jsonl")
    [[prompt, _]] = first["arguments"]
    assert "<|im_start|>" not in prompt and prompt.endswith(f"Question: {GSM8K[0]['question']}\nAnswer:")
    settings = json.loads((base_run / "eval.json").read_text())
    assert settings["chat_template"] == {"on": False, "reason": "base model: its tokenizer has no chat template"}
    assert "think_end_token" not in settings["model_args"] and settings["skipped"] == {}
    assert "chat template: **off**" in (base_run / "report.md").read_text()


def test_auto_decision_reads_the_checkpoints_stop_tokens(models, tmp_path):
    from transformers import GenerationConfig

    from train.template import PACKAGED_TOKENIZER, load_tokenizer

    assert decide_chat_template(str(models / "sft")).on
    assert not decide_chat_template(str(models / "base")).on
    # a base model that ships a chat template (like Qwen3-Base) still stops on <|endoftext|>: off
    tokenizer = load_tokenizer(PACKAGED_TOKENIZER)
    tokenizer.chat_template = "{% for m in messages %}<|im_start|>{{ m.content }}<|im_end|>{% endfor %}"
    tokenizer.save_pretrained(tmp_path)
    GenerationConfig(eos_token_id=151643).save_pretrained(tmp_path)
    decision = decide_chat_template(str(tmp_path))
    assert decision == (False, "base model: it stops on <|endoftext|>, which its chat template never writes")
    assert decide_chat_template(str(tmp_path), "on").on


def test_missing_benchmarks_fail_before_the_model_loads_naming_the_data(models, bdir, suite_file, tmp_path, capsys,
                                                                        monkeypatch):
    code, _, err = run_cli(["eval", str(models / "sft"), "--output", str(tmp_path / "a"), "--suite", str(suite_file),
                            "--set", "tasks.piqa.num_fewshot=0", "--benchmark-dir", str(bdir)], capsys)
    assert code == 2 and "piqa: no local benchmark file in" in err and "piqa.jsonl, piqa.jsonl.gz" in err
    assert "SKIPPED humaneval: executes generated code" in err  # the suite's humaneval, said before anything runs
    import datasets
    import huggingface_hub.constants

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "empty_cache")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty_hub"))
    code, _, err = run_cli(["eval", str(models / "sft"), "--output", str(tmp_path / "b"), "--tasks", "arc_challenge"],
                           capsys)
    assert code == 2 and "arc_challenge needs the Hugging Face dataset 'allenai/ai2_arc'" in err
    assert not (tmp_path / "b").exists()


@pytest.fixture
def datasets_cache(tmp_path, monkeypatch):
    """An offline HF datasets cache holding openai/gsm8k (config main) as a networked load_dataset leaves it."""
    import datasets
    import huggingface_hub.constants
    from datasets.packaged_modules.json.json import Json

    cache = tmp_path / "datasets"
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", cache)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    files = {}
    for split in ("train", "test"):
        files[split] = str(tmp_path / f"gsm8k_{split}.jsonl")
        (tmp_path / f"gsm8k_{split}.jsonl").write_text("".join(json.dumps(row) + "\n" for row in GSM8K))
    Json(dataset_name="gsm8k", config_name="main", hash="0123456789abcdef", data_files=files).download_and_prepare()
    [config_dir] = (cache / "gsm8k").iterdir()
    config_dir.rename(cache / "gsm8k" / "main")
    (cache / "gsm8k").rename(cache / "openai___gsm8k")
    return cache


def test_default_path_runs_lm_evals_task_from_the_offline_cache(models, datasets_cache, tmp_path):
    out = tmp_path / "eval"
    assert main(["eval", str(models / "sft"), "--output", str(out), "--tasks", "gsm8k", "--limit", "1",
                 "--set", "tasks.gsm8k.max_gen_toks=4", "--set", "tasks.gsm8k.num_fewshot=2"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["gsm8k"]) == ["exact_match,flexible-extract", "exact_match,strict-match", "stderr", "n",
                                      "num_fewshot"]
    assert (summary["gsm8k"]["n"], summary["gsm8k"]["num_fewshot"]) == (1, 2)
    [sample, _] = read_samples(out / "samples" / "gsm8k.jsonl")  # one doc, two filters
    [[prompt, _]] = sample["arguments"]
    assert prompt.count("<|im_start|>user\n") == 3  # 2 shots from the cached train split + the test doc
    assert json.loads((out / "results.json").read_text())["configs"]["gsm8k"]["dataset_path"] == "openai/gsm8k"


def test_a_missing_model_is_a_one_line_error(tmp_path, capsys):
    code, _, err = run_cli(["eval", str(tmp_path / "nowhere"), "--output", str(tmp_path / "out")], capsys)
    assert code == 2 and err.startswith(f"mixlab eval: error: {tmp_path / 'nowhere'}: not a model folder")


def test_humaneval_by_name_needs_allow_code_exec(models, bdir, tmp_path, capsys):
    code, _, err = run_cli(["eval", str(models / "sft"), "--output", str(tmp_path), "--tasks", "humaneval",
                            "--benchmark-dir", str(bdir)], capsys)
    assert code == 2 and "humaneval executes generated code: pass --allow-code-exec" in err


def test_humaneval_task_keeps_lm_evals_prompts_and_scores_with_mixlab(bdir):
    from lm_eval.tasks import TaskManager

    from eval.humaneval import humaneval_config, pass_at_1, pass_at_1_instruct

    manager = TaskManager(include_path=None, include_defaults=False)
    plain = manager.load([humaneval_config(chat=False, benchmark_dir=bdir)])["tasks"]["mixlab_humaneval"]
    assert [plain.doc_to_text(doc) for doc in plain.eval_docs] == [row["prompt"] for row in HUMANEVAL]
    assert plain.config.process_results is pass_at_1 and plain.UNSAFE_CODE
    instruct = manager.load([humaneval_config(chat=True, benchmark_dir=bdir)])["tasks"]["mixlab_humaneval"]
    assert instruct.config.process_results is pass_at_1_instruct
    assert instruct.doc_to_text(instruct.eval_docs[0]).startswith("Write a solution to the following problem")


def write_summary(folder, summary: dict):
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(json.dumps(summary))
    return str(folder)


def test_compare_table_marks_deltas_against_the_first_run(tmp_path, capsys):
    base = write_summary(tmp_path / "base" / "eval", {
        "gsm8k": {"exact_match,strict-match": 0.30, "stderr": {"exact_match,strict-match": 0.01}, "n": 100},
        "arc_challenge": {"acc_norm": 0.40, "stderr": {"acc_norm": 0.05}, "n": 100}})
    sft = write_summary(tmp_path / "sft" / "eval", {
        "gsm8k": {"exact_match,strict-match": 0.45, "stderr": {"exact_match,strict-match": 0.01}, "n": 100},
        "arc_challenge": {"acc_norm": 0.38, "stderr": {"acc_norm": 0.05}, "n": 100}})
    rl = write_summary(tmp_path / "rl" / "eval", {
        "gsm8k": {"exact_match,strict-match": 0.25, "stderr": {"exact_match,strict-match": None}, "n": 100}})
    code, out, _ = run_cli(["eval", "compare", base, sft, rl, "--output", str(tmp_path / "cmp.png")], capsys)
    assert code == 0
    table = (tmp_path / "cmp.md").read_text()
    assert table in out + "\n"
    lines = table.splitlines()
    assert lines[0] == "| task | metric | base/eval | sft/eval (Δ) | rl/eval (Δ) |"
    assert "| gsm8k | exact_match,strict-match | 30.0 | 45.0 (+15.0*) | 25.0 (-5.0) |" in lines  # no stderr: no *
    assert "| arc_challenge | acc_norm | 40.0 | 38.0 (-2.0) | — |" in lines
    assert (tmp_path / "cmp.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_compare_real_runs_into_a_folder(sft_run, base_run, tmp_path, capsys):
    code, out, _ = run_cli(["eval", "compare", str(base_run), str(sft_run), "--output", str(tmp_path)], capsys)
    assert code == 0
    from PIL import Image

    with Image.open(tmp_path / "compare.png") as image:
        assert image.width >= 600 and image.height >= 400
    table = (tmp_path / "compare.md").read_text()
    base = json.loads((base_run / "summary.json").read_text())["arc_challenge"]["acc_norm"]
    sft = json.loads((sft_run / "summary.json").read_text())["arc_challenge"]["acc_norm"]
    assert f"| arc_challenge | acc_norm | {100 * base:.1f} | {100 * sft:.1f} ({100 * (sft - base):+.1f}" in table
    assert "| ifeval | prompt_level_strict_acc | — |" in table  # only the second run has ifeval


def test_compare_of_a_folder_without_summary_is_a_clear_error(tmp_path, capsys):
    code, _, err = run_cli(["eval", "compare", str(tmp_path)], capsys)
    assert code == 2 and "summary.json: not an eval output folder" in err


needs_code_verifier = pytest.mark.skipif(not code_verifier_available(), reason="mixlab's `code` verifier is not here")


@needs_code_verifier
def test_humaneval_programs_are_lm_evals_and_run_in_the_sandbox():
    from eval.humaneval import pass_at_1, pass_at_1_instruct

    add = HUMANEVAL[0]
    assert pass_at_1(add, [add["canonical_solution"]]) == {"pass@1": 1.0}
    assert pass_at_1(add, ["    return a - b\n"]) == {"pass@1": 0.0}
    # chat form: the answer continues the prompt inside a ```python block; the closing fence ends the completion
    assert pass_at_1_instruct(add, ["    return a + b\n```\nThis adds a and b."]) == {"pass@1": 1.0}
    assert pass_at_1(add, ["    return a + b\n```\nThis adds a and b."]) == {"pass@1": 0.0}  # not cut: bad syntax


@needs_code_verifier
def test_humaneval_runs_with_allow_code_exec(models, bdir, tmp_path):
    assert main(["eval", str(models / "sft"), "--output", str(tmp_path), "--tasks", "humaneval", "--allow-code-exec",
                 "--benchmark-dir", str(bdir), "--set", "tasks.humaneval.max_gen_toks=4"]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["humaneval"]["pass@1"] == 0.0 and summary["humaneval"]["n"] == 2  # a random model fails
    samples = read_samples(tmp_path / "samples" / "humaneval.jsonl")
    assert [s["pass@1"] for s in samples] == [0.0, 0.0]
    assert "in mixlab's sandbox" in (tmp_path / "report.md").read_text()
