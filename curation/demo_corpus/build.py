"""Builds the demo corpus' rows in memory: clean rows from the templates, planted problems, duplicates.

    rows, planted = build_rows(seed=0, n_records=3000)   # {file name: [Entry, ...]}, {problem: count}

One `random.Random(seed)` drives everything, so the rows (and the files curation.demo_corpus.write renders
from them) follow from the seed. Every clean or singly-planted row passes a NoveltyGuard (5-gram Jaccard < 0.3
with all earlier rows); duplicates are copies of clean rows, placed after them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from curation.demo_corpus.checks import NoveltyGuard, jaccard, repetitive
from curation.demo_corpus.code_tasks import code_sample
from curation.demo_corpus.content import Sample, email_sample, foreign_sample, rewrite_sample, summary_sample
from curation.demo_corpus.knowledge import (
    definition_sample,
    howto_sample,
    packing_sample,
    reviews_sample,
    tips_sample,
)
from curation.demo_corpus.plants import (
    blocklisted,
    cut_mid_word,
    malformed_line,
    repeated_answer,
    unclose_fence,
    with_mojibake,
    with_replacement_chars,
    with_swapped_words,
)
from curation.demo_corpus.word_problems import MathProblem, math_problem, math_sample, stats_sample

FILES = ("alpaca.jsonl.gz", "chat.jsonl", "hh.jsonl", "math.parquet", "prefs.jsonl", "sharegpt.json")
SHARES = {"alpaca.jsonl.gz": 0.20, "chat.jsonl": 0.30, "hh.jsonl": 0.04, "math.parquet": 0.23,
          "prefs.jsonl": 0.06, "sharegpt.json": 0.17}
SFT_FILES = ("chat.jsonl", "sharegpt.json", "alpaca.jsonl.gz")
CHAT_FILES = ("chat.jsonl", "sharegpt.json")
# planted problem -> (rows per 1000 records, files it goes into, cycled)
PLANTS = {
    "exact_duplicate": (15, ()),  # targets come from EXACT_COPIES
    "near_duplicate": (8, SFT_FILES),
    "empty_turn": (5, SFT_FILES),
    "last_turn_not_assistant": (5, CHAT_FILES),
    "ends_mid_word": (4, SFT_FILES),
    "unbalanced_code_fence": (3, SFT_FILES),
    "language:fr": (3, SFT_FILES),
    "language:de": (3, SFT_FILES),
    "language:es": (3, SFT_FILES),
    "repetition": (4, SFT_FILES),
    "mojibake": (3, SFT_FILES),
    "replacement_char": (2, SFT_FILES),
    "blocklist:as_an_ai": (3, SFT_FILES),
    "malformed_json": (1, ("chat.jsonl",)),
    "invalid_utf8": (1, ("chat.jsonl",)),
    "wrong_type": (1, ("chat.jsonl",)),
    "unknown_schema": (1, ("chat.jsonl",)),
}
MALFORMED = ("malformed_json", "invalid_utf8", "wrong_type", "unknown_schema")
# (file of the copy, file of the original): the original sorts first, so a reader in file order keeps it
EXACT_COPIES = [("chat.jsonl", "chat.jsonl"), ("chat.jsonl", "alpaca.jsonl.gz"), ("sharegpt.json", "chat.jsonl"),
                ("math.parquet", "math.parquet"), ("alpaca.jsonl.gz", "alpaca.jsonl.gz"),
                ("sharegpt.json", "sharegpt.json"), ("prefs.jsonl", "prefs.jsonl"), ("hh.jsonl", "hh.jsonl")]
FAMILIES = [(math_sample, 16), (stats_sample, 6), (code_sample, 14), (rewrite_sample, 13), (summary_sample, 12),
            (email_sample, 10), (definition_sample, 4), (howto_sample, 4), (tips_sample, 7), (packing_sample, 7),
            (reviews_sample, 7)]
PROSE_FAMILIES = (summary_sample, email_sample, definition_sample, rewrite_sample)
SYSTEM_PROMPTS = ["You are a helpful assistant.", "You are a concise assistant. Answer clearly and briefly.",
                  "You are a friendly tutor who explains every step.", "You are a careful writing assistant.",
                  "You help small business owners with practical, specific answers.", "You are a patient mentor."]
FOLLOW_UPS = ["Thanks! {q}", "Great, that helps. Next question: {q}", "One more thing. {q}", "{q}", "Got it. {q}"]
LOW_EFFORT = ["I am not sure about {t}, but you can probably find a guide online.",
              "Honestly, {t} depends on too many things to say anything useful here.",
              "Just give it a try and see what happens, {t} is not that complicated.",
              "There are many opinions on {t}, and they are all valid in their own way.",
              "You should ask someone who knows more about {t} than I do."]
ATTEMPTS = 300
MIN_RECORDS = 200  # room for at least one of every planted problem next to the clean rows


@dataclass(eq=False)  # rows are compared by identity: two rows may hold equal content
class Entry:
    """One input row before rendering: a conversation, a preference pair, a math row or a raw line."""

    kind: str  # "sft" | "preference" | "math" | "raw"
    messages: list[dict] = field(default_factory=list)  # sft: the conversation; preference: the prompt turns
    sample: Sample | None = None  # single-turn rows: what they were built from (Alpaca needs its input split)
    chosen: str = ""
    rejected: str = ""
    math: MathProblem | None = None
    raw: bytes = b""
    problem: str | None = None  # the planted problem, None for a clean row
    of: Entry | None = None  # duplicates: the clean row this one copies

    def answers(self) -> list[str]:
        """The assistant texts (for preference rows: chosen and rejected)."""
        if self.kind == "math":
            return [self.math.answer]
        own = [m["content"] for m in self.messages if m["role"] == "assistant"]
        return own + ([self.chosen, self.rejected] if self.kind == "preference" else [])

    def text(self) -> str:
        """Every turn's text, what the novelty guard and the Jaccard checks compare."""
        if self.kind == "math":
            return f"{self.math.question}\n{self.math.answer}"
        parts = [m["content"] for m in self.messages] + ([self.chosen, self.rejected] if self.chosen else [])
        return "\n".join(parts)


