"""BenchmarkItem: one scored benchmark item as the text segments a training record could contain.

    from decontam.items import BenchmarkItem, MISSION_TASKS

Segments instead of one flat string make matching robust to how training data re-presents an item: options
relabelled (A–D vs 1–4) or reordered, scaffolding ("Question:", "Answer:") dropped, the item embedded in a longer
turn. `prompt` is what the model is shown (for multiple choice: the question/context AND every choice);
`gold` is the reference answer (generative tasks: the target text; multiple choice: the gold choice).
"""

from __future__ import annotations

from dataclasses import dataclass

MISSION_TASKS = ("mmlu", "hellaswag", "arc_challenge", "winogrande", "piqa", "gsm8k", "humaneval", "ifeval",
                 "commonsense_qa")


@dataclass(frozen=True)
class BenchmarkItem:
    task: str                   # the requested lm-eval task name ("mmlu" for every mmlu_* subtask)
    item_id: str                # the doc's own id (arc, csqa, humaneval task_id, ifeval key) else "<subtask>/<index>"
    prompt: tuple[str, ...]     # segments shown to the model, each non-empty
    gold: tuple[str, ...] = ()  # reference answer segments (may repeat a prompt segment for multiple choice)
