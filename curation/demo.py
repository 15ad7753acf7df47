"""`mixlab demo`: write the seeded demo corpus, curate it, show the card and reconciled counts, then train tiny models.

    mixlab demo --output runs/demo                 # what `make demo` runs (CPU, about 1.5 minutes on 2 cores)
    mixlab demo --output runs/demo --skip-train    # curation only (about 10 s)

The training part is a smoke run of the real SFT, DPO and GRPO paths (configs/tiny/*.yaml: a random-init tiny
Qwen3 with the real Qwen3 tokenizer) on the curated demo data, not a useful model. GRPO trains on the demo's
arithmetic word problems turned into RL records (configs/curation/rl_math.yaml: prompt + `math` verifier).
"""

from __future__ import annotations

import time
from pathlib import Path

from curation.demo_corpus import write_demo_corpus
from curation.pipeline import curate
from curation.recipe import CurationRecipe
from mixlab.recipe import load_recipe

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
DEFAULT_RECIPE = CONFIGS / "curation" / "sft.yaml"
RL_RECIPE = CONFIGS / "curation" / "rl_math.yaml"


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
    from datacards.terminal import render_terminal

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
    total = card["counts"]["total"]
    print(f"\nreconciled: in {total['in']} = kept {total['kept']} + removed {total['removed']} "
          f"+ quarantined {total['quarantined']}")
    print(f"datacard: {out / 'curated' / 'datacard.md'} (mixlab card {out / 'curated'} --html for a page)")
    if not skip_train:
        train_tiny(out)
    print(f"demo finished in {time.monotonic() - started:.0f}s")
    return 0
