"""Tests of the decontamination matcher, its datatrove step and the report: `pytest tests/test_decontam_index.py`.

Benchmark items are written by hand in the styles of the nine benchmarks; training records hold them verbatim,
re-cased, embedded, relabelled and reordered, split over turns, or only nearly (near misses that must not match).
Overlaps are checked exactly where they can be counted by hand (word counts are spelled out next to them).
"""

from __future__ import annotations

import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import polars as pl
import pytest
from datatrove.data import Document
from datatrove.executor import LocalPipelineExecutor

from curation.writers import RemovedWriter
from decontam.index import BenchmarkIndex, Match
from decontam.items import BenchmarkItem
from decontam.normalise import normalise_words, normalised_bytes, word_hashes
from decontam.report import build_report, card_section, read_hits
from decontam.step import DecontaminationFilter
from mixlab.schema import record_to_document

GSM_Q = ("Janet's ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins for her "
         "friends every day with four. She sells the remainder at the farmers' market daily for $2 per fresh duck "
         "egg. How much in dollars does she make every day at the farmers' market?")
GSM_A = ("Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day. She makes 9 * 2 = $<<9*2=18>>18 every day at "
         "the farmer's market. #### 18")
MMLU_Q = "Which planet in our solar system is known as the Red Planet because of the iron oxide on its surface?"
ARC_Q = ("A student mixes baking soda and vinegar in a cup and observes bubbles forming. Which of these best "
         "describes what happened?")
ARC_CHOICES = ("A physical change occurred", "A chemical reaction produced a gas", "The vinegar evaporated quickly",
               "The baking soda dissolved completely")
HELLA_CTX = "A man is standing on a ladder next to a house. He holds a long brush and a bucket of paint."
HELLA_ENDINGS = ("He dips the brush and paints the wooden siding.", "He jumps off the ladder into a swimming pool.",
                 "He starts singing loudly to the neighbours outside.", "He throws the bucket onto the green lawn.")
WINO = "Sarah was a much better surgeon than Maria so _ always got the harder cases."
PIQA_GOAL = "How do I keep avocado from turning brown after cutting it?"
PIQA_SOLS = ("Brush the cut surface with lemon juice and wrap it tightly in plastic.",
             "Leave the cut avocado on the counter uncovered next to a warm window.")
HUMANEVAL_PROMPT = '''from typing import List


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    """ Check if in given list of numbers, are any two numbers closer to each other than
    given threshold.
    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)
    False
    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)
    True
    """
'''
HUMANEVAL_SOLUTION = """    for idx, elem in enumerate(numbers):
        for idx2, elem2 in enumerate(numbers):
            if idx != idx2:
                distance = abs(elem - elem2)
                if distance < threshold:
                    return True

    return False
"""
IFEVAL = ("Write a 300+ word summary of the wikipedia page about the history of the Roman Empire. Do not use any "
          "commas and highlight at least 3 sections that has titles in markdown format, for example *highlighted "
          "section part 1*.")

ITEMS = {
    "gsm8k": [BenchmarkItem("gsm8k", "main/0", (GSM_Q,), (GSM_A,))],
    "mmlu": [BenchmarkItem("mmlu", "mmlu_astronomy/3", (MMLU_Q, "Venus", "Mars", "Jupiter", "Saturn"), ("Mars",))],
    "arc_challenge": [BenchmarkItem("arc_challenge", "Mercury_7001", (ARC_Q, *ARC_CHOICES), (ARC_CHOICES[1],))],
    "hellaswag": [BenchmarkItem("hellaswag", "hellaswag/12", (HELLA_CTX, *HELLA_ENDINGS), (HELLA_ENDINGS[0],))],
    "winogrande": [BenchmarkItem("winogrande", "winogrande_xl/7", (WINO, "Sarah", "Maria"), ("Sarah",))],
    "piqa": [BenchmarkItem("piqa", "piqa/5", (PIQA_GOAL, *PIQA_SOLS), (PIQA_SOLS[0],))],
    "humaneval": [BenchmarkItem("humaneval", "HumanEval/0", (HUMANEVAL_PROMPT,), (HUMANEVAL_SOLUTION,))],
    "ifeval": [BenchmarkItem("ifeval", "1000", (IFEVAL,))],
    # every segment shorter than 8 words: indexed by whole runs, matched on whole-segment containment
    "commonsense_qa": [BenchmarkItem("commonsense_qa", "csqa_short", ("What is 7 times 8?", "54", "56", "58", "64"),
                                     ("56",))],
}


