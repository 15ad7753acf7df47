"""Generated tokens/s of synth's transformers engine against plain `model.generate`, Qwen3-4B architecture, one GPU.

    python bench/synth_generate.py --tokenizer TOKENIZER_DIR --out OUT_DIR [--new-tokens 256] [--batches 256,64]
    python bench/synth_generate.py --tokenizer TOK --out /tmp/b --config configs/tiny/model/config.json \
        --new-tokens 8 --sequences 8 --batches 8     # CPU smoke test of the script

The model is the Qwen3-4B architecture with random bf16 weights (nothing is downloaded); TOKENIZER_DIR is a saved
Qwen3 tokenizer with its chat template. A random model never emits its eos, so every sequence runs to --new-tokens
and all runs do the same work per sequence. Measured, each after a warm-up of the same shapes:
  baseline  plain `model.generate`: one batch of 64 left-padded prompts, dynamic KV cache, sampling at 0.7;
  engine    `synth cot` chunks (synth.cot.run_chunk: chat template, sampling, math verifier, records) through
            HFEngine (static KV cache reused, compiled decode step) at each batch size, 256 sequences per run.
Results go to OUT_DIR/synth_generate.json as they come.
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo's packages before bench/curation.py

QWEN3_4B = {"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "vocab_size": 151936, "hidden_size": 2560,
            "intermediate_size": 9728, "num_hidden_layers": 36, "num_attention_heads": 32, "num_key_value_heads": 8,
            "head_dim": 128, "hidden_act": "silu", "max_position_embeddings": 40960, "rms_norm_eps": 1e-6,
            "rope_theta": 1000000, "attention_bias": False, "attention_dropout": 0.0, "tie_word_embeddings": True,
            "initializer_range": 0.02, "bos_token_id": 151643, "eos_token_id": 151645, "use_cache": True}
BASELINE_BATCH = 64
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"  # cpu: a smoke test with --config configs/tiny/...


def build_model(tokenizer_dir: Path, folder: Path, architecture: dict) -> None:
    """A random model saved as a model folder (initialised on the GPU: seconds instead of minutes)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, Qwen3Config

    config = Qwen3Config(**{k: v for k, v in architecture.items() if k not in ("architectures", "model_type")})
    torch.manual_seed(0)
    with torch.device(DEVICE):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    model.generation_config.eos_token_id = [tokenizer.convert_tokens_to_ids("<|im_end|>"), tokenizer.eos_token_id]
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    del model
    release_memory()


def release_memory() -> None:
    """Free the last run's model before the next one loads (it went out of scope when its function returned)."""
    gc.collect()
    if DEVICE == "cuda":
        torch.cuda.empty_cache()


def problems(count: int) -> list[dict]:
    """GSM8K-like rl records (math verifier, gold answers a random model never writes)."""
    return [{"id": f"p{i}", "source": "bench", "meta": {}, "verifier": {"name": "math", "answer": str(1000 + i)},
             "prompt": [{"role": "user", "content": f"A shop sells {i + 3} boxes of {i % 7 + 2} pens each and "
                         f"then {i % 5 + 1} more pens. How many pens does it sell in all?"}]} for i in range(count)]


def synchronize() -> None:
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def timed(fn):
    synchronize()
    start = time.perf_counter()
    value = fn()
    synchronize()
    return value, time.perf_counter() - start


def baseline(folder: Path, new_tokens: int) -> dict:
    """Plain model.generate: what issue 7 measured (~540 tokens/s at 64 x 256 on an H200)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from synth.cot import cot_prompt
    from synth.engines import generated_lengths, render_prompt, stop_token_ids

    tokenizer = AutoTokenizer.from_pretrained(folder, padding_side="left")
    dtype = torch.bfloat16 if DEVICE == "cuda" else torch.float32
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype).to(DEVICE).eval()
    texts = [render_prompt(tokenizer, cot_prompt(r)) for r in problems(BASELINE_BATCH)]
    batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(DEVICE)

    def run(tokens):
        return model.generate(**batch, do_sample=True, temperature=0.7, max_new_tokens=tokens)

    timed(lambda: run(8))
    out, seconds = timed(lambda: run(new_tokens))
    generated = int(generated_lengths(out[:, batch["input_ids"].shape[1]:], stop_token_ids(tokenizer)).sum())
    return {"batch": BASELINE_BATCH, "sequences": BASELINE_BATCH, "generated_tokens": generated,
            "seconds": round(seconds, 2), "tokens_per_s": round(generated / seconds, 1)}


def engine_run(folder: Path, batch: int, new_tokens: int, sequences: int, static_cache: bool) -> dict:
    from synth.chunk import ChunkResult, Settings
    from synth.cot import run_chunk
    from synth.engines import HFEngine

    engine = HFEngine(str(folder), batch_size=batch, static_cache=static_cache)
    n = 4
    settings = Settings(task="cot", model=str(folder), engine="hf", n=n, temperature=0.7, max_new_tokens=new_tokens)
    _, warmup = timed(lambda: run_chunk(problems(batch // n), engine, settings, 0, ChunkResult()))
    engine.generated_tokens = 0
    result = ChunkResult()
    _, seconds = timed(lambda: run_chunk(problems(sequences // n), engine, settings, 1, result))
    accepted = sum(c["accepted"] for c in result.by_source.values())
    report = {"batch": batch, "static_cache": static_cache, "sequences": sequences,
              "generated_tokens": engine.generated_tokens, "seconds": round(seconds, 2),
              "tokens_per_s": round(engine.generated_tokens / seconds, 1), "warmup_s": round(warmup, 1),
              "accepted": accepted}
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokenizer", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--model-dir", type=Path, default=Path("/tmp/qwen3-4b-random"))
    parser.add_argument("--new-tokens", type=int, default=256)
    parser.add_argument("--sequences", type=int, default=256)
    parser.add_argument("--batches", default="256,64", help="engine batch sizes, comma-separated")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--config", type=Path, help="a model config.json instead of the Qwen3-4B architecture")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    architecture = json.loads(args.config.read_text()) if args.config else QWEN3_4B
    device_name = torch.cuda.get_device_name() if DEVICE == "cuda" else "cpu"
    results = {"device": device_name, "architecture": architecture, "torch": torch.__version__,
               "new_tokens": args.new_tokens, "runs": []}

    def record(name: str, report: dict) -> None:
        release_memory()
        results["runs"].append({"name": name, **report})
        print(json.dumps(results["runs"][-1]), flush=True)
        (args.out / "synth_generate.json").write_text(json.dumps(results, indent=2) + "\n")

    import transformers

    results["transformers"] = transformers.__version__
    if args.model_dir.exists():
        shutil.rmtree(args.model_dir)
    _, seconds = timed(lambda: build_model(args.tokenizer, args.model_dir, architecture))
    print(f"model built in {seconds:.0f} s", flush=True)
    if not args.skip_baseline:
        record("baseline model.generate", baseline(args.model_dir, args.new_tokens))
    for batch in (int(b) for b in args.batches.split(",")):
        record(f"synth cot, hf engine, batch {batch}",
               engine_run(args.model_dir, batch, args.new_tokens, max(args.sequences, batch), static_cache=True))


if __name__ == "__main__":
    main()