def turns(sample: Sample, answer: str | None = None, system: str | None = None) -> list[dict]:
    head = [{"role": "system", "content": system}] if system else []
    return head + [{"role": "user", "content": sample.prompt},
                   {"role": "assistant", "content": sample.answer if answer is None else answer}]


class CorpusBuilder:
    """Draws novel rows with one rng and one novelty guard, so the whole corpus follows from the seed."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.guard = NoveltyGuard()

    def novel(self, make, repeats: bool = False) -> Entry:
        """A row from `make` that is repetitive exactly when `repeats` and novel (Jaccard < 0.3 to all earlier rows)."""
        for _ in range(ATTEMPTS):
            entry = make()
            if any(map(repetitive, entry.answers())) == repeats and self.guard.admit(entry.text()):
                return entry
        raise RuntimeError("demo corpus: the templates ran out of novel rows; lower n_records")

    def english(self, families=None) -> Sample:
        makers, weights = zip(*FAMILIES, strict=True)
        return self.rng.choices(families or makers, weights=None if families else weights)[0](self.rng)

    def clean(self, file: str) -> Entry:
        return self.novel(lambda: self.clean_candidate(file))

    def clean_candidate(self, file: str) -> Entry:
        rng = self.rng
        if file == "math.parquet":
            return Entry("math", math=math_problem(rng))
        if file in ("prefs.jsonl", "hh.jsonl"):
            return self.preference(file)
        sample = self.english()
        if file == "alpaca.jsonl.gz":
            return Entry("sft", turns(sample), sample)
        system = rng.choice(SYSTEM_PROMPTS) if rng.random() < 0.3 else None
        if rng.random() < 0.25:
            second = self.english()
            follow_up = rng.choice(FOLLOW_UPS).format(q=second.prompt)
            return Entry("sft", turns(sample, system=system) + [{"role": "user", "content": follow_up},
                                                                  {"role": "assistant", "content": second.answer}])
        return Entry("sft", turns(sample, system=system), sample)

    def preference(self, file: str) -> Entry:
        rng = self.rng
        sample = self.english()
        if sample.topic == "a word problem":
            wrong = int(sample.answer.rsplit("#### ", 1)[1]) + rng.choice([-10, -3, -1, 1, 2, 5, 12])
            rejected = f"I added up all the numbers in the question and got {wrong}.\n#### {wrong}"
        else:
            rejected = rng.choice(LOW_EFFORT).format(t=sample.topic)
            rejected = rejected[0].upper() + rejected[1:]
        prompt = [{"role": "user", "content": sample.prompt}]
        if file == "hh.jsonl" and rng.random() < 0.4:
            first = self.english()
            prompt = turns(first) + prompt
        return Entry("preference", prompt, sample, chosen=sample.answer, rejected=rejected)

    def planted(self, problem: str, file: str) -> Entry:
        entry = self.novel(lambda: self.planted_candidate(problem, file), repeats=problem == "repetition")
        entry.problem = problem
        return entry

    def planted_candidate(self, problem: str, file: str) -> Entry:
        rng = self.rng
        system = rng.choice(SYSTEM_PROMPTS) if file != "alpaca.jsonl.gz" and rng.random() < 0.3 else None
        if problem.startswith("language:"):
            sample = foreign_sample(rng, problem.split(":")[1])
            return Entry("sft", turns(sample, system=system), sample)
        if problem == "last_turn_not_assistant":
            sample, follow_up = self.english(), self.english()
            return Entry("sft", turns(sample, system=system) + [{"role": "user", "content": follow_up.prompt}])
        sample = self.english([code_sample] if problem == "unbalanced_code_fence" else PROSE_FAMILIES)
        answer = {
            "empty_turn": lambda: rng.choice(["", " ", "\n", "  \n "]),
            "ends_mid_word": lambda: cut_mid_word(rng, sample.answer),
            "unbalanced_code_fence": lambda: unclose_fence(sample.answer),
            "repetition": lambda: repeated_answer(rng),
            "mojibake": lambda: with_mojibake(rng, sample.answer),
            "replacement_char": lambda: with_replacement_chars(rng, sample.answer),
            "blocklist:as_an_ai": lambda: blocklisted(rng, sample.answer),
        }[problem]()
        if answer is None:  # this sample cannot carry the problem; the guard drops the empty candidate
            return Entry("sft", [{"role": "user", "content": ""}])
        return Entry("sft", turns(sample, answer, system), sample)

    def near_copy(self, original: Entry) -> Entry | None:
        """The original with two words swapped in its long context, if that keeps 5-gram Jaccard >= 0.85."""
        sample = original.sample
        context = with_swapped_words(self.rng, sample.context, 2)
        if context is None:
            return None
        copy_sample = Sample(sample.user, sample.answer, sample.topic, sample.long, context)
        system = original.messages[0]["content"] if original.messages[0]["role"] == "system" else None
        copy = Entry("sft", turns(copy_sample, system=system), copy_sample, problem="near_duplicate", of=original)
        return copy if jaccard(copy.text(), original.text()) >= 0.85 else None


def plant_counts(n_records: int) -> dict[str, int]:
    return {problem: max(1, round(rate * n_records / 1000)) for problem, (rate, _) in PLANTS.items()}


def file_budgets(n_records: int) -> dict[str, int]:
    budgets = {f: int(SHARES[f] * n_records) for f in FILES}
    budgets["chat.jsonl"] += n_records - sum(budgets.values())
    return budgets


def build_rows(seed: int, n_records: int) -> tuple[dict[str, list[Entry]], dict[str, int]]:
    """Every file's entries in their final order, and how many of each problem were planted."""
    if n_records < MIN_RECORDS:
        raise ValueError(f"n_records must be at least {MIN_RECORDS} to hold every planted problem")
    builder = CorpusBuilder(seed)
    counts = plant_counts(n_records)
    singles = planted_singles(builder, counts)
    exact_targets = [EXACT_COPIES[i % len(EXACT_COPIES)] for i in range(counts["exact_duplicate"])]
    near_targets = [SFT_FILES[i % len(SFT_FILES)] for i in range(counts["near_duplicate"])]
    rows = {}
    for f in FILES:
        inserted = (sum(copy_file == f for copy_file, _ in exact_targets) + near_targets.count(f)
                    + (sum(counts[m] for m in MALFORMED) if f == "chat.jsonl" else 0))
        n_clean = file_budgets(n_records)[f] - len(singles[f]) - inserted
        rows[f] = [builder.clean(f) for _ in range(n_clean)] + singles[f]
        builder.rng.shuffle(rows[f])
    insert_duplicates(builder, rows, exact_targets, near_targets)
    for problem in MALFORMED:
        for _ in range(counts[problem]):
            line = Entry("raw", raw=malformed_line(builder.rng, problem), problem=problem)
            rows["chat.jsonl"].insert(builder.rng.randint(1, len(rows["chat.jsonl"])), line)
    return rows, counts


