"""`mixlab synth respond`: a teacher model's responses to instruction prompts (distillation data).

    mixlab synth respond --input prompts.jsonl --output runs/responses --model runs/teacher [--n 1]

Any record with a user turn is a prompt (an sft record up to its last user turn: an existing answer is
replaced). Each non-empty sample becomes an sft record; empty ones go to removed/ (removed_by "synth:respond",
reason "empty_response"). Quality filtering is `mixlab curate`'s job: run it on the output.
"""

from __future__ import annotations

from mixlab.schema import Kind
from synth.chunk import ChunkResult, Settings, count_accepted, draw, sample_record
from synth.inputs import prompt_messages

TEMPLATE = "respond-v1"
PREFER_RL = False
NEEDS_MODEL = True


def run_chunk(records: list[dict], engine, settings: Settings, seed: int, result: ChunkResult) -> None:
    prompts, usable = [], []
    for record in records:
        messages = prompt_messages(record)
        if messages is None:
            result.remove(record, "synth:input", "no_user_turn")
        else:
            prompts.append(messages)
            usable.append(record)
    samples = draw(engine, settings, prompts, [r["source"] for r in usable], seed, result)
    for record, prompt, group in zip(usable, prompts, samples):
        for j, sample in enumerate(group):
            meta = {"synth": settings.provenance(TEMPLATE, engine.chat_template_sha256, seed, j)}
            candidate = sample_record(record, "respond", prompt, sample.text, meta, j)
            if sample.text.strip():
                count_accepted(result, record["source"], sample)
                result.keep(Kind.sft, candidate)
            else:
                result.remove(candidate, "synth:respond", "empty_response")