@pytest.fixture(scope="module")
def index() -> BenchmarkIndex:
    return BenchmarkIndex.build(ITEMS, ngram=8)


def words(text: str) -> int:
    return len(normalise_words(text))


def test_normalise_words_and_hashes():
    assert normalise_words("Janet's  ducks\tlay 16 eggs!!") == ["janet", "s", "ducks", "lay", "16", "eggs"]
    assert normalise_words("ＪＡＮＥＴ’s ﬁne ①") == ["janet", "s", "fine", "1"]  # NFKC: full width, ligature, circled
    assert normalise_words("has_close_elements(x) -> bool:") == ["has", "close", "elements", "x", "bool"]
    assert normalise_words("Straße, ÉTÉ — 3.5") == ["straße", "été", "3", "5"]
    for text in ("Janet's  ducks\tlay 16 eggs!!", "ＪＡＮＥＴ’s ﬁne ①", "Straße, ÉTÉ — 3.5", "(A) Paris"):
        assert normalised_bytes(text).split() == [w.encode() for w in normalise_words(text)]
    hashes, starts = word_hashes(b"  duck egg  duck eggs ")
    assert starts.tolist() == [2, 7, 12, 17]
    assert hashes[0] == hashes[2] and len(set(hashes.tolist())) == 3
    assert word_hashes(b"egg")[0][0] == hashes[1]  # a word's hash does not depend on where it stands


def test_counted_word_lengths():
    """The word counts the overlaps below are computed from."""
    assert [words(MMLU_Q), words(WINO), words(HELLA_CTX), words(IFEVAL)] == [20, 14, 21, 39]
    assert [words(e) for e in HELLA_ENDINGS] == [9, 9, 8, 8]
    assert words("What is 7 times 8?") == 5 and words(GSM_Q) == 53


CONTAINED = {  # name: (turns, task, expected overlap)
    "gsm8k_verbatim": ([GSM_Q, GSM_A], "gsm8k", 1.0),
    "gsm8k_case_space_punct": ([GSM_Q.upper().replace(". ", " ;\n  ").replace("'", "’"), "Sure."], "gsm8k", 1.0),
    "gsm8k_fullwidth": ([GSM_Q.replace("Janet", "Ｊａｎｅｔ")], "gsm8k", 1.0),
    "gsm8k_own_solution": ([GSM_Q, "16 - 7 = 9 eggs are left; 9 times 2 dollars is 18 dollars."], "gsm8k", 1.0),
    "gsm8k_embedded_multiturn": (["Hi! I have a homework question.", "Of course, go ahead.",
                                  f"My teacher gave us this: {GSM_Q} I think it is about subtraction. Can you help?",
                                  "Let's work it out step by step."], "gsm8k", 1.0),
    "mmlu_relabelled_reordered": ([f"Question: {MMLU_Q}\n1. Saturn\n2. Mars\n3. Venus\n4. Jupiter\nAnswer:", "2"],
                                  "mmlu", 1.0),
    # question (20 words) in the user turn, gold only in the assistant turn: options covered 1 of 4 (Mars);
    # prompt 21/24, prompt + gold 22/25
    "mmlu_gold_in_answer": ([MMLU_Q, "It is Mars."], "mmlu", 22 / 25),
    "arc_relabelled_reordered": ([f"{ARC_Q}\n(1) " + "\n(2) ".join(reversed(ARC_CHOICES))], "arc_challenge", 1.0),
    # context (21) + gold ending (9) only: prompt 30/55, prompt + gold 39/64
    "hellaswag_gold_ending": ([f"{HELLA_CTX} {HELLA_ENDINGS[0]}"], "hellaswag", 39 / 64),
    "winogrande_verbatim": ([f"{WINO} Option 1: Sarah. Option 2: Maria."], "winogrande", 1.0),
    # blank filled: only the windows before it match (9 of 14 words) + both options; prompt 11/16, + gold 12/17
    "winogrande_filled": ([WINO.replace("_", "Sarah")], "winogrande", 12 / 17),
    "piqa_reordered": ([f"Goal: {PIQA_GOAL}\nOption A: {PIQA_SOLS[1]}\nOption B: {PIQA_SOLS[0]}"], "piqa", 1.0),
    "humaneval_copied_solution": ([f"Complete this function:\n```python\n{HUMANEVAL_PROMPT}```",
                                   f"```python\n{HUMANEVAL_SOLUTION}```"], "humaneval", 1.0),
    "ifeval_embedded": ([f"You are helpful. {IFEVAL} Thanks!", "Here is my summary."], "ifeval", 1.0),
    # whole-run containment: question (5) + option 56 (1): prompt 6/9, prompt + gold 7/10
    "csqa_short_item": (["What is 7 times 8? (1) 64 (2) 58 (3) 56 (4) 54", "It is 56."], "commonsense_qa", 1.0),
}