def planted_singles(builder: CorpusBuilder, counts: dict[str, int]) -> dict[str, list[Entry]]:
    """The rows with a problem of their own (not duplicates, not malformed lines), by file."""
    singles = {f: [] for f in FILES}
    for problem, (_, files) in PLANTS.items():
        if problem not in ("exact_duplicate", "near_duplicate") and problem not in MALFORMED:
            for i in range(counts[problem]):
                singles[files[i % len(files)]].append(builder.planted(problem, files[i % len(files)]))
    return singles


def insert_duplicates(builder: CorpusBuilder, rows: dict[str, list[Entry]], exact_targets, near_targets) -> None:
    """Copies of distinct clean rows: near duplicates after their original, exact ones after it or in another file."""
    rng = builder.rng
    sources = {f: [e for e in rows[f] if e.problem is None] for f in FILES}
    for f in near_targets:
        insert_after(rng, rows[f], near_source(builder, sources[f]))
    for copy_file, original_file in exact_targets:
        original = exact_source(rng, sources[original_file], copy_file != original_file)
        copy = Entry(original.kind, original.messages, original.sample, original.chosen, original.rejected,
                     original.math, problem="exact_duplicate", of=original)
        if copy_file == original_file:
            insert_after(rng, rows[copy_file], copy)
        else:
            rows[copy_file].insert(rng.randint(1, len(rows[copy_file])), copy)


def near_source(builder: CorpusBuilder, sources: list[Entry]):
    """Takes a long single-turn clean row out of `sources` and returns its near-duplicate copy."""
    for original in [e for e in sources if e.sample is not None and e.sample.long and len(e.messages) <= 3]:
        copy = builder.near_copy(original)
        if copy is not None:
            sources.remove(original)
            return copy
    raise RuntimeError("demo corpus: no long clean row left to near-duplicate")


def exact_source(rng: random.Random, sources: list[Entry], single_turn: bool) -> Entry:
    """Takes a clean row out of `sources` (a plain user/assistant pair when the copy goes to another format)."""
    eligible = [e for e in sources if not single_turn or (len(e.messages) == 2 and e.sample is not None)]
    original = rng.choice(eligible)
    sources.remove(original)
    return original


def insert_after(rng: random.Random, rows: list[Entry], copy: Entry) -> None:
    position = next(i for i, row in enumerate(rows) if row is copy.of)
    rows.insert(rng.randint(position + 1, len(rows)), copy)
