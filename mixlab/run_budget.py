"""The budget line `mixlab run --dry-run` prints per training stage: `mixlab plan` (train/plan.py) on its recipe.

    budget_line(stage, gpu="h100")   # "1,234,567 tokens, 300 steps, 5.80 h on 4 x h100 (...): fits the 24 h budget"

The stage's own overrides (output_dir, model, datasets, set) are applied, as in the real run. When the model folder
is not on this machine (e.g. /afs/share/Qwen3-4B-Base seen from a laptop), the stage's `plan_model_config` (a
config.json of the same architecture) stands in for it, with the packaged Qwen3 tokenizer; without one, or while the
mix is not built yet, the estimate is "unknown" with the reason. `mixlab plan` covers SFT recipes only.
"""

from __future__ import annotations

from pathlib import Path

from mixlab.run_pipeline import estimate_seconds
from mixlab.run_stages import STAGE_KINDS, Stage

PLAN_SAMPLE_ROWS = 20000   # rows tokenized per mix; the rest extrapolated (plan's --sample)
DEFAULT_BUDGET_HOURS = 24.0


def budget_line(stage: Stage, gpu: str) -> str:
    text = plan_text(stage, gpu) if stage.kind == "sft" else "no estimate: mixlab plan covers SFT recipes"
    declared = estimate_seconds(stage.field("estimate"))
    if declared is None:
        return text
    budget = float(stage.field("budget_hours", DEFAULT_BUDGET_HOURS))
    verdict = "within" if declared <= budget * 3600 else "OVER"
    return f"{text}; pipeline estimate {stage.field('estimate')}, {verdict} the {budget:g} h budget"


def plan_config(stage: Stage):
    """(RunConfig for plan, note) with the plan_model_config stand-in when the model folder is absent."""
    from train.config import load_run_config

    kind = STAGE_KINDS[stage.kind]
    recipe, overrides = kind.recipe_path(stage), kind.overrides(stage)
    cfg = load_run_config("sft", recipe, overrides)
    model = cfg.run.model_name_or_path
    if Path(model).exists():
        return cfg, ""
    stand_in = stage.field("plan_model_config")
    if not stand_in:
        raise FileNotFoundError(f"model {model} is not here (set the stage's plan_model_config to a config.json of "
                                "the same architecture)")
    if not Path(stand_in).is_file():
        raise FileNotFoundError(f"plan_model_config {stand_in} not found")
    cfg = load_run_config("sft", recipe, [*overrides, f"model_name_or_path={stand_in}"])
    return cfg, f"; {model} is not here: architecture from {stand_in}"


def plan_text(stage: Stage, gpu: str) -> str:
    from mixlab.recipe import RecipeError
    from train.plan import make_plan

    budget = float(stage.field("budget_hours", DEFAULT_BUDGET_HOURS))
    try:
        cfg, note = plan_config(stage)
        missing = [str(entry["path"] if isinstance(entry, dict) else entry) for entry in cfg.run.datasets
                   if not Path(entry["path"] if isinstance(entry, dict) else entry).exists()]
        if missing:
            return f"unknown until the mix exists ({missing[0]} is not built yet)"
        gpus = int(stage.field("num_gpus") or cfg.run.num_gpus)
        plan = make_plan(cfg, gpus, gpu, budget_hours=budget, sample=PLAN_SAMPLE_ROWS)
    except (FileNotFoundError, RecipeError, ValueError, OSError) as err:
        return f"unknown: {err}"
    verdict = f"fits the {budget:g} h budget" if plan["fits"] else f"DOES NOT FIT the {budget:g} h budget"
    cut = f" (to fit: {plan['cuts'][0]})" if plan["cuts"] else ""
    hours = plan["wall_hours"]
    wall = f"{hours:.2f} h" if hours >= 0.01 else f"{hours * 3600:.1f} s"
    return (f"{plan['tokens_total']:,} tokens, {plan['steps']:,} steps, {wall} on {gpus} x {gpu} "
            f"at {plan['tokens_per_sec_per_gpu']:,.0f} tokens/s/GPU ({plan['tokens_per_sec_source']}{note}): "
            f"{verdict}{cut}")
