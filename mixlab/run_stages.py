"""The stage kinds a `mixlab run` pipeline can name: how each becomes a command, what it reads, when it is done.

    kind = STAGE_KINDS[stage.kind]                  # e.g. "curate", "sft", "eval"
    kind.validate(stage)                            # load its recipe with the stage's real loader (errors: file:line)
    argv = kind.command(stage, mode)                # ["curate", ...] for `python -m mixlab.cli`; mode fresh|resume|redo
    kind.inputs(stage), kind.recipe(stage), kind.done(stage)

Kinds and their pipeline fields, besides name, run, output, env and estimate (e.g. `estimate: 6.5h`, used for ETAs
until the stage has run once), which every stage has:
demo-corpus (records, seed), init-model (config, tokenizer, seed), curate (inputs, recipe, workers, set, args),
decontam (inputs, benchmarks, benchmark_dir, workers, args), synth (task, inputs, model, args), sft | dpo | grpo
(recipe, model, datasets, num_gpus, set, budget_hours, plan_model_config), eval (model, suite, tasks, limit,
benchmark_dir, set, args), compare (inputs), report (inputs). A rerun after a change ("redo") passes --force to the
stages that refuse another run's folder and clears a training stage's output_dir; a rerun of an interrupted stage
with the same inputs ("resume") lets curate, decontam and synth resume their own work and passes --resume to
training when a checkpoint exists.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

from mixlab.recipe import RecipeError, apply_overrides, read_yaml

COMMON_FIELDS = ("name", "run", "output", "env", "estimate")
TRAINERS = ("sft", "dpo", "grpo")


@dataclass
class Stage:
    name: str
    kind: str
    spec: dict           # the pipeline's fields for this stage, ${...} already substituted
    output: Path
    deps: list[str]      # earlier stages whose output this one reads
    where: str           # "PIPELINE.yaml:LINE", for messages

    def field(self, key: str, default=None):
        return self.spec.get(key, default)

    def strings(self, key: str) -> list[str]:
        value = self.spec.get(key) or []
        return [str(v) for v in ([value] if isinstance(value, (str, int, float)) else value)]


def stage_error(stage: Stage, message: str) -> RecipeError:
    return RecipeError(f"{stage.where}: stage '{stage.name}': {message}")


def manifest_complete(folder: Path) -> bool:
    path = folder / "manifest.json"
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("status") == "complete"
    except (OSError, ValueError):
        return False


def repeated(flag: str, values: list[str]) -> list[str]:
    return [item for value in values for item in (flag, value)]


def option(flag: str, value) -> list[str]:
    return [] if value is None else [flag, str(value)]


class StageKind:
    fields: tuple[str, ...] = ()
    force_flag: str | None = None   # the stage's own "start over" flag, passed on a redo

    def command(self, stage: Stage, mode: str) -> list[str]:
        argv = self.base_command(stage)
        return argv + ([self.force_flag] if mode == "redo" and self.force_flag else [])

    def base_command(self, stage: Stage) -> list[str]:
        raise NotImplementedError

    def module(self) -> str:
        """The Python module the command runs (`python -m MODULE ARGV`)."""
        return "mixlab.cli"

    def inputs(self, stage: Stage) -> list[str]:
        return stage.strings("inputs")

    def recipe(self, stage: Stage) -> dict | None:
        """The stage's resolved recipe (hashed with its command); None for stages configured by flags only."""
        return None

    def validate(self, stage: Stage) -> None:
        self.recipe(stage)

    def done(self, stage: Stage) -> bool:
        raise NotImplementedError

    def prepare(self, stage: Stage, mode: str) -> None:
        """Anything to do to the output folder before the command runs."""


class DemoCorpusKind(StageKind):
    fields = ("records", "seed")

    def module(self) -> str:
        return "curation.demo"

    def base_command(self, stage):
        return ["--output", str(stage.output), *option("--records", stage.field("records")),
                *option("--seed", stage.field("seed"))]

    def inputs(self, stage):
        return []

    def done(self, stage):
        return (stage.output / "inputs.json").is_file()


class InitModelKind(StageKind):
    """A random-init base model folder from a config.json (the demo's base checkpoint; train/init_model.py)."""
    fields = ("config", "tokenizer", "seed")

    def module(self) -> str:
        return "train.init_model"

    def base_command(self, stage):
        if not stage.field("config"):
            raise stage_error(stage, "field 'config' is required (a model config.json)")
        return ["--config", str(stage.field("config")), "--output", str(stage.output),
                *option("--tokenizer", stage.field("tokenizer")), *option("--seed", stage.field("seed"))]

    def inputs(self, stage):
        return stage.strings("config")

    def done(self, stage):
        return all((stage.output / name).is_file() for name in ("config.json", "model.safetensors",
                                                                  "generation_config.json"))


class CurateKind(StageKind):
    fields = ("inputs", "recipe", "workers", "set", "args")
    force_flag = "--force"

    def base_command(self, stage):
        return ["curate", *stage.strings("inputs"), "--output", str(stage.output),
                *option("--recipe", stage.field("recipe")), *option("--workers", stage.field("workers")),
                *repeated("--set", stage.strings("set")),
                *stage.strings("args")]

    def recipe(self, stage):
        from curation.recipe import CurationRecipe
        from mixlab.recipe import load_recipe, recipe_to_dict

        return recipe_to_dict(load_recipe(CurationRecipe, stage.field("recipe"), stage.strings("set")))

    def done(self, stage):
        return manifest_complete(stage.output) and (stage.output / "datacard.json").is_file()


