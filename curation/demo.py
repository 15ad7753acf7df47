"""`mixlab demo`: write the seeded demo corpus, curate it, show the card and reconciled counts, then train tiny models.

    mixlab demo --output runs/demo                 # corpus, curation and tiny SFT, DPO, GRPO in one process
    mixlab demo --output runs/demo --skip-train    # curation only (about 10 s)
    python -m curation.demo --output runs/demo-pipeline/corpus   # only the inputs (corpus + tiny benchmarks): the
                                                   # `corpus` stage of configs/demo/pipeline.yaml (`make demo`)

The training part is a smoke run of the real SFT, DPO and GRPO paths (configs/tiny/*.yaml: a random-init tiny
Qwen3 with the real Qwen3 tokenizer) on the curated demo data, not a useful model. GRPO trains on the demo's
arithmetic word problems turned into RL records (configs/curation/rl_math.yaml: prompt + `math` verifier).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq

from curation.demo_corpus import write_demo_corpus
from curation.pipeline import curate
from curation.recipe import CurationRecipe
from mixlab.recipe import load_recipe

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
DEFAULT_RECIPE = CONFIGS / "curation" / "sft.yaml"
RL_RECIPE = CONFIGS / "curation" / "rl_math.yaml"
PLANTED_TEST_ITEMS = 4   # demo math questions copied into the demo gsm8k "test set": decontam must remove them
# hand-written GSM8K-style items unlike the corpus templates (template-made ones would share their 8-grams)
GSM8K_ITEMS = [
    ("A farmer has 14 cows and buys 9 more. Then 5 of his cows are sold. How many cows does he have now?",
     "14 + 9 = 23 cows after buying.\n23 - 5 = 18 cows are left.\n#### 18"),
    ("A train carriage seats 64 people. How many people can 7 carriages seat?", "64 * 7 = 448 people.\n#### 448"),
    ("Mia splits 96 stickers equally among her 8 cousins. How many stickers does each cousin get?",
     "96 / 8 = 12 stickers each.\n#### 12"),
    ("A pond had 40 ducks. Half of them flew away and then 7 new ducks landed. How many ducks are on the pond?",
     "40 / 2 = 20 ducks stayed.\n20 + 7 = 27 ducks.\n#### 27"),
    ("Omar's phone battery lasts 16 hours. A new battery lasts 25% longer. How many hours does it last?",
     "25% of 16 is 16 * 0.25 = 4 hours.\n16 + 4 = 20 hours.\n#### 20"),
    ("A library lends 35 books on Monday and twice as many on Tuesday. How many books does it lend on both days?",
     "35 * 2 = 70 books on Tuesday.\n35 + 70 = 105 books.\n#### 105"),
]
# hand-written ARC-style items (lm-eval's ARC fields) for a log-likelihood task in the demo's eval
ARC_ITEMS = [
    ("Which gas do plants take in from the air for photosynthesis?",
     ["oxygen", "nitrogen", "carbon dioxide", "helium"], "C"),
    ("What is the boiling point of water at sea level?", ["50 C", "100 C", "150 C", "200 C"], "B"),
    ("Which planet is closest to the Sun?", ["Mercury", "Venus", "Earth", "Mars"], "A"),
    ("Which form of energy does a stretched rubber band store?", ["elastic potential", "nuclear", "sound", "light"],
     "A"),
    ("What do roots mainly do for a plant?", ["make seeds", "take in water", "catch light", "make pollen"], "B"),
    ("Which tool measures air temperature?", ["barometer", "ruler", "thermometer", "scale"], "C"),
    ("What causes day and night on Earth?", ["the Moon's orbit", "clouds", "the Sun's orbit", "Earth's rotation"],
     "D"),
    ("Which material conducts electricity best?", ["wood", "copper", "rubber", "glass"], "B"),
]


def found_by_reason(card: dict) -> dict[str, int]:
    """removed/quarantined counts keyed like the corpus' `planted` dict (repetition:* folded into repetition)."""
    found: dict[str, int] = {}
    for step in card["steps"].values():
        for reason, info in step["reasons"].items():
            key = "repetition" if reason.startswith("repetition:") else reason
            found[key] = found.get(key, 0) + info["count"]
    for error, info in (card.get("quarantine") or {}).get("errors", {}).items():
        found[error] = found.get(error, 0) + info["count"]
    return found


def planted_table(planted: dict[str, int], found: dict[str, int]) -> str:
    lines = [f"{'planted problem':<28}{'planted':>9}{'caught':>9}", "-" * 46]
    for reason, count in sorted(planted.items()):
        mark = "" if found.get(reason, 0) == count else "  ≠"
        lines.append(f"{reason:<28}{count:>9}{found.get(reason, 0):>9}{mark}")
    extra = sorted(set(found) - set(planted))
    for reason in extra:
        lines.append(f"{reason:<28}{0:>9}{found[reason]:>9}  (not planted)")
    return "\n".join(lines)


def curate_rl_prompts(out: Path) -> Path:
    """The demo's arithmetic word problems (raw/math.parquet) as RL records in OUTPUT/rl, for the tiny GRPO."""
    recipe = load_recipe(CurationRecipe, str(RL_RECIPE))
    card = curate([str(out / "raw" / "math.parquet")], str(out / "rl"), recipe, recipe_path=str(RL_RECIPE),
                  force=True, command=f"mixlab curate {out / 'raw' / 'math.parquet'} --recipe {RL_RECIPE}",
                  progress=lambda *_: None)
    print(f"rl prompts: {card['counts']['total']['kept']} math problems with a math verifier in {out / 'rl'}")
    return out / "rl"


