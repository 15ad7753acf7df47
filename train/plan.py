"""Compute-budget planner for an SFT recipe: tokens, parameters, FLOPs, steps and wall time, and what to cut.

    mixlab plan --config configs/qwen3-4b/sft.yaml [key=value ...] [--gpus 4] [--gpu h100] [--tokens-per-sec X]
                [--budget-hours 24] [--sample 20000] [--json]

Tokens are counted with the run's tokenizer and chat template (the rendering training uses), truncated at
max_length as TRL does. Throughput per GPU is `--tokens-per-sec`, else a measured line in bench/RESULTS.md of the form

    plan-throughput: model=qwen3-4b-base gpu=h200 tokens_per_sec_per_gpu=11000

(model = the model folder's name, or the folder holding the config.json, lower-cased; the first matching line wins,
RESULTS.md being newest first), else an assumed 40 % MFU of the GPU's dense bf16 peak. GPUs are assumed to scale
linearly.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from train.config import REPO_ROOT, RunConfig, load_run_config

PEAK_BF16_TFLOPS = {"h100": 989.0, "h200": 989.0, "a100": 312.0}  # dense, no sparsity
ASSUMED_MFU = 0.40
RESULTS_FILE = REPO_ROOT / "bench" / "RESULTS.md"
THROUGHPUT_LINE = re.compile(r"plan-throughput:\s*model=(\S+)\s+gpu=(\S+)\s+tokens_per_sec_per_gpu=([\d.]+)")
FLOPS_FORMULA = "FLOPs = (6*N + 6*n_layers*seq_len*d_attn) * tokens * epochs, seq_len = max_length"
ROWS_MARGIN = 0.98  # rows differ in length: a cut in rows keeps 2 % headroom
TOKENIZE_CHUNK = 2048


@dataclass
class TokenCount:
    rows: int           # rows in the mix (one epoch)
    rows_counted: int   # rows actually tokenized (< rows with --sample)
    tokens: int         # rendered tokens per epoch (extrapolated when sampled)
    tokens_trained: int  # the same, each row cut at max_length as TRL does
    extrapolated: bool


def model_config_path(model_name_or_path: str) -> Path:
    path = Path(model_name_or_path)
    config = path if path.suffix == ".json" else path / "config.json"
    if not config.is_file():
        raise FileNotFoundError(f"model config not found: {config} (a model folder or a config.json)")
    return config


def model_key(model_name_or_path: str) -> str:
    """The name bench/RESULTS.md lines use for a model: its folder's name, lower-cased."""
    path = Path(model_name_or_path)
    return (path.parent if path.suffix == ".json" else path).name.lower()


def trained_vocab_size(config: dict, tokenizer_len: int) -> int:
    """train/model.py grows the embeddings (to a multiple of 64) when the tokenizer is larger than the vocabulary."""
    vocab = config["vocab_size"]
    return vocab if tokenizer_len <= vocab else math.ceil(tokenizer_len / 64) * 64


def count_parameters(config: dict, vocab_size: int | None = None) -> dict:
    """Parameters of a Llama/Qwen-style decoder from its config: GQA attention (+ Qwen3's q/k norms), gated MLP,
    RMSNorms, embeddings and a tied or untied lm_head."""
    d, layers = config["hidden_size"], config["num_hidden_layers"]
    heads, kv_heads = config["num_attention_heads"], config.get("num_key_value_heads", config["num_attention_heads"])
    head_dim = config.get("head_dim") or d // heads
    vocab = vocab_size or config["vocab_size"]
    q_out, kv_out = heads * head_dim, kv_heads * head_dim
    attention = d * q_out + 2 * d * kv_out + q_out * d
    if config.get("attention_bias"):
        attention += q_out + 2 * kv_out + d
    if config.get("model_type") == "qwen3":
        attention += 2 * head_dim  # q_norm, k_norm
    mlp = 3 * d * config["intermediate_size"] + (2 * config["intermediate_size"] + d if config.get("mlp_bias") else 0)
    per_layer = attention + mlp + 2 * d  # input and post-attention RMSNorm
    embedding = vocab * d
    lm_head = 0 if config.get("tie_word_embeddings", False) else vocab * d
    total = embedding + layers * per_layer + d + lm_head
    # the embedding is a lookup (no FLOPs); the output projection is a matmul whether or not it is tied
    return {"total": total, "embedding": embedding, "lm_head_untied": lm_head, "per_layer": per_layer,
            "compute": total - embedding - lm_head + vocab * d, "n_layers": layers, "d_attn": q_out}


