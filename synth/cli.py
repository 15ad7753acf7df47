"""`mixlab synth TASK`: generate verified CoT, responses, IFEval-style prompts or preference pairs with a model.

    mixlab synth cot --input gsm8k.jsonl --output runs/cot --model runs/teacher --n 8 --keep shortest
    mixlab synth respond --input prompts/ --output runs/resp --model runs/teacher
    mixlab synth ifeval-prompts --input prompts/ --output runs/if --model runs/teacher [--respond]
    mixlab synth preference --input runs/rl-prompts --output runs/pairs --model runs/sft/final --n 8

The output folder has the curated layout (data/<kind>/, removed/, quarantine/, manifest.json, datacard) and goes
into `mixlab curate` / `mixlab decontam` as it is. Rerunning a killed command resumes it.
"""

from __future__ import annotations

import shlex
import sys

from synth import TASKS

DEFAULT_N = {"cot": 4, "respond": 1, "ifeval-prompts": 4, "preference": 8}


def add_synth(sub) -> None:
    p = sub.add_parser("synth", help="synthesise verified CoT, responses, IFEval prompts or preference pairs",
                       description="Sample a model (vLLM or transformers) on input prompts, verify the samples and "
                       "write the kept ones as canonical records in the curated layout, with provenance in each "
                       "record's meta and a datacard section. Rerunning a killed command resumes it.")
    p.add_argument("task", choices=list(TASKS), help="cot: rejection-sampled solutions of verifiable problems; "
                   "respond: responses to instruction prompts; ifeval-prompts: add verifiable constraints (rl "
                   "records; --respond also keeps passing responses); preference: chosen/rejected pairs by verifier")
    p.add_argument("--input", dest="inputs", nargs="+", required=True,
                   help="curated folders or input files/folders in any format `mixlab curate` reads")
    p.add_argument("--output", required=True, help="output folder (curated layout)")
    p.add_argument("--model", required=True, help="local model folder (weights, config, tokenizer with chat template)")
    p.add_argument("--engine", choices=("auto", "vllm", "hf"), default="auto",
                   help="vllm (GPU), hf (transformers), auto: vllm when installed and a GPU is there (default)")
    p.add_argument("--n", type=int, help="samples per prompt (default: cot 4, preference 8, ifeval-prompts 4, "
                   "respond 1)")
    p.add_argument("--temperature", type=float, default=0.7, help="sampling temperature; 0 = greedy (default 0.7)")
    p.add_argument("--max-new-tokens", type=int, default=1024, help="per sample (default 1024)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    p.add_argument("--keep", choices=("all", "shortest"), default="all",
                   help="cot: keep all accepted solutions, or the shortest per problem (best-of-K)")
    p.add_argument("--respond", action="store_true",
                   help="ifeval-prompts: also sample responses and keep those meeting the constraints (sft records)")
    p.add_argument("--chunk-size", type=int, default=256, help="prompts per resumable chunk (default 256)")
    p.add_argument("--batch-size", type=int, help="hf engine: sequences per generate call (default: 256 GPU, 16 CPU)")
    p.add_argument("--force", action="store_true", help="delete the output folder and start over")
    p.set_defaults(handler=run_synth)


def run_synth(args) -> int:
    from datacards.terminal import render_terminal
    from synth.chunk import Settings
    from synth.engines import resolve_engine
    from synth.run import synth

    settings = Settings(task=args.task, model=args.model, engine=resolve_engine(args.engine),
                        n=args.n or DEFAULT_N[args.task], temperature=args.temperature,
                        max_new_tokens=args.max_new_tokens, seed=args.seed, keep=args.keep, respond=args.respond,
                        chunk_size=args.chunk_size)
    card = synth(settings, args.inputs, args.output, batch_size=args.batch_size, force=args.force,
                 command=shlex.join(["mixlab", *sys.argv[1:]]))
    print(render_terminal(card))
    return 0
