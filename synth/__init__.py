"""Synthesise SFT, RL and preference data with a model, verified, with provenance: `mixlab synth TASK ...`.

    mixlab synth cot --input gsm8k.jsonl --output runs/cot --model runs/teacher --n 8

Tasks (one module each): cot, respond, ifeval-prompts (ifeval_prompts), preference. engines.py holds the vLLM
and transformers engines, run.py the resumable chunk loop, output.py the curated-layout writer.
"""

TASKS = {"cot": "synth.cot", "respond": "synth.respond", "ifeval-prompts": "synth.ifeval_prompts",
         "preference": "synth.preference"}
