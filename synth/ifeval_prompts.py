"""`mixlab synth ifeval-prompts`: attach 1–3 compatible IFEval constraints to instruction prompts → rl records.

    mixlab synth ifeval-prompts --input prompts.jsonl --output runs/if-rl --model runs/teacher
    mixlab synth ifeval-prompts --input prompts.jsonl --output runs/if-sft --model runs/teacher --respond --n 4

Each prompt's last user turn gets the constraints' instruction text appended (mixlab.verifiers.constraints, seeded
per chunk) and becomes an rl record whose `verifier` is the matching `ifeval` spec. With --respond the model also
answers each constrained prompt K times; responses meeting every constraint become sft records, the others go to
removed/ (removed_by "synth:verifier"). Without --respond the model is not loaded.
"""

from __future__ import annotations

import random

from mixlab.schema import Kind, stable_id
from synth.chunk import ChunkResult, Settings, count_accepted, draw, sample_record, score
from synth.inputs import prompt_messages, with_instruction

TEMPLATE = "ifeval-prompts-v1"
PREFER_RL = False
NEEDS_MODEL = False  # only with --respond


def constrained(record: dict, rng: random.Random, settings: Settings, seed: int) -> dict:
    """The rl record: the prompt with its constraints' instructions appended, and their ifeval verifier."""
    from mixlab.verifiers.constraints import sample_constraints

    messages = prompt_messages(record)
    instruction, verifier = sample_constraints(messages[-1]["content"], rng)
    provenance = {"task": settings.task, "template": TEMPLATE, "seed": settings.seed, "chunk_seed": seed}
    return {"id": stable_id(f"synth:ifeval-prompts:rl:{record['id']}", 0), "source": record["source"],
            "prompt": with_instruction(messages, instruction), "verifier": verifier,
            "meta": {**(record.get("meta") or {}), "prompt_id": record["id"], "synth": provenance}}


def usable(record: dict, result: ChunkResult) -> bool:
    if record.get("verifier"):  # its own check would be lost under the ifeval one
        result.remove(record, "synth:input", "has_verifier")
        return False
    if prompt_messages(record) is None:
        result.remove(record, "synth:input", "no_user_turn")
        return False
    return True


def run_chunk(records: list[dict], engine, settings: Settings, seed: int, result: ChunkResult) -> None:
    rng = random.Random(seed)
    prompts = [constrained(r, rng, settings, seed) for r in records if usable(r, result)]
    for rl in prompts:
        result.keep(Kind.rl, rl)
        if not settings.respond:
            result.count(rl["source"], "prompts")
    if settings.respond:
        respond(prompts, engine, settings, seed, result)


def respond(prompts: list[dict], engine, settings: Settings, seed: int, result: ChunkResult) -> None:
    """K responses per constrained prompt; those following every constraint are kept as sft records."""
    samples = draw(engine, settings, [rl["prompt"] for rl in prompts], [rl["source"] for rl in prompts], seed, result)
    for rl, group in zip(prompts, samples):
        origin = {**rl, "id": rl["meta"]["prompt_id"], "meta": {k: v for k, v in rl["meta"].items() if k != "synth"}}
        for j, sample in enumerate(group):
            value, error = score(rl["verifier"], sample.text)
            meta = {"synth": settings.provenance(TEMPLATE, engine.chat_template_sha256, seed, j),
                    "verifier": rl["verifier"], "score": value}
            candidate = sample_record(origin, "ifeval-prompts", rl["prompt"], sample.text, meta, j)
            if value >= 1.0:
                count_accepted(result, rl["source"], sample)
                result.keep(Kind.sft, candidate)
            else:
                result.remove(candidate, "synth:verifier", error or "verifier_rejected")
