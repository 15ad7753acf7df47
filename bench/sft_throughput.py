"""SFT throughput of the real Qwen3-4B architecture: a plain transformers loop vs mixlab's SFT path, same data.

    python bench/sft_throughput.py --model-config ../shared/assets/qwen3-4b-base/config.json \
        --tokenizer ../shared/assets/qwen3-4b-base --data-dir ../shared/data --mode both
    accelerate launch --config_file configs/accelerate/fsdp2_4gpu.yaml --num_processes 2 \
        bench/sft_throughput.py --mode mixlab ...            # FSDP2 scaling: the same path on N GPUs

Random init, bf16 autocast over fp32 master weights, sequences of --seq-len tokens packed from real chat data
(GPTeacher code instructions + AlpacaEval GPT-4 answers, rendered with mixlab's chat template). Reported per GPU:
tokens/s over the timed steps (after --warmup), MFU = (6*N + causal attention over each document's own length)
FLOPs per token over the dense bf16 peak (989 TFLOP/s for H100/H200), peak memory. (a) `plain`: one model, SDPA,
gradient checkpointing, fused AdamW, documents concatenated into full rows (attention crosses documents: the
cheap baseline). (b) `mixlab`: train.sft's trainer (TRL SFTTrainer, bfd padding-free packing, varlen attention,
liger kernels when installed, assistant-only loss) with the recipe fields given below. Prints a table and writes
--output JSON.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml
from transformers import TrainerCallback

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from train.plan import PEAK_BF16_TFLOPS, count_parameters  # noqa: E402

GPU_PEAK = PEAK_BF16_TFLOPS["h200"] * 1e12


def chat_rows(data_dir: Path, limit: int) -> list[list[dict]]:
    """Real-length conversations: GPTeacher code instructions and AlpacaEval GPT-4 answers."""
    rows = []
    with gzip.open(data_dir / "sft" / "gpteacher_codegen_instruct.json.gz", "rt") as handle:
        for item in json.load(handle):
            user = item["instruction"] + (f"\n\n{item['input']}" if item.get("input") else "")
            rows.append([{"role": "user", "content": user}, {"role": "assistant", "content": item["response"]}])
    with gzip.open(data_dir / "chat_eval" / "alpaca_eval_gpt4_1106_preview_model_outputs.json.gz", "rt") as handle:
        for item in json.load(handle):
            rows.append([{"role": "user", "content": item["instruction"]},
                         {"role": "assistant", "content": item["output"]}])
    return rows[:limit]


def flops_per_token(config: dict, doc_lengths: list[int], seq_len: int) -> float:
    """6*N (matmul parameters) + causal attention, 6 * layers * d_attn * (document length) averaged per token."""
    params = count_parameters(config)
    lengths = [min(n, seq_len) for n in doc_lengths]
    attention = 6 * params["n_layers"] * params["d_attn"] * sum(n * n for n in lengths) / sum(lengths)
    return 6 * params["compute"] + attention


DEVICE = "cuda" if torch.cuda.is_available() else "cpu"  # CPU: a smoke run of the script itself, not a measurement


def sync() -> None:
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def peak_gib() -> float:
    return torch.cuda.max_memory_allocated() / 2**30 if DEVICE == "cuda" else 0.0


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def world() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def plain_loop(args, config_path: Path, token_stream: torch.Tensor) -> dict:
    """(a): a hand-written loop, the reference."""
    from transformers import AutoConfig, AutoModelForCausalLM

    torch.manual_seed(0)
    config = AutoConfig.from_pretrained(config_path)
    model = AutoModelForCausalLM.from_config(config, attn_implementation="sdpa", dtype=torch.float32).to(DEVICE)
    model.gradient_checkpointing_enable()
    model.config.use_cache = False
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=DEVICE == "cuda")
    rows = token_stream[: (len(token_stream) // args.seq_len) * args.seq_len].view(-1, args.seq_len)
    if DEVICE == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times, tokens = [], 0
    for step in range(args.warmup + args.steps):
        batch = rows[(step * args.micro_batch) % len(rows):][: args.micro_batch].to(DEVICE)
        sync()
        start = time.perf_counter()
        with torch.autocast(DEVICE, dtype=torch.bfloat16, enabled=DEVICE == "cuda"):
            loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        sync()
        if step >= args.warmup:
            times.append(time.perf_counter() - start)
            tokens += batch.numel()
    return {"tokens": tokens, "seconds": sum(times), "peak_gib": peak_gib(),
            "loss": loss.item()}


def write_recipe(args, work: Path, config_path: Path, data_file: Path) -> Path:
    recipe = {
        "model_name_or_path": str(config_path), "tokenizer_name_or_path": str(args.tokenizer),
        "datasets": [{"path": str(data_file), "weight": 1.0}], "output_dir": str(work / "out"), "seed": 0,
        "assistant_only_loss": True, "max_length": args.seq_len, "packing": True, "packing_strategy": "bfd",
        "dataset_num_proc": 8, "learning_rate": 1e-5, "lr_scheduler_type": "constant",
        "per_device_train_batch_size": args.micro_batch, "gradient_accumulation_steps": args.grad_accum,
        "max_steps": args.warmup + args.steps, "gradient_checkpointing": args.grad_ckpt, "bf16": True,
        "logging_steps": 1000, "save_strategy": "no", "report_to": "none", "disable_tqdm": True,
        "use_liger_kernel": args.liger, "optim": "adamw_torch_fused", "torch_compile": args.compile,
    }
    if args.attn:
        recipe["model_init_kwargs"] = {"attn_implementation": args.attn}
    path = work / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def mixlab_path(args, config_path: Path, rows: list) -> dict:
    """(b): the trainer `mixlab train sft` builds, timed per optimizer step."""
    from train.config import load_run_config
    from train.sft import build_trainer

    work = Path(tempfile.mkdtemp(prefix="sft-bench-"))
    data_file = work / "chat.jsonl"
    data_file.write_text("".join(json.dumps({"messages": m}) + "\n" for m in rows))
    cfg = load_run_config("sft", write_recipe(args, work, config_path, data_file))
    trainer, _ = build_trainer(cfg)
    clock = StepClock(args.warmup)
    trainer.add_callback(clock)
    original_step = trainer.training_step

    def counted_step(model, inputs, num_items_in_batch=None):
        if clock.timing:
            clock.tokens += int(inputs["input_ids"].numel())  # padding-free: every position is a real token
        return original_step(model, inputs, num_items_in_batch)

    trainer.training_step = counted_step
    if DEVICE == "cuda":
        torch.cuda.reset_peak_memory_stats()
    trainer.train()
    return {"tokens": clock.tokens, "seconds": clock.seconds, "peak_gib": peak_gib(),
            "attention": trainer.model.config._attn_implementation, "liger": bool(trainer.args.use_liger_kernel)}


class StepClock(TrainerCallback):
    """Wall time from the end of the last warm-up step to the end of the last step (data, forward, backward,
    optimizer: everything a real run pays)."""

    def __init__(self, warmup: int):
        self.warmup, self.tokens, self.seconds, self.timing, self.start = warmup, 0, 0.0, False, 0.0

    def on_step_end(self, args, state, control, **kwargs):
        sync()
        if state.global_step == self.warmup:
            self.timing, self.start = True, time.perf_counter()
        elif self.timing:
            self.seconds = time.perf_counter() - self.start


def tokenize_stream(rows: list, tokenizer_path: str) -> tuple[torch.Tensor, list[int]]:
    from train.template import install_chat_template, load_tokenizer

    tokenizer = install_chat_template(load_tokenizer(tokenizer_path))
    texts = tokenizer.apply_chat_template(rows, tokenize=False)
    ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
    return torch.tensor([t for doc in ids for t in doc]), [len(doc) for doc in ids]


def row(name: str, result: dict, fpt: float) -> dict:
    tps = result["tokens"] / result["seconds"]
    return {"path": name, "gpus": world(), "tokens_per_sec_per_gpu": tps, "mfu": tps * fpt / GPU_PEAK,
            "peak_gib": result["peak_gib"], **{k: v for k, v in result.items() if k not in ("tokens", "seconds")}}


def print_table(results: list[dict]) -> None:
    print("\n| path | GPUs | tokens/s/GPU | MFU | peak GiB/GPU | notes |\n|---|---|---|---|---|---|")
    for r in results:
        notes = ", ".join(f"{k}={v}" for k, v in r.items()
                          if k not in ("path", "gpus", "tokens_per_sec_per_gpu", "mfu", "peak_gib"))
        print(f"| {r['path']} | {r['gpus']} | {r['tokens_per_sec_per_gpu']:,.0f} | {r['mfu']:.1%} | "
              f"{r['peak_gib']:.1f} | {notes} |")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model-config", type=Path, default=Path("../shared/assets/qwen3-4b-base/config.json"))
    p.add_argument("--tokenizer", default="../shared/assets/qwen3-4b-base")
    p.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    p.add_argument("--mode", choices=("plain", "mixlab", "both"), default="both")
    p.add_argument("--seq-len", type=int, default=4096)
    p.add_argument("--micro-batch", type=int, default=4, help="packed rows per GPU per step")
    p.add_argument("--steps", type=int, default=10, help="timed steps")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--grad-ckpt", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--liger", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--grad-accum", type=int, default=1, help="micro-batches per optimizer step (mixlab path)")
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=False,
                   help="mixlab path: the Trainer's torch_compile")
    p.add_argument("--attn", default=None, help="mixlab path attention (default: train/model.py's choice)")
    p.add_argument("--rows", type=int, default=100_000, help="conversations read")
    p.add_argument("--output", type=Path, default=None, help="append results as JSON lines")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    config = json.loads(args.model_config.read_text())
    rows = chat_rows(args.data_dir, args.rows)
    stream, doc_lengths = tokenize_stream(rows, args.tokenizer)
    fpt = flops_per_token(config, doc_lengths, args.seq_len)
    plain_fpt = flops_per_token(config, [args.seq_len] * 8, args.seq_len)  # (a) attends over whole rows
    if rank() == 0:
        print(f"{len(rows)} conversations, {len(stream):,} tokens, mean document {sum(doc_lengths) / len(rows):.0f} "
              f"tokens; {fpt / 1e9:.1f} GFLOP/token (6N = {6 * count_parameters(config)['compute'] / 1e9:.1f})")
    results = []
    if args.mode in ("plain", "both"):
        results.append(row("plain transformers loop", plain_loop(args, args.model_config, stream), plain_fpt))
    if args.mode in ("mixlab", "both"):
        results.append(row("mixlab SFT path", mixlab_path(args, args.model_config, rows), fpt))
    if rank() == 0:
        print_table(results)
        if args.output:
            with args.output.open("a") as handle:
                for r in results:
                    handle.write(json.dumps({**r, "seq_len": args.seq_len, "micro_batch": args.micro_batch,
                                             "grad_accum": args.grad_accum, "grad_ckpt": args.grad_ckpt,
                                             "compile": args.compile}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