@pytest.mark.parametrize("name", CONTAINED)
def test_contaminated_records_match(index, name):
    turns, task, overlap = CONTAINED[name]
    assert index.match(turns) == Match(task, ITEMS[task][0].item_id, pytest.approx(overlap, abs=1e-12))


NEAR_MISSES = {  # name: (turns, best overlap with threshold 0: what the record shares with any item)
    "gsm8k_template_other_numbers": (["Carlos's hens lay 12 eggs each week. He eats two for lunch every afternoon "
                                      "and bakes bread for his neighbours every week with five. He sells the rest at "
                                      "the town market weekly for $3 per large hen egg. How many dollars does he "
                                      "earn every week at the town market?"], 0.0),
    "mmlu_other_question_same_topic": (["Which planet in our solar system has the most moons? Venus, Mars, "
                                        "Jupiter or Saturn?"], 0.0),
    "mmlu_options_only": (["Pick one: Venus, Mars, Jupiter, Saturn."], 0.0),
    # n-grams never span two turns: 5-word turns share no 8-gram with the question
    "gsm8k_split_into_short_turns": ([" ".join(normalise_words(GSM_Q)[i:i + 5]) for i in range(0, 53, 5)], 0.0),
    # one shared 11-word phrase ("highlight ... format") out of IFEval's 39 words
    "ifeval_common_phrase": (["Please highlight at least 3 sections that has titles in markdown format in your "
                              "essay about dogs."], 11 / 39),
    # the short item's option "56" alone: gold counts it twice, 2 of 10 words
    "csqa_option_only": (["I ate 56 grapes."], 0.0),
    "csqa_question_without_options": (["What is 7 times 8? I think it's 56."], 0.0),  # short items: whole only
    "csqa_other_numbers": (["What is 7 times 9? It is 63."], 0.0),
    "unrelated": (["How do plants make their food?", "Through photosynthesis in their leaves."], 0.0),
}


@pytest.mark.parametrize("name", NEAR_MISSES)
def test_near_misses_do_not_match(index, name):
    turns, shared = NEAR_MISSES[name]
    assert index.match(turns) is None
    best = index.match(turns, threshold=0.0)
    assert (best.overlap if best else 0.0) == pytest.approx(shared, abs=1e-12)


def test_candidates_come_from_long_segments_or_short_items(index):
    assert index.candidates(["Pick one: Venus, Mars, Jupiter, Saturn."]) == []
    assert index.candidates([MMLU_Q]) == [("mmlu", "mmlu_astronomy/3")]
    assert index.candidates(["I ate 56 grapes."]) == [("commonsense_qa", "csqa_short")]
    assert index.candidates([f"{MMLU_Q} {IFEVAL}"]) == [("mmlu", "mmlu_astronomy/3"), ("ifeval", "1000")]


