"""Benchmark items through lm-eval's real task configs, offline: `pytest tests/test_benchmarks.py`.

A tiny --benchmark-dir (2-3 rows per task, Hugging Face field names, jsonl / jsonl.gz / parquet) goes through
the generated local task YAMLs for all nine mission tasks; a task YAML written here goes through TaskManager's
include_path; a subprocess with an empty HF_HOME checks the default path: lm-eval's gsm8k config reading a
seeded datasets cache, and a clear BenchmarkUnavailable for a dataset that is not cached.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import textwrap

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from decontam.benchmarks import load_items, prompt_lines, render_item
from decontam.items import MISSION_TASKS
from mixlab.benchmarks import BenchmarkUnavailable, load_subtask_docs, load_task_docs, write_local_task_yamls

GSM8K = [
    {"question": "Tom has 3 apples and buys 4 more. How many apples does he have?",
     "answer": "Tom has 3 + 4 = <<3+4=7>>7 apples.\n#### 7"},
    {"question": "A box holds 6 eggs.\nHow many eggs are in 5 boxes?", "answer": "5 * 6 = <<5*6=30>>30 eggs.\n#### 30"},
]
MMLU = [
    {"question": "What is the chemical symbol for gold?", "subject": "high_school_chemistry",
     "choices": ["Ag", "Au", "Gd", "Go"], "answer": 1},
    {"question": "Which group 13 element has the lowest atomic number?", "subject": "high_school_chemistry",
     "choices": ["Al", "B", "Ga", "In"], "answer": 1},
    {"question": "Find the degree of Q(sqrt(2)) over Q.", "subject": "abstract_algebra",
     "choices": ["0", "2", "4", "6"], "answer": 1},
]
HELLASWAG = [
    {"ind": 24, "activity_label": "Roof shingle removal", "ctx_a": "A man is sitting on a roof.", "ctx_b": "he",
     "ctx": "A man is sitting on a roof. he", "endings": [
         "is using wrap to wrap a pair of skis.", "is ripping level tiles off.",
         "scrubs the shingles [title] with a brush.", "starts pulling up roofing on a roof."],
     "source_id": "activitynet~v_-JhWjGDPHMY", "split": "val", "split_type": "indomain", "label": "2"},
    {"ind": 92, "activity_label": "Clean and jerk", "ctx_a": "A lady walks to a barbell.", "ctx_b": "she",
     "ctx": "A lady walks to a barbell. she", "endings": [
         "swings and lands in her arms.", "pulls the barbell forward.", "pulls a rope attached to the barbell.",
         "bends down and grabs the pole."], "source_id": "activitynet~v_-lJS58hyo1c", "split": "val",
     "split_type": "zeroshot", "label": "3"},
]
ARC = [
    {"id": "Mercury_7175875", "question": "Which gas do plants take in for photosynthesis?",
     "choices": {"text": ["oxygen", "nitrogen", "carbon dioxide", "helium"], "label": ["1", "2", "3", "4"]},
     "answerKey": "3"},
    {"id": "MCAS_2004_9_15", "question": "What is the boiling point of water at sea level?",
     "choices": {"text": ["50 C", "100 C", "150 C", "200 C"], "label": ["A", "B", "C", "D"]}, "answerKey": "B"},
]
WINOGRANDE = [
    {"sentence": "Sarah was a much better surgeon than Maria so _ always got the easier cases.",
     "option1": "Sarah", "option2": "Maria", "answer": "2"},
    {"sentence": "The trophy does not fit into the suitcase because _ is too large.",
     "option1": "the trophy", "option2": "the suitcase", "answer": "1"},
]
PIQA = [
    {"goal": "How do I ready a guinea pig cage?", "sol1": "Line it with ripped paper strips.",
     "sol2": "Line it with ripped jeans material.", "label": 0},
    {"goal": "To keep bread fresh longer", "sol1": "store it in the oven", "sol2": "store it in a bread box",
     "label": 1},
]
COMMONSENSE_QA = [
    {"id": "1afa02df02c908a558b4036e80242fac", "question": "A revolving door is a security measure at a what?",
     "question_concept": "revolving door", "choices": {
         "label": ["A", "B", "C", "D", "E"], "text": ["bank", "library", "department store", "mall", "new york"]},
     "answerKey": "A"},
    {"id": "a7ab086045575bb497933726e4e6ad28", "question": "Where would you keep a pen you use daily? ",
     "question_concept": "pen", "choices": {
         "label": ["A", "B", "C", "D", "E"], "text": ["desk drawer", "ocean", "space", "volcano", "oven"]},
     "answerKey": "A"},
]
HUMANEVAL = [
    {"task_id": "HumanEval/0", "prompt": 'def add(a, b):\n    """Add two numbers.\n    >>> add(2, 3)\n    5\n    """\n',
     "canonical_solution": "    return a + b\n", "test": "def check(candidate):\n    assert candidate(2, 3) == 5\n",
     "entry_point": "add"},
    {"task_id": "HumanEval/1", "prompt": 'def neg(x):\n    """Negate x."""\n',
     "canonical_solution": "    return -x\n", "test": "def check(candidate):\n    assert candidate(1) == -1\n",
     "entry_point": "neg"},
]
IFEVAL = [
    {"key": 1000, "prompt": "Write a 300+ word summary of the wikipedia page on Tripoli. Do not use any commas.",
     "instruction_id_list": ["punctuation:no_comma", "length_constraints:number_words"],
     "kwargs": [{}, {"relation": "at least", "num_words": 300}]},
    {"key": 1001, "prompt": "List three fruits.\n\n1. Use markdown bullets.\n2. End with a question.",
     "instruction_id_list": ["detectable_format:number_bullet_lists"], "kwargs": [{"num_bullets": 3}]},
]
ROWS = {"gsm8k": GSM8K, "mmlu": MMLU, "hellaswag": HELLASWAG, "arc_challenge": ARC, "winogrande": WINOGRANDE,
        "piqa": PIQA, "commonsense_qa": COMMONSENSE_QA, "humaneval": HUMANEVAL, "ifeval": IFEVAL}
FILE_FORMAT = {"gsm8k": ".jsonl.gz", "arc_challenge": ".parquet", "piqa": ".parquet"}  # the rest: .jsonl


def write_rows(path, rows: list[dict]) -> None:
    if path.name.endswith(".parquet"):
        pq.write_table(pa.Table.from_pylist(rows), path)
        return
    text = "".join(json.dumps(row) + "\n" for row in rows)
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)


@pytest.fixture(scope="module")
def bdir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("benchmarks")
    for task, rows in ROWS.items():
        write_rows(folder / f"{task}{FILE_FORMAT.get(task, '.jsonl')}", rows)
    return folder


@pytest.fixture(scope="module")
def items(bdir):
    loaded = load_items(list(MISSION_TASKS), benchmark_dir=bdir)
    return {task: {item.item_id: item for item in task_items} for task, task_items in loaded.items()}


def test_every_mission_task_loads_every_row(items):
    assert {task: len(task_items) for task, task_items in items.items()} == {t: len(ROWS[t]) for t in MISSION_TASKS}
    for task_items in items.values():
        for item in task_items.values():
            assert item.prompt and all(item.prompt) and len(set(item.prompt)) == len(item.prompt)


def test_mmlu_question_and_choices_gold_is_the_answer_text_ids_per_subject(items):
    assert set(items["mmlu"]) == {"mmlu_high_school_chemistry/0", "mmlu_high_school_chemistry/1",
                                  "mmlu_abstract_algebra/0"}
    gold_item = items["mmlu"]["mmlu_high_school_chemistry/0"]
    assert gold_item.prompt == ("What is the chemical symbol for gold?", "Ag", "Au", "Gd", "Go")
    assert gold_item.gold == ("Au",)
    assert gold_item.task == "mmlu"
    boron = items["mmlu"]["mmlu_high_school_chemistry/1"]  # a choice that is itself a letter, not a label
    assert boron.prompt == ("Which group 13 element has the lowest atomic number?", "Al", "B", "Ga", "In")
    assert boron.gold == ("B",)


def test_gsm8k_question_lines_and_full_solution(items):
    assert items["gsm8k"]["gsm8k/0"].prompt == (GSM8K[0]["question"],)
    assert items["gsm8k"]["gsm8k/0"].gold == (GSM8K[0]["answer"],)
    assert items["gsm8k"]["gsm8k/1"].prompt == ("A box holds 6 eggs.", "How many eggs are in 5 boxes?")


def test_arc_numeric_and_letter_labels(items):
    numeric = items["arc_challenge"]["Mercury_7175875"]
    assert numeric.prompt == ("Which gas do plants take in for photosynthesis?", "oxygen", "nitrogen",
                              "carbon dioxide", "helium")
    assert numeric.gold == ("carbon dioxide",)
    assert items["arc_challenge"]["MCAS_2004_9_15"].gold == ("100 C",)


def test_hellaswag_goes_through_lm_evals_process_docs(items):
    roof = items["hellaswag"]["hellaswag/0"]
    # utils.process_docs: "<activity>: ctx_a Ctx_b", and " [title]" -> ". " in the endings
    assert roof.prompt == ("Roof shingle removal: A man is sitting on a roof. He",
                           "is using wrap to wrap a pair of skis.", "is ripping level tiles off.",
                           "scrubs the shingles. with a brush.", "starts pulling up roofing on a roof.")
    assert roof.gold == ("scrubs the shingles. with a brush.",)
    assert items["hellaswag"]["hellaswag/1"].gold == ("bends down and grabs the pole.",)


def test_winogrande_sentence_with_blank_and_both_options(items):
    surgeon = items["winogrande"]["winogrande/0"]
    assert surgeon.prompt == (WINOGRANDE[0]["sentence"], "Sarah", "Maria")
    assert surgeon.gold == ("Maria",)
    assert items["winogrande"]["winogrande/1"].gold == ("the trophy",)


def test_piqa_and_commonsense_qa(items):
    assert items["piqa"]["piqa/1"].prompt == ("To keep bread fresh longer", "store it in the oven",
                                              "store it in a bread box")
    assert items["piqa"]["piqa/1"].gold == ("store it in a bread box",)
    csqa = items["commonsense_qa"]["1afa02df02c908a558b4036e80242fac"]
    assert csqa.prompt == ("A revolving door is a security measure at a what?", "bank", "library",
                           "department store", "mall", "new york")
    assert csqa.gold == ("bank",)


def test_humaneval_prompt_lines_and_canonical_solution(items):
    add = items["humaneval"]["HumanEval/0"]
    assert add.prompt == ("def add(a, b):", '"""Add two numbers.', ">>> add(2, 3)", "5", '"""')
    assert add.gold == ("return a + b",)


def test_ifeval_prompt_has_no_gold(items):
    assert items["ifeval"]["1000"].prompt == (IFEVAL[0]["prompt"],)
    assert items["ifeval"]["1000"].gold == ()
    assert items["ifeval"]["1001"].prompt == ("List three fruits.", "Use markdown bullets.", "End with a question.")


@pytest.mark.parametrize(("line", "expected"), [
    ("Question: What is 2+2?", ["What is 2+2?"]), ("Answer:", []), ("(B) a cat", ["a cat"]), ("1) first", ["first"]),
    ("C: Paris", ["Paris"]), ("A. 4", ["4"]), ("Q: why?", ["why?"]), ("The final Answer:", ["The final"]),
    ("A man walks in.", ["A man walks in."]), ("QA: kept", ["QA: kept"]), ("x: int = 1", ["x: int = 1"]),
    ("Questions: kept", ["Questions: kept"]), ("  \n\n two lines \nhere ", ["two lines", "here"]),
])
def test_prompt_lines_strip_labels_and_scaffolding_only_as_whole_tokens(line, expected):
    assert prompt_lines(line) == expected


def test_missing_file_and_unknown_task(bdir, tmp_path):
    with pytest.raises(BenchmarkUnavailable, match=r"gsm8k\.jsonl, gsm8k\.jsonl\.gz, gsm8k\.parquet"):
        load_items(["gsm8k"], benchmark_dir=tmp_path)
    write_rows(tmp_path / "no_such_benchmark.jsonl", GSM8K)
    with pytest.raises(BenchmarkUnavailable, match="no_such_benchmark: not an lm-eval task"):
        load_items(["no_such_benchmark"], benchmark_dir=tmp_path)


def test_local_yamls_include_lm_evals_config_and_load_for_eval(bdir, tmp_path):
    from lm_eval.tasks import TaskManager

    names = write_local_task_yamls(["gsm8k", "hellaswag", "mmlu"], bdir, tmp_path)
    assert names == {"gsm8k": "mixlab_local_gsm8k", "hellaswag": "mixlab_local_hellaswag", "mmlu": "mixlab_local_mmlu"}
    gsm8k = yaml.safe_load((tmp_path / "mixlab_local_gsm8k.yaml").read_text())
    assert gsm8k["include"].endswith("lm_eval/tasks/gsm8k/gsm8k.yaml")
    assert (gsm8k["dataset_path"], gsm8k["dataset_name"], gsm8k["test_split"]) == ("json", None, "test")
    assert gsm8k["dataset_kwargs"] == {"data_files": {"test": str((bdir / "gsm8k.jsonl.gz").resolve())}}
    hellaswag = yaml.safe_load((tmp_path / "mixlab_local_hellaswag.yaml").read_text())
    assert (hellaswag["validation_split"], hellaswag["test_split"]) == ("validation", None)
    assert yaml.safe_load((tmp_path / "mixlab_local_mmlu.yaml").read_text())["include"].endswith(
        "mmlu/default/_default_template_yaml")
    # the full (scoring) task, as `mixlab eval` will load it
    manager = TaskManager(include_path=str(tmp_path), include_defaults=False)
    task = manager.load(["mixlab_local_gsm8k"])["tasks"]["mixlab_local_gsm8k"]
    expected = [f"Question: {row['question']}\nAnswer:" for row in GSM8K]
    assert [task.doc_to_text(doc) for doc in task.eval_docs] == expected


def test_a_fewshot_split_file_serves_lm_evals_fewshot_split(tmp_path):
    """gsm8k draws its 5 shots from train: BDIR/gsm8k.train.jsonl (same json builder as .jsonl.gz) is that split."""
    from lm_eval.tasks import TaskManager

    bdir, elsewhere = tmp_path / "bdir", tmp_path / "elsewhere"
    bdir.mkdir()
    elsewhere.mkdir()
    write_rows(elsewhere / "test.jsonl.gz", GSM8K)
    (bdir / "gsm8k.jsonl.gz").symlink_to(elsewhere / "test.jsonl.gz")  # a BDIR of links, like bench/eval_smollm.py's
    train = [{"question": f"Train question {i}?", "answer": f"Because.\n#### {i}"} for i in range(6)]
    write_rows(elsewhere / "train.jsonl", train)  # .../train.jsonl: also the name of an importable module.function
    (bdir / "gsm8k.train.jsonl").symlink_to(elsewhere / "train.jsonl")
    write_local_task_yamls(["gsm8k"], bdir, tmp_path / "yamls")
    config = yaml.safe_load((tmp_path / "yamls" / "mixlab_local_gsm8k.yaml").read_text())
    assert config["fewshot_split"] == "train"
    assert config["dataset_kwargs"]["data_files"] == {"test": str((elsewhere / "test.jsonl.gz").resolve()),
                                                      "train": str((elsewhere / "train.jsonl").resolve())}
    manager = TaskManager(include_path=str(tmp_path / "yamls"), include_defaults=False)
    task = manager.load(["mixlab_local_gsm8k"])["tasks"]["mixlab_local_gsm8k"]
    assert [doc["question"] for doc in task.fewshot_docs()] == [row["question"] for row in train]
    assert [doc["question"] for doc in task.eval_docs] == [row["question"] for row in GSM8K]
    [docs] = load_subtask_docs("gsm8k", bdir)  # what decontam reads: the scored split only
    assert [doc["question"] for doc in docs.docs] == [row["question"] for row in GSM8K]
    (bdir / "gsm8k.train.jsonl").unlink()
    write_rows(bdir / "gsm8k.train.parquet", train)  # another builder: an error, not silently ignored
    with pytest.raises(BenchmarkUnavailable, match=r"gsm8k\.train\.parquet: a parquet few-shot file beside "
                                                   r"gsm8k\.jsonl\.gz"):
        write_local_task_yamls(["gsm8k"], bdir, tmp_path / "yamls")


def test_render_item_outside_load_items_renders_the_same(bdir, items):
    [mmlu] = load_subtask_docs("mmlu", bdir)
    assert mmlu.name == "mixlab_local_mmlu" and mmlu.split == "test"
    rendered = render_item("mmlu", mmlu.task, mmlu.docs[0], 0)  # lm-eval's own per-doc template compile
    assert rendered == items["mmlu"]["mmlu_high_school_chemistry/0"]


def test_include_path_task_yaml_through_task_manager(tmp_path):
    rows = [{"country": "France", "capital": "Paris", "options": ["Lyon", "Paris", "Nice"]},
            {"country": "Japan", "capital": "Tokyo", "options": ["Tokyo", "Osaka", "Kyoto"]}]
    write_rows(tmp_path / "capitals.jsonl", rows)
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "capitals.yaml").write_text(yaml.safe_dump({
        "task": "mixlab_test_capitals", "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": str(tmp_path / "capitals.jsonl")}}, "test_split": "test",
        "output_type": "multiple_choice", "doc_to_text": "Question: What is the capital of {{country}}?\nAnswer:",
        "doc_to_choice": "{{options}}", "doc_to_target": "{{options.index(capital)}}",
    }))
    task, docs, split = load_task_docs("mixlab_test_capitals", include_path=tmp_path / "tasks")
    assert (task.OUTPUT_TYPE, split) == ("multiple_choice", "test")
    assert [doc["country"] for doc in docs] == ["France", "Japan"]
    item = render_item("capitals", task, docs[0], 0)
    assert (item.item_id, item.prompt, item.gold) == ("capitals/0", ("What is the capital of France?", "Lyon",
                                                                      "Paris", "Nice"), ("Paris",))


def test_default_path_stays_offline_even_when_imported_online(tmp_path, monkeypatch):
    import datasets
    import huggingface_hub.constants

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    (tmp_path / "absent.yaml").write_text(yaml.safe_dump({
        "task": "mixlab_test_absent", "dataset_path": "mixlab-tests/no-such-dataset", "test_split": "test",
        "output_type": "generate_until", "doc_to_text": "{{question}}", "doc_to_target": "{{answer}}"}))
    with pytest.raises(BenchmarkUnavailable, match="OfflineModeIsEnabled") as raised:
        load_task_docs("mixlab_test_absent", include_path=tmp_path)
    assert "'mixlab-tests/no-such-dataset' (split 'test')" in str(raised.value)
    assert datasets.config.HF_HUB_OFFLINE is False and huggingface_hub.constants.HF_HUB_OFFLINE is False


DEFAULT_PATH_SCRIPT = textwrap.dedent("""
    import json, os, sys
    import datasets
    from datasets.packaged_modules.json.json import Json
    from decontam.benchmarks import load_items
    from mixlab.benchmarks import BenchmarkUnavailable

    # seed the datasets cache the way a networked `load_dataset("openai/gsm8k", "main")` leaves it
    cache = datasets.config.HF_DATASETS_CACHE
    Json(dataset_name="gsm8k", config_name="main", hash="0123456789abcdef",
         data_files={"test": sys.argv[1]}).download_and_prepare()
    [config_dir] = os.listdir(os.path.join(cache, "gsm8k"))
    os.rename(os.path.join(cache, "gsm8k", config_dir), os.path.join(cache, "gsm8k", "main"))
    os.rename(os.path.join(cache, "gsm8k"), os.path.join(cache, "openai___gsm8k"))

    items = load_items(["gsm8k"])["gsm8k"]
    try:
        load_items(["arc_challenge"])
        error = None
    except BenchmarkUnavailable as err:
        error = str(err)
    print(json.dumps({"gsm8k": [[item.item_id, item.prompt, item.gold] for item in items], "error": error}))
""")


def test_default_path_reads_lm_evals_config_from_the_offline_cache(tmp_path, monkeypatch):
    hf_home = tmp_path / "hf_home"
    hf_home.mkdir()
    write_rows(tmp_path / "gsm8k_test.jsonl", GSM8K)
    monkeypatch.setenv("HF_HOME", str(hf_home))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("HF_DATASETS_CACHE", raising=False)
    done = subprocess.run([sys.executable, "-c", DEFAULT_PATH_SCRIPT, str(tmp_path / "gsm8k_test.jsonl")],
                          capture_output=True, text=True, timeout=120, cwd=os.path.dirname(os.path.dirname(__file__)))
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["gsm8k"] == [["gsm8k/0", [GSM8K[0]["question"]], [GSM8K[0]["answer"]]],
                               ["gsm8k/1", ["A box holds 6 eggs.", "How many eggs are in 5 boxes?"],
                                [GSM8K[1]["answer"]]]]
    assert result["error"].startswith("arc_challenge needs the Hugging Face dataset 'allenai/ai2_arc' "
                                      "(config 'ARC-Challenge', split 'test') in the datasets cache "
                                      f"(HF_HOME={hf_home}); run with network once or pass --benchmark-dir")
