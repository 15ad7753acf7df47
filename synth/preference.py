"""`mixlab synth preference`: on-policy preference pairs: K samples per prompt, scored by its verifier.

    mixlab synth preference --input rl_prompts/ --output runs/pairs --model runs/sft-4b/final --n 8

For each prompt with a `verifier`, the first passing sample (score 1) is `chosen` and the lowest-scoring failing
one `rejected`: one pair per prompt, in TRL's conversational preference format (prompt / chosen / rejected
message lists). A prompt whose samples all pass or all fail gives no pair: its record goes to removed/
(removed_by "synth:preference", reason "all_samples_pass" | "no_sample_passes", the scores in meta).
"""

from __future__ import annotations

from mixlab.schema import Kind, stable_id
from synth.chunk import ChunkResult, Settings, count_accepted, draw, score
from synth.cot import usable
from synth.inputs import prompt_messages

TEMPLATE = "preference-v1"
PREFER_RL = True
NEEDS_MODEL = True


def run_chunk(records: list[dict], engine, settings: Settings, seed: int, result: ChunkResult) -> None:
    prompts_for = [r for r in records if usable(r, result)]
    prompts = [prompt_messages(r) for r in prompts_for]
    samples = draw(engine, settings, prompts, [r["source"] for r in prompts_for], seed, result)
    for record, prompt, group in zip(prompts_for, prompts, samples):
        scored = [(*score(record["verifier"], s.text), s) for s in group]
        for value, _, sample in scored:
            if value >= 1.0:
                count_accepted(result, record["source"], sample)
        errors = [error for _, error, _ in scored if error]
        passing = [(j, s) for j, (value, _, s) in enumerate(scored) if value >= 1.0]
        failing = sorted(((value, j, s) for j, (value, error, s) in enumerate(scored) if value < 1.0 and not error),
                         key=lambda t: (t[0], t[1]))
        meta = {**(record.get("meta") or {}), "prompt_id": record["id"], "verifier": record["verifier"],
                "scores": [value for value, _, _ in scored]}
        if errors:
            result.remove(record, "synth:verifier", errors[0])
        elif passing and failing:
            result.keep(Kind.preference, pair(record, prompt, passing[0], failing[0][1:], meta, settings, engine,
                                              seed))
        else:
            result.remove({**record, "meta": meta}, "synth:preference",
                          "no_sample_passes" if not passing else "all_samples_pass")


def pair(record: dict, prompt: list[dict], chosen: tuple, rejected: tuple, meta: dict, settings: Settings, engine,
         seed: int) -> dict:
    (chosen_j, chosen_s), (rejected_j, rejected_s) = chosen, rejected
    provenance = settings.provenance(TEMPLATE, engine.chat_template_sha256, seed, None)
    return {"id": stable_id(f"synth:preference:{record['id']}", 0), "source": record["source"], "prompt": prompt,
            "chosen": [{"role": "assistant", "content": chosen_s.text.strip()}],
            "rejected": [{"role": "assistant", "content": rejected_s.text.strip()}],
            "meta": {**meta, "synth": {**provenance, "chosen_sample": chosen_j, "rejected_sample": rejected_j}}}