def test_best_match_highest_overlap_then_task_then_item_order():
    gsm = BenchmarkItem("a", "gsm", (GSM_Q,))
    ifeval = BenchmarkItem("b", "ifeval", (IFEVAL,))
    hella = BenchmarkItem("a", "hella", (HELLA_CTX,))
    all_three = [f"{GSM_Q} {IFEVAL} {HELLA_CTX}"]  # every item at overlap 1.0
    assert BenchmarkIndex.build({"a": [gsm], "b": [ifeval]}).match(all_three) == Match("a", "gsm", 1.0)
    assert BenchmarkIndex.build({"b": [ifeval], "a": [gsm]}).match(all_three) == Match("b", "ifeval", 1.0)
    assert BenchmarkIndex.build({"a": [hella, gsm]}).match(all_three) == Match("a", "hella", 1.0)
    # the first 27 of GSM's 53 words (just over half) lose to all of IFEval, though task a comes first
    half = " ".join(normalise_words(GSM_Q)[:27])
    index = BenchmarkIndex.build({"a": [gsm], "b": [ifeval]})
    assert index.match([half, IFEVAL]) == Match("b", "ifeval", 1.0)
    assert index.matches_batch([[half, IFEVAL], [half], [], [half[:-40]]]) == [
        [Match("a", "gsm", 27 / 53), Match("b", "ifeval", 1.0)], [Match("a", "gsm", 27 / 53)], [], []]


def reference_overlaps(items: dict[str, list[BenchmarkItem]], texts: list[str], n: int) -> dict[tuple, float]:
    """The matching rule written directly (word tuples, no hashing), for every item with a non-zero overlap."""
    turns = [normalise_words(text) for text in texts]
    grams = {tuple(w[i:i + n]) for w in turns for i in range(len(w) - n + 1)}
    runs = {tuple(w[i:j]) for w in turns for i in range(len(w)) for j in range(i + 1, min(i + n, len(w)) + 1)}
    out = {}
    for task, task_items in items.items():
        for item in task_items:
            segments = [(normalise_words(s), gold) for gold, group in ((0, item.prompt), (1, item.gold)) for s in group]
            cover, total, long_hit = [0, 0], [0, 0], False
            for seg, gold in segments:
                total[gold] += len(seg)
                if len(seg) >= n:
                    hits = [i for i in range(len(seg) - n + 1) if tuple(seg[i:i + n]) in grams]
                    cover[gold] += len({k for i in hits for k in range(i, i + n)})
                    long_hit = long_hit or bool(hits)
                elif tuple(seg) in runs:
                    cover[gold] += len(seg)
            if any(len(seg) >= n for seg, _ in segments) and not long_hit:
                continue  # an item with a long segment is a candidate only through one of its n-grams
            if all(len(seg) < n for seg, _ in segments) and cover[0] < total[0]:
                continue  # an item of short segments only matches when every prompt segment is present
            if all(len(seg) < n for seg, _ in segments) and sum(
                    not w.isdigit() for seg, gold in segments if not gold for w in seg) < 3:
                continue  # too bare (fewer than 3 words with a letter) to attribute a match to
            prompt = cover[0] / total[0] if total[0] else 0.0
            overlap = max(prompt, sum(cover) / max(sum(total), 1))
            if overlap > 0:
                out[task, item.item_id] = overlap
    return out