def count_tokens(messages: list, tokenizer, max_length: int | None, sample: int | None = None) -> TokenCount:
    """Render with the chat template, tokenize in fast batches; with `sample`, count the first rows (the mix is
    already shuffled) and extrapolate."""
    rows = len(messages)
    counted = messages[:sample] if sample else messages
    lengths: list[int] = []
    for start in range(0, len(counted), TOKENIZE_CHUNK):
        texts = tokenizer.apply_chat_template(list(counted[start:start + TOKENIZE_CHUNK]), tokenize=False)
        lengths += [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
    scale = rows / len(counted) if counted else 0.0
    trained = sum(min(n, max_length) if max_length else n for n in lengths)
    return TokenCount(rows, len(counted), round(sum(lengths) * scale), round(trained * scale), len(counted) < rows)


def measured_throughput(results: Path, key: str, gpu: str) -> tuple[float, str] | None:
    """(tokens/s/GPU, where from) from a `plan-throughput:` line; another GPU's measurement is scaled by peak."""
    if not results.is_file():
        return None
    matches = THROUGHPUT_LINE.finditer(results.read_text(encoding="utf-8"))
    found = [(m[2].lower(), m[3]) for m in matches if m[1].lower() == key]
    for measured_gpu, value in found:
        if measured_gpu == gpu:
            return float(value), f"measured on {gpu} ({results.name})"
    for measured_gpu, value in found:
        if measured_gpu in PEAK_BF16_TFLOPS:
            ratio = PEAK_BF16_TFLOPS[gpu] / PEAK_BF16_TFLOPS[measured_gpu]
            return (float(value) * ratio,
                    f"measured on {measured_gpu} ({results.name}), scaled by peak ratio {ratio:.2f} to {gpu}")
    return None


def throughput_per_gpu(flops_per_token: float, gpu: str, tokens_per_sec: float | None, key: str,
                       results: Path) -> tuple[float, str]:
    if tokens_per_sec:
        return tokens_per_sec, "given (--tokens-per-sec)"
    measured = measured_throughput(results, key, gpu)
    if measured:
        return measured
    value = ASSUMED_MFU * PEAK_BF16_TFLOPS[gpu] * 1e12 / flops_per_token
    return value, (f"ASSUMED: {ASSUMED_MFU:.0%} MFU of {gpu} {PEAK_BF16_TFLOPS[gpu]:.0f} TFLOP/s dense bf16 "
                   f"(no measurement for {key!r} in {results.name})")


def schedule(cfg: RunConfig, count: TokenCount, gpus: int) -> dict:
    """Optimizer steps per epoch and in total, epochs actually run and tokens trained."""
    args = cfg.args
    global_batch = args.per_device_train_batch_size * args.gradient_accumulation_steps * gpus
    rows_per_epoch = math.ceil(count.tokens_trained / args.max_length) if args.packing else count.rows
    steps_per_epoch = max(1, math.ceil(rows_per_epoch / global_batch))
    if args.max_steps and args.max_steps > 0:
        steps, epochs = args.max_steps, args.max_steps / steps_per_epoch
    else:
        epochs = float(args.num_train_epochs)
        steps = math.ceil(steps_per_epoch * epochs)
    return {"global_batch_rows": global_batch, "train_rows_per_epoch": rows_per_epoch,
            "steps_per_epoch": steps_per_epoch, "steps": steps, "epochs": epochs,
            "tokens_total": round(count.tokens_trained * epochs)}


def cuts(plan: dict, max_steps: int) -> list[str]:
    """What to change so the run fits the budget, each with its number."""
    factor = plan["budget_hours"] / plan["wall_hours"]
    if max_steps > 0:
        first = f"max_steps to {math.floor(max_steps * factor)} (from {max_steps})"
    else:
        first = f"num_train_epochs to {math.floor(plan['epochs'] * factor * 100) / 100} (from {plan['epochs']:g})"
    rows = math.floor(plan["rows"] * factor * ROWS_MARGIN)
    return [first,
            f"mix rows to {rows} (from {plan['rows']}: scale every datasets weight by {rows / plan['rows']:.3f})",
            f"GPUs to {math.ceil(plan['gpus'] / factor)} (from {plan['gpus']}, assuming linear scaling)"]


def make_plan(cfg: RunConfig, gpus: int, gpu: str, tokens_per_sec: float | None = None, budget_hours: float = 24.0,
              sample: int | None = None, results: Path = RESULTS_FILE) -> dict:
    from train.data import build_mix
    from train.sft import tokenizer_for

    if gpu not in PEAK_BF16_TFLOPS:
        raise ValueError(f"unknown GPU {gpu!r} ({', '.join(PEAK_BF16_TFLOPS)})")
    dataset, _ = build_mix(cfg.run.datasets, "sft", seed=cfg.args.seed)
    tokenizer = tokenizer_for(cfg)
    count = count_tokens(dataset["messages"], tokenizer, cfg.args.max_length, sample)
    config = json.loads(model_config_path(cfg.run.model_name_or_path).read_text(encoding="utf-8"))
    params = count_parameters(config, trained_vocab_size(config, len(tokenizer)))
    seq_len = cfg.args.max_length
    flops_per_token = 6 * params["compute"] + 6 * params["n_layers"] * seq_len * params["d_attn"]
    key = model_key(cfg.run.model_name_or_path)
    per_gpu, per_gpu_source = throughput_per_gpu(flops_per_token, gpu, tokens_per_sec, key, results)
    steps = schedule(cfg, count, gpus)
    wall_hours = steps["tokens_total"] / (per_gpu * gpus) / 3600
    plan = {"model": cfg.run.model_name_or_path, "params": params["total"], "params_compute": params["compute"],
            **asdict(count), **steps, "seq_len": seq_len, "packing": bool(cfg.args.packing),
            "flops_per_token": flops_per_token, "flops": flops_per_token * steps["tokens_total"],
            "flops_formula": FLOPS_FORMULA, "gpu": gpu, "gpus": gpus, "tokens_per_sec_per_gpu": per_gpu,
            "tokens_per_sec_source": per_gpu_source, "wall_hours": wall_hours, "budget_hours": budget_hours,
            "fits": wall_hours <= budget_hours, "cuts": []}
    if not plan["fits"]:
        plan["cuts"] = cuts(plan, cfg.args.max_steps)
    return plan


def format_plan(plan: dict) -> str:
    sampled = f" (counted {plan['rows_counted']} sampled rows, extrapolated)" if plan["extrapolated"] else ""
    rows_kind = "packed rows (≈ tokens / max_length)" if plan["packing"] else "rows"
    table = [
        ("mix rows", f"{plan['rows']:,}{sampled}"),
        ("tokens / epoch", f"{plan['tokens']:,} rendered, {plan['tokens_trained']:,} after max_length cut"),
        ("epochs", f"{plan['epochs']:g}"),
        ("tokens trained", f"{plan['tokens_total']:,}"),
        ("params N", f"{plan['params']:,} ({plan['params_compute']:,} in matmuls: embedding lookup excluded, "
                     "lm_head included)"),
        ("FLOPs", f"{plan['flops']:.3e} ({plan['flops_per_token']:.3e} / token)"),
        ("  formula", plan["flops_formula"] + f" = {plan['seq_len']}"),
        ("tokens/s/GPU", f"{plan['tokens_per_sec_per_gpu']:,.0f}: {plan['tokens_per_sec_source']}"),
        ("GPUs", f"{plan['gpus']} x {plan['gpu']}"),
        ("steps", f"{plan['steps']:,} ({plan['steps_per_epoch']:,} / epoch; {plan['train_rows_per_epoch']:,} "
                  f"{rows_kind} / epoch, {plan['global_batch_rows']} per step)"),
        ("wall time", f"{plan['wall_hours']:.2f} h"),
        ("budget", f"{plan['budget_hours']:g} h: " + ("fits" if plan["fits"] else "DOES NOT FIT")),
    ]
    width = max(len(name) for name, _ in table)
    lines = [f"{name:<{width}}  {value}" for name, value in table]
    if plan["cuts"]:
        lines.append("to fit, one of:")
        lines += [f"  - {cut}" for cut in plan["cuts"]]
    return "\n".join(lines)


def add_plan(sub) -> None:
    p = sub.add_parser("plan", help="predict tokens, FLOPs, steps and wall time of an SFT recipe against a budget",
                       description="Count the mix's tokens with the run's tokenizer and chat template, compute "
                       "training FLOPs (6N + attention) and, with a measured or given throughput, the steps and "
                       "wall time on the given GPUs; say whether it fits the budget and what to cut if not.")
    p.add_argument("--config", required=True, metavar="RECIPE.yaml", help="SFT run recipe")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="override recipe fields")
    p.add_argument("--gpus", type=int, help="number of GPUs (default: the recipe's num_gpus)")
    p.add_argument("--gpu", choices=sorted(PEAK_BF16_TFLOPS), default="h100", help="GPU type (default h100)")
    p.add_argument("--tokens-per-sec", type=float, help="measured tokens/s per GPU (default: bench/RESULTS.md, "
                   f"else {ASSUMED_MFU * 100:.0f}%% MFU)")
    p.add_argument("--budget-hours", type=float, default=24.0, help="wall-time budget (default 24)")
    p.add_argument("--sample", type=int, help="tokenize only N rows of the mix and extrapolate")
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p.set_defaults(handler=run_plan)


def run_plan(args) -> int:
    cfg = load_run_config("sft", args.config, args.overrides)
    plan = make_plan(cfg, args.gpus or cfg.run.num_gpus, args.gpu, args.tokens_per_sec, args.budget_hours,
                     args.sample)
    print(json.dumps(plan, indent=2) if args.json else format_plan(plan))
    return 0