class DecontamKind(StageKind):
    fields = ("inputs", "benchmarks", "benchmark_dir", "workers", "args")
    force_flag = "--force"

    def base_command(self, stage):
        benchmarks = ",".join(stage.strings("benchmarks")) or None
        return ["decontam", *stage.strings("inputs"), "--output", str(stage.output),
                *option("--benchmarks", benchmarks), *option("--benchmark-dir", stage.field("benchmark_dir")),
                *option("--workers", stage.field("workers")), *stage.strings("args")]

    def inputs(self, stage):
        return stage.strings("inputs") + stage.strings("benchmark_dir")

    def done(self, stage):
        return manifest_complete(stage.output) and (stage.output / "report.json").is_file()


class SynthKind(StageKind):
    fields = ("task", "inputs", "model", "args")
    force_flag = "--force"

    def base_command(self, stage):
        if not stage.field("task"):
            raise stage_error(stage, "field 'task' is required (cot, respond, ifeval-prompts or preference)")
        return ["synth", str(stage.field("task")), "--input", *stage.strings("inputs"),
                "--output", str(stage.output), *option("--model", stage.field("model")), *stage.strings("args")]

    def inputs(self, stage):
        return stage.strings("inputs") + stage.strings("model")

    def done(self, stage):
        return manifest_complete(stage.output)


class TrainKind(StageKind):
    fields = ("recipe", "model", "datasets", "num_gpus", "set", "budget_hours", "plan_model_config")

    def __init__(self, trainer: str):
        self.trainer = trainer

    def overrides(self, stage: Stage) -> list[str]:
        generated = [f"output_dir={stage.output}"]
        if stage.field("model") is not None:
            generated.append(f"model_name_or_path={stage.field('model')}")
        if stage.field("datasets") is not None:
            flow = yaml.safe_dump(stage.field("datasets"), default_flow_style=True, width=1 << 16).strip()
            generated.append(f"datasets={flow}")
        return generated + stage.strings("set")

    def recipe_path(self, stage: Stage) -> str:
        if not stage.field("recipe"):
            raise stage_error(stage, f"field 'recipe' is required (e.g. configs/tiny/{self.trainer}.yaml)")
        return str(stage.field("recipe"))

    def base_command(self, stage):
        return ["train", self.trainer, "--config", self.recipe_path(stage),
                *option("--num-gpus", stage.field("num_gpus")), *self.overrides(stage)]

    def command(self, stage, mode):
        argv = self.base_command(stage)
        resumable = mode == "resume" and any(stage.output.glob("checkpoint-*"))
        return argv + (["--resume"] if resumable else [])

    def recipe(self, stage):
        return apply_overrides(read_yaml(self.recipe_path(stage)), self.overrides(stage))

    def validate(self, stage):
        from train.config import load_run_config

        load_run_config(self.trainer, self.recipe_path(stage), self.overrides(stage))

    def inputs(self, stage):
        resolved = self.recipe(stage)
        paths = [str(resolved.get("model_name_or_path") or "")]
        tokenizer = resolved.get("tokenizer_name_or_path")
        if tokenizer and Path(tokenizer).exists():
            paths.append(str(tokenizer))
        for entry in resolved.get("datasets") or []:
            paths.append(str(entry["path"] if isinstance(entry, dict) else entry))
        return [p for p in paths if p]

    def done(self, stage):
        weights = (stage.output / "model.safetensors").is_file() or (
            stage.output / "model.safetensors.index.json").is_file()
        return weights and all((stage.output / name).is_file() for name in ("config.json", "generation_config.json"))

    def prepare(self, stage, mode):
        if mode == "redo" and stage.output.is_dir():  # another run's checkpoints must not be resumed from
            shutil.rmtree(stage.output)


class EvalKind(StageKind):
    fields = ("model", "suite", "tasks", "limit", "benchmark_dir", "set", "args")

    def base_command(self, stage):
        if not stage.field("model"):
            raise stage_error(stage, "field 'model' is required (a model folder, e.g. ${sft})")
        tasks = stage.strings("tasks")
        return ["eval", str(stage.field("model")), "--output", str(stage.output),
                *option("--suite", stage.field("suite")), *(["--tasks", *tasks] if tasks else []),
                *option("--limit", stage.field("limit")), *option("--benchmark-dir", stage.field("benchmark_dir")),
                *repeated("--set", stage.strings("set")), *stage.strings("args")]

    def recipe(self, stage):
        from eval.suite import load_suite, suite_path

        suite = str(stage.field("suite") or "mission")
        load_suite(suite, stage.strings("set"))  # the real loader's checks
        return apply_overrides(read_yaml(suite_path(suite)), stage.strings("set"))

    def inputs(self, stage):
        return stage.strings("model") + stage.strings("benchmark_dir")

    def done(self, stage):
        return all((stage.output / name).is_file() for name in ("summary.json", "eval.json", "report.md"))


class CompareKind(StageKind):
    fields = ("inputs",)

    def base_command(self, stage):
        return ["eval", "compare", *stage.strings("inputs"), "--output", str(stage.output)]

    def done(self, stage):
        return all((stage.output / name).is_file() for name in ("compare.md", "compare.png"))


class ReportKind(StageKind):
    fields = ("inputs",)

    def base_command(self, stage):
        return ["report", *stage.strings("inputs"), "--output", str(stage.output / "report")]

    def done(self, stage):
        return all((stage.output / name).is_file() for name in ("report.html", "report.pdf"))


STAGE_KINDS: dict[str, StageKind] = {
    "demo-corpus": DemoCorpusKind(), "init-model": InitModelKind(), "curate": CurateKind(),
    "decontam": DecontamKind(), "synth": SynthKind(),
    **{trainer: TrainKind(trainer) for trainer in TRAINERS},
    "eval": EvalKind(), "compare": CompareKind(), "report": ReportKind(),
}


def allowed_fields(kind: str) -> tuple[str, ...]:
    return COMMON_FIELDS + STAGE_KINDS[kind].fields