@pytest.mark.parametrize("ngram,vocabulary", [(3, 10), (8, 3)])
def test_random_records_match_the_rule_written_directly(ngram, vocabulary):
    rng = np.random.default_rng(ngram)
    vocab = [f"w{i}" for i in range(vocabulary)]

    def text(size: int) -> str:
        return " ".join(rng.choice(vocab, size))

    def item(task: str, i: int) -> BenchmarkItem:
        prompt = tuple(text(rng.integers(1, 14)) for _ in range(rng.integers(1, 4)))
        gold = [(), (text(rng.integers(1, 6)),), prompt[-1:]][rng.integers(3)]  # none, own, a repeated option
        return BenchmarkItem(task, f"{task}/{i}", prompt, gold)

    items = {task: [item(task, i) for i in range(15)] for task in ("t1", "t2", "t3")}
    all_items = [item for task_items in items.values() for item in task_items]
    records = []
    for _ in range(120):
        turns = [text(rng.integers(0, 25)) for _ in range(rng.integers(1, 4))]
        item = all_items[rng.integers(len(all_items))]
        turns[rng.integers(len(turns))] += " " + " ".join(item.prompt[: rng.integers(1, len(item.prompt) + 1)])
        records.append(turns)
    index = BenchmarkIndex.build(items, ngram=ngram)
    for turns, matches in zip(records, index.matches_batch(records, threshold=0.0)):
        expected = reference_overlaps(items, turns, ngram)
        assert {(m.task, m.item_id): m.overlap for m in matches} == pytest.approx(expected, abs=1e-12)
        best = max(expected.items(), key=lambda kv: kv[1], default=None)  # first of equals: task, item order
        assert index.match(turns, threshold=0.0) == (Match(*best[0], best[1]) if best else None)


def test_save_load_round_trip(index, tmp_path):
    index.save(tmp_path / "index")
    loaded = BenchmarkIndex.load(tmp_path / "index")
    assert loaded.items_per_task == {task: 1 for task in ITEMS} and loaded.ngram == 8
    for name in index.arrays:
        assert np.array_equal(loaded.arrays[name], index.arrays[name])
    records = [turns for turns, _, _ in CONTAINED.values()] + [turns for turns, _ in NEAR_MISSES.values()]
    assert loaded.matches_batch(records, threshold=0.0) == index.matches_batch(records, threshold=0.0)


def msg(role: str, content: str) -> dict:
    return {"role": role, "content": content}


STEP_RECORDS = [
    {"id": "clean", "source": "chat", "messages": [msg("user", "How do plants make food?"),
                                                   msg("assistant", "Photosynthesis.")], "meta": {}},
    {"id": "gsm_own_answer", "source": "math", "messages": [msg("user", GSM_Q), msg("assistant", "It is 18.")],
     "meta": {}},
    {"id": "in_system", "source": "chat", "messages": [msg("system", f"Task: {IFEVAL}"), msg("user", "Go."),
                                                       msg("assistant", "Done.")], "meta": {}},
    {"id": "in_rejected", "source": "prefs", "prompt": [msg("user", "Name a planet.")],
     "chosen": [msg("assistant", "Mars.")],
     "rejected": [msg("assistant", f"{MMLU_Q} A) Venus B) Mars C) Jupiter D) Saturn")], "meta": {}},
    {"id": "rl_two_items", "source": "rl", "prompt": [msg("user", f"{PIQA_GOAL} {' '.join(PIQA_SOLS)}\n{GSM_Q}")],
     "verifier": {"name": "math", "answer": "18"}, "meta": {}},
    {"id": "near_miss", "source": "chat", "messages": [msg("user", "I ate 56 grapes."), msg("assistant", "Nice.")],
     "meta": {}},
]
EXPECTED_HITS = {("gsm_own_answer", "gsm8k", "main/0"), ("in_system", "ifeval", "1000"),
                 ("in_rejected", "mmlu", "mmlu_astronomy/3"), ("rl_two_items", "gsm8k", "main/0"),
                 ("rl_two_items", "piqa", "piqa/5")}


def run_step(tmp_path, index_dir, mode: str, logs: str) -> list[Document]:
    kept: list[Document] = []

    def documents(data, rank=0, world_size=1):  # two tasks, each reads its share
        for order, record in enumerate(STEP_RECORDS):
            if order % world_size == rank:
                yield record_to_document(record, order)

    def collect(data, rank=0, world_size=1):
        kept.extend(data)
        return iter(())

    step = DecontaminationFilter(str(index_dir), mode=mode, hits_dir=str(tmp_path / "hits"), batch_size=4,
                                 exclusion_writer=RemovedWriter(str(tmp_path / "removed"), prefix="decontam"))
    LocalPipelineExecutor(pipeline=[documents, step, collect], tasks=2, workers=1,
                          logging_dir=str(tmp_path / logs)).run()
    return sorted(kept, key=lambda doc: doc.id)


