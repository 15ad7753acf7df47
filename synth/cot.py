"""`mixlab synth cot`: rejection-sampled chain-of-thought: K solutions per problem, keep those its verifier accepts.

    mixlab synth cot --input gsm8k_train.jsonl --output runs/cot --model runs/teacher --n 8 [--keep shortest]

Input records need a `verifier` (rl records; question/answer files become math-verified rl records). Each
accepted sample becomes an sft record (prompt as sent + the solution); rejected samples go to removed/ with
removed_by "synth:verifier"; with --keep shortest only the shortest accepted sample per problem is kept (the
others: removed_by "synth:best_of", reason "not_shortest").
"""

from __future__ import annotations

from mixlab.schema import Kind
from synth.chunk import ChunkResult, Settings, count_accepted, draw, sample_record, score
from synth.inputs import prompt_messages, with_instruction

TEMPLATE = "cot-v1"
INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."
PREFER_RL = True
NEEDS_MODEL = True


def cot_prompt(record: dict) -> list[dict] | None:
    messages = prompt_messages(record)
    return None if messages is None else with_instruction(messages, INSTRUCTION)


def usable(record: dict, result: ChunkResult) -> bool:
    """A problem needs a gold answer (verifier) and a user turn; anything else is removed, with why."""
    if not isinstance(record.get("verifier"), dict):
        result.remove(record, "synth:input", "no_verifier")
        return False
    if prompt_messages(record) is None:
        result.remove(record, "synth:input", "no_user_turn")
        return False
    return True


def run_chunk(records: list[dict], engine, settings: Settings, seed: int, result: ChunkResult) -> None:
    problems = [r for r in records if usable(r, result)]
    prompts = [cot_prompt(r) for r in problems]
    samples = draw(engine, settings, prompts, [r["source"] for r in problems], seed, result)
    for record, prompt, group in zip(problems, prompts, samples):
        accepted = []
        for j, sample in enumerate(group):
            value, error = score(record["verifier"], sample.text)
            meta = {"synth": settings.provenance(TEMPLATE, engine.chat_template_sha256, seed, j),
                    "verifier": record["verifier"], "score": value}
            candidate = sample_record(record, "cot", prompt, sample.text, meta, j)
            if value >= 1.0:
                count_accepted(result, record["source"], sample)
                accepted.append((sample, candidate))
            else:
                result.remove(candidate, "synth:verifier", error or "verifier_rejected")
        keep_accepted(accepted, settings.keep, result)


def keep_accepted(accepted: list[tuple], keep: str, result: ChunkResult) -> None:
    """Keep every accepted sample, or (best-of-K by length) only the one with the fewest tokens."""
    if keep == "shortest" and accepted:
        best = min(accepted, key=lambda pair: pair[0].tokens)
        for pair in accepted:
            if pair is not best:
                result.remove(pair[1], "synth:best_of", "not_shortest")
        accepted = [best]
    for _, record in accepted:
        result.keep(Kind.sft, record)