def train_tiny(out: Path) -> None:
    """Tiny SFT on the curated sft records, then DPO and GRPO (math verifier) of that model."""
    import json

    from train.launch import launch

    data = out / "curated"
    rl = curate_rl_prompts(out)
    runs = [("sft", [f"datasets=[{{path: {data}, weight: 0.1}}]", f"output_dir={out / 'sft'}"]),
            ("dpo", [f"datasets=[{{path: {data}, weight: 0.25}}]", f"output_dir={out / 'dpo'}",
                     f"model_name_or_path={out / 'sft'}"]),
            ("grpo", [f"datasets=[{{path: {rl}, rows: 32}}]", f"output_dir={out / 'grpo'}",
                      f"model_name_or_path={out / 'sft'}"])]
    for trainer, overrides in runs:
        started = time.monotonic()
        code = launch(trainer, str(CONFIGS / "tiny" / f"{trainer}.yaml"), overrides, num_gpus=1)
        if code:
            raise RuntimeError(f"tiny {trainer} failed with exit code {code}")
        logged = [json.loads(line) for line in (out / trainer / "metrics.jsonl").read_text().splitlines()]
        losses = [m["loss"] for m in logged if "loss" in m]
        margins = [m["rewards/margins"] for m in logged if "rewards/margins" in m]
        rewards = [m["reward"] for m in logged if "reward" in m]
        detail = f"loss {losses[0]:.3f} -> {losses[-1]:.3f}" if losses else ""
        if margins:
            detail += f", reward margin {margins[0]:.3f} -> {margins[-1]:.3f}"
        if rewards:
            detail += f", mean reward {rewards[0]:.3f} -> {rewards[-1]:.3f}"
        print(f"tiny {trainer}: {detail} in {time.monotonic() - started:.0f}s; model in {out / trainer} "
              f"(plot: {out / trainer / 'plots' / 'loss.png'})")


def run_demo(output: str, records: int = 3000, seed: int = 0, workers: int | None = None,
             skip_train: bool = False) -> int:
    from datacards.terminal import reconciled_line, render_terminal

    started = time.monotonic()
    out = Path(output)
    corpus = write_demo_corpus(out / "raw", seed=seed, n_records=records)
    print(f"demo corpus: {corpus['records']} rows in {len(corpus['files'])} files under {out / 'raw'}")
    recipe_path = str(DEFAULT_RECIPE) if DEFAULT_RECIPE.exists() else None
    recipe = load_recipe(CurationRecipe, recipe_path)
    inputs = [str(out / "raw" / name) for name in corpus["files"]]
    card = curate(inputs, str(out / "curated"), recipe, recipe_path=recipe_path, workers=workers, force=True,
                  command=f"mixlab demo --output {output}")
    print(render_terminal(card))
    print()
    print(planted_table(corpus["planted"], found_by_reason(card)))
    print(f"\nreconciled: {reconciled_line(card)}")
    print(f"datacard: {out / 'curated' / 'datacard.md'} (mixlab card {out / 'curated'} --html for a page)")
    if not skip_train:
        train_tiny(out)
    print(f"demo finished in {time.monotonic() - started:.0f}s")
    return 0


def write_demo_benchmarks(bdir: Path, corpus_dir: Path) -> dict:
    """A tiny offline --benchmark-dir with lm-eval's field names: gsm8k.jsonl (a few demo math questions planted as
    test items, so decontam has something to find, plus fresh problems) and arc_challenge.jsonl."""
    bdir.mkdir(parents=True, exist_ok=True)
    math = pq.read_table(corpus_dir / "math.parquet").to_pylist()[:PLANTED_TEST_ITEMS]
    gsm8k = [{"question": row["question"], "answer": row["answer"]} for row in math]
    gsm8k += [{"question": question, "answer": answer} for question, answer in GSM8K_ITEMS]
    arc = [{"id": f"demo_{i}", "question": q, "choices": {"text": choices, "label": list("ABCD")}, "answerKey": key}
           for i, (q, choices, key) in enumerate(ARC_ITEMS)]
    for name, rows in (("gsm8k", gsm8k), ("arc_challenge", arc)):
        (bdir / f"{name}.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return {"gsm8k": len(gsm8k), "arc_challenge": len(arc), "planted_in_corpus": len(math)}


def write_demo_inputs(output: str | Path, records: int = 3000, seed: int = 0) -> dict:
    """OUTPUT/raw (the corpus), OUTPUT/benchmarks (the tiny test sets) and OUTPUT/inputs.json, written last."""
    out = Path(output)
    corpus = write_demo_corpus(out / "raw", seed=seed, n_records=records)
    benchmarks = write_demo_benchmarks(out / "benchmarks", out / "raw")
    info = {"records": corpus["records"], "files": corpus["files"], "planted": corpus["planted"],
            "benchmarks": benchmarks}
    (out / "inputs.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    print(f"demo corpus: {corpus['records']} rows in {len(corpus['files'])} files under {out / 'raw'}; planted: "
          + ", ".join(f"{k} {v}" for k, v in sorted(corpus["planted"].items())))
    print(f"demo benchmarks: {benchmarks['gsm8k']} gsm8k items ({benchmarks['planted_in_corpus']} of them copied "
          f"from the corpus, for decontam to find), {benchmarks['arc_challenge']} arc_challenge items under "
          f"{out / 'benchmarks'}")
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m curation.demo",
                                     description="Write the demo pipeline's inputs: the seeded corpus and a tiny "
                                     "benchmark folder (gsm8k with planted contamination, arc_challenge).")
    parser.add_argument("--output", required=True, help="folder: raw/, benchmarks/, inputs.json")
    parser.add_argument("--records", type=int, default=3000, help="corpus size (default: 3000)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    write_demo_inputs(args.output, args.records, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