def step_counters(stats_path) -> dict:
    stats = json.loads(stats_path.read_text())
    counters = next(step["stats"] for step in stats if step["name"].endswith("decontamination"))
    return {k: v if isinstance(v, int) else v["total"] for k, v in counters.items() if k.startswith("contaminated_")}


def test_step_remove_then_flag(index, tmp_path):
    index.save(tmp_path / "index")
    kept = run_step(tmp_path, tmp_path / "index", "remove", "logs_remove")
    assert [doc.id for doc in kept] == ["clean", "near_miss"]
    removed = pl.read_parquet(tmp_path / "removed" / "*.parquet").sort("id")
    assert removed.select("id", "kind", "removed_by", "reason").rows() == [
        ("gsm_own_answer", "sft", "decontam", "contaminated:gsm8k"),
        ("in_rejected", "preference", "decontam", "contaminated:mmlu"),
        ("in_system", "sft", "decontam", "contaminated:ifeval"),
        ("rl_two_items", "rl", "decontam", "contaminated:gsm8k"),  # both items at 1.0: gsm8k is the earlier task
    ]
    hits = read_hits(tmp_path / "hits")
    assert sorted(p.name for p in (tmp_path / "hits").iterdir()) == ["00000.jsonl", "00001.jsonl"]
    assert {(h["id"], h["task"], h["item_id"]) for h in hits} == EXPECTED_HITS and len(hits) == 5
    assert {h["id"]: h["source"] for h in hits}["in_rejected"] == "prefs"
    assert step_counters(tmp_path / "logs_remove" / "stats.json") == {
        "contaminated_gsm8k": 2, "contaminated_ifeval": 1, "contaminated_mmlu": 1, "contaminated_piqa": 1}

    report = build_report(hits, records_in=6, records_removed=len(removed), items_per_task=index.items_per_task)
    assert report["benchmarks"]["gsm8k"] == {"items": 1, "items_hit": 1, "items_hit_pct": 100.0, "records_hit": 2}
    assert report["contaminated_benchmarks"] == ["gsm8k", "mmlu", "piqa", "ifeval"]

    kept = run_step(tmp_path, tmp_path / "index", "flag", "logs_flag")
    assert [doc.id for doc in kept] == sorted(r["id"] for r in STEP_RECORDS)
    flagged = {doc.id: {k: doc.metadata[k] for k in ("removed_by", "reason", "benchmark", "benchmark_item",
                                                     "overlap")} for doc in kept if "benchmark" in doc.metadata}
    assert flagged["in_rejected"] == {"removed_by": "decontam", "reason": "contaminated:mmlu", "benchmark": "mmlu",
                                      "benchmark_item": "mmlu_astronomy/3", "overlap": 1.0}
    assert sorted(flagged) == ["gsm_own_answer", "in_rejected", "in_system", "rl_two_items"]
    assert len(read_hits(tmp_path / "hits")) == 5  # rerun overwrote the per-rank files


def test_step_rejects_bad_options(tmp_path):
    with pytest.raises(ValueError, match="mode"):
        DecontaminationFilter(str(tmp_path), mode="drop")
    with pytest.raises(ValueError, match="threshold"):
        DecontaminationFilter(str(tmp_path), threshold=1.5)


def hit(record: str, task: str, item: str, overlap: float = 1.0) -> dict:
    return {"id": record, "source": "s", "task": task, "item_id": item, "overlap": overlap}


REPORT_HITS = [
    hit("r1", "mmlu", "m1", 0.9), hit("r2", "mmlu", "m2", 0.6), hit("r3", "mmlu", "m1", 0.7),
    hit("r3", "mmlu", "m2", 0.8), hit("r9", "mmlu", "m1", 0.95),
    hit("r4", "gsm8k", "g1"), hit("r5", "gsm8k", "g2"), hit("r6", "gsm8k", "g3"), hit("r6", "gsm8k", "g4"),
    hit("r7", "piqa", "p1", 0.55),
]


