"""Benchmark docs, rendered by lm-eval's own task configs, as BenchmarkItem segments for contamination matching.

    from decontam.benchmarks import load_items
    items = load_items(["gsm8k", "mmlu"])                               # lm-eval's datasets, offline cache
    items = load_items(["gsm8k", "mmlu"], benchmark_dir="benchmarks/")  # BDIR/<task>.jsonl[.gz]|.parquet

Prompt segments are the lines of the task's doc_to_text without option labels ("A. ", "(B) ") and scaffolding
("Question:", "Answer:"), plus each choice of a multiple-choice task; gold is the gold choice's text or, for a
generative task, its target (code tasks: the canonical solution, since lm-eval's target is the unit test).
"""

from __future__ import annotations

import re
from collections import Counter

from decontam.items import BenchmarkItem
from mixlab.benchmarks import compiled_templates, load_subtask_docs

ID_FIELDS = ("id", "task_id", "key")  # arc and commonsense_qa id, humaneval task_id, ifeval key
_SCAFFOLD_PREFIX = re.compile(r"^(?:Question|Answer|Q|A):(?:\s+|$)")
_SCAFFOLD_SUFFIX = re.compile(r"(?:^|\s)(?:Question|Answer|Q|A):$")
# "A. ", "B) ", "C: ", "1. ", "(d) ", "e) "; lowercase only bracketed, so code like "x: int" keeps its name
_OPTION_LABEL = re.compile(r"^(?:\(([A-Za-z0-9])\)|([A-Z0-9])[.):]|([a-z])\))(?:\s+|$)")


def load_items(tasks: list[str], benchmark_dir=None) -> dict[str, list[BenchmarkItem]]:
    """task -> its scored items; ids unique per task (running index per id prefix when the doc has no id)."""
    items = {}
    for task in tasks:
        seen = Counter()
        items[task] = []
        for subtask in load_subtask_docs(task, benchmark_dir):
            with compiled_templates():
                for doc in subtask.docs:
                    prefix = item_id_prefix(task, doc)
                    items[task].append(render_item(task, subtask.task, doc, seen[prefix]))
                    seen[prefix] += 1
    return items


def render_item(task_name: str, task_obj, doc: dict, index: int) -> BenchmarkItem:
    """One doc as segments: what the model is shown (prompt) and the reference answer (gold)."""
    text = task_obj.doc_to_text(doc)
    if task_obj.OUTPUT_TYPE != "multiple_choice":
        prompt, gold = prompt_lines(text), _generative_gold(task_obj, doc)
    elif isinstance(text, int):
        prompt, gold = _multiple_input_segments(task_obj, doc, gold_index=text)
    else:
        prompt, gold = _multiple_choice_segments(task_obj, doc, text)
    return BenchmarkItem(task=task_name, item_id=_item_id(task_name, doc, index), prompt=_unique(prompt),
                         gold=_unique(gold))


def prompt_lines(text: str) -> list[str]:
    """The rendered prompt's non-empty lines, stripped of option labels and "Question:"/"Answer:" scaffolding."""
    lines = []
    for raw in text.splitlines():
        line = _OPTION_LABEL.sub("", _SCAFFOLD_PREFIX.sub("", raw.strip()))
        line = _SCAFFOLD_SUFFIX.sub("", line).strip()
        if line:
            lines.append(line)
    return lines


def item_id_prefix(task_name: str, doc: dict) -> str:
    """mmlu rows carry their subject: ids count per subject, as lm-eval's mmlu_<subject> tasks do."""
    subject = doc.get("subject")
    return f"{task_name}_{subject}" if isinstance(subject, str) and subject else task_name


def _item_id(task_name: str, doc: dict, index: int) -> str:
    for field in ID_FIELDS:
        if doc.get(field) not in (None, ""):
            return str(doc[field])
    return f"{item_id_prefix(task_name, doc)}/{index}"


def _multiple_choice_segments(task_obj, doc: dict, text: str) -> tuple[list[str], list[str]]:
    """Prompt lines + choice texts; choices that are only labels (mmlu "A".."D") become their labelled lines."""
    rendered = [str(choice).strip() for choice in task_obj.doc_to_choice(doc)]
    options = _labelled_options(text)
    labels_only = rendered and all(choice in options for choice in rendered)
    choices = [options[choice] for choice in rendered] if labels_only else rendered
    gold_index = _gold_index(task_obj.doc_to_target(doc), rendered)
    gold = [choices[gold_index]] if gold_index is not None and 0 <= gold_index < len(choices) else []
    return prompt_lines(text) + choices, gold


def _multiple_input_segments(task_obj, doc: dict, gold_index: int) -> tuple[list[str], list[str]]:
    """Tasks whose doc_to_text is the gold index and whose choices are contexts sharing one continuation.

    Winogrande (lm-eval's preprocess_winogrande): the contexts are doc["sentence"] cut at its "_" blank and filled
    with option1/option2, so the item is the sentence with its blank plus both options; gold is the gold option.
    """
    if {"sentence", "option1", "option2"} <= doc.keys():
        options = [str(doc["option1"]).strip(), str(doc["option2"]).strip()]
        return [str(doc["sentence"]).strip(), *options], [options[gold_index]]
    continuation = str(task_obj.doc_to_target(doc)).strip()
    filled = [f"{context}{task_obj.config.target_delimiter}{continuation}".strip()
              for context in task_obj.doc_to_choice(doc)]
    return filled, [filled[gold_index]]


def _generative_gold(task_obj, doc: dict) -> list[str]:
    """The target text (a list: each target); none when the target is not text (ifeval's placeholder 0)."""
    if isinstance(doc.get("canonical_solution"), str):
        return [doc["canonical_solution"].strip()]
    target = task_obj.doc_to_target(doc)
    targets = target if isinstance(target, list) else [target]
    return [item.strip() for item in targets if isinstance(item, str)]


def _labelled_options(text: str) -> dict[str, str]:
    """{"A": "first option", ...} from prompt lines such as "A. first option" or "(B) second option"."""
    options = {}
    for raw in text.splitlines():
        line = raw.strip()
        match = _OPTION_LABEL.match(line)
        if match:
            options[next(group for group in match.groups() if group)] = _SCAFFOLD_SUFFIX.sub("", line[match.end():])
    return {label: option.strip() for label, option in options.items()}


def _gold_index(target, choices: list[str]) -> int | None:
    """lm-eval targets are a choice index, a choice ("A", or the choice text) or a digit string."""
    if isinstance(target, list):
        target = target[0] if target else None
    if isinstance(target, int):
        return target
    if isinstance(target, str):
        if target.strip() in choices:
            return choices.index(target.strip())
        if target.strip().isdigit():
            return int(target.strip())
    return None


def _unique(segments) -> tuple[str, ...]:
    return tuple(dict.fromkeys(segment.strip() for segment in segments if segment and segment.strip()))