def test_build_report_numbers():
    report = build_report(REPORT_HITS, records_in=1000, records_removed=8,
                          items_per_task={"mmlu": 100, "gsm8k": 150, "ifeval": 50, "piqa": 7})
    assert report == {
        "records_in": 1000, "records_removed": 8,
        "benchmarks": {
            "mmlu": {"items": 100, "items_hit": 2, "items_hit_pct": 2.0, "records_hit": 4},    # exactly 2 %: not > 2
            "gsm8k": {"items": 150, "items_hit": 4, "items_hit_pct": 2.67, "records_hit": 3},
            "ifeval": {"items": 50, "items_hit": 0, "items_hit_pct": 0.0, "records_hit": 0},
            "piqa": {"items": 7, "items_hit": 1, "items_hit_pct": 14.29, "records_hit": 1},
        },
        "contaminated_benchmarks": ["gsm8k", "piqa"],
    }
    with pytest.raises(ValueError, match="not indexed.*piqa"):
        build_report(REPORT_HITS, records_in=1000, records_removed=8, items_per_task={"mmlu": 100, "gsm8k": 150})


def test_card_section():
    report = build_report(REPORT_HITS, records_in=1000, records_removed=8,
                          items_per_task={"mmlu": 100, "gsm8k": 150, "ifeval": 50, "piqa": 7})
    section = card_section(report, REPORT_HITS)
    assert section["title"] == "Decontamination" and section["data"] == report
    lines = section["markdown"].splitlines()
    assert "| gsm8k | 150 | 4 | 2.67 | 3 | yes |" in lines and "| mmlu | 100 | 2 | 2 | 4 | no |" in lines
    assert "| ifeval | 50 | 0 | 0 | 0 | no |" in lines
    examples = [line for line in lines if line.count("`") == 4]
    assert [line for line in examples if line.startswith("| mmlu")] == [  # top 3 of 4 by overlap
        "| mmlu | `r9` | `m1` | 0.95 |", "| mmlu | `r1` | `m1` | 0.90 |", "| mmlu | `r3` | `m2` | 0.80 |"]
    assert len(examples) == 3 + 3 + 1


def test_report_counts_each_records_best_match_only():
    hits = [{"id": "r1", "source": "s", "task": "mmlu", "item_id": "moral/1", "overlap": 1.0},
            {"id": "r1", "source": "s", "task": "mmlu", "item_id": "moral/2", "overlap": 0.6},   # shared boilerplate
            {"id": "r2", "source": "s", "task": "gsm8k", "item_id": "g/1", "overlap": 0.9},
            {"id": "r2", "source": "s", "task": "gsm8k", "item_id": "g/2", "overlap": 0.9}]   # two items, both whole
    report = build_report(hits, records_in=10, records_removed=2, items_per_task={"mmlu": 100, "gsm8k": 50})
    assert report["benchmarks"]["mmlu"] == {"items": 100, "items_hit": 1, "items_hit_pct": 1.0, "records_hit": 1}
    assert report["benchmarks"]["gsm8k"] == {"items": 50, "items_hit": 2, "items_hit_pct": 4.0, "records_hit": 1}
    assert report["contaminated_benchmarks"] == ["gsm8k"]


def test_bare_arithmetic_items_are_not_matchable():
    bare = BenchmarkItem("mmlu", "bare", ("−4 +  ( −3 )=", "−7", "−1", "1", "7"), ("−7",))
    worded = BenchmarkItem("mmlu", "worded", ("Which statement is false?", "3 < 5", "5 > 3", "−5 > −3"), ("−5 > −3",))
    index = BenchmarkIndex.build({"mmlu": [bare, worded]}, ngram=8)
    assert index.items_per_task == {"mmlu": 2}
    assert index.match(["Add 4 3 then take 7 away: 7 - 1 = 6, so 1 remains."]) is None
    copied = ["Which statement is false? 3 < 5, 5 > 3 or -5 > -3?", "-5 > -3"]
    assert index.match(copied) == Match("mmlu", "worded", 1.0)
