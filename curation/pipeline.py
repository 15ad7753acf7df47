"""`mixlab curate`: run the datatrove pipeline (prepare → minhash buckets → clusters → finalize), then the card.

    mixlab curate data/raw/*.jsonl hf_dump/ --output runs/sft-mix --recipe configs/curation/sft.yaml

Stages run one after another on datatrove executors (local by default; Slurm when the recipe says so). Every
stage logs to DIR/logs/<stage>/ and skips its completed tasks, so rerunning a killed command finishes the job
with the same bytes; `--force` starts over. The task count depends on the inputs only, never on --workers.
A recipe with `quality`, `dedup.semantic` or `select` on adds a one-task "select" stage before finalize
(curation/selection/).
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupBuckets
from datatrove.utils.hashing import HashConfig
from datatrove.utils.text import TextNormConfig
from tqdm import tqdm

import curation.dependency_check  # noqa: F401  (datatrove's dependency checks: a lookup, not a scan)
from curation.dedup.apply import DedupDecisionFilter, FilteredReader
from curation.dedup.cluster import DedupClusterer
from curation.dedup.signature import DedupSignature
from curation.filters import build_filters
from curation.read import ChatRecordReader, InputSpec, detect_formats, discover_inputs
from curation.recipe import CurationRecipe
from curation.selection.config import check_selection_recipe, selection_enabled
from curation.worker_server import start_worker_server
from curation.writers import FilteredWriter, KeptWriter, RemovedWriter
from mixlab.manifest import RunManifest
from mixlab.recipe import recipe_to_dict


@dataclass
class Stage:
    name: str
    pipeline: list
    tasks: int


def minhash_config(recipe: CurationRecipe) -> MinhashConfig:
    m = recipe.dedup.minhash
    # numbers are kept: two word problems that differ only in their numbers are different problems
    return MinhashConfig(n_grams=m.n_grams, num_buckets=m.num_buckets, hashes_per_bucket=m.hashes_per_bucket,
                         seed=m.seed, norm_config=TextNormConfig(norm_numbers=False),
                         hash_config=HashConfig(precision=32))


def build_stages(files, formats, recipe: CurationRecipe, out: Path, tasks: int, tokenizer: str | None) -> list[Stage]:
    work = out / "work"
    spec = InputSpec(**vars(recipe.input))
    reader = ChatRecordReader(files, formats, spec, quarantine_dir=str(out / "quarantine"),
                              counts_dir=str(work / "counts"))
    steps = [reader, *build_filters(recipe.filters, tokenizer=tokenizer or recipe.tokenizer,
                                    exclusion_writer_factory=lambda name: RemovedWriter(str(out / "removed"),
                                                                                        f"filter-{name}"))]
    if recipe.decontam.enabled:
        from decontam.run import decontam_filter

        steps.append(decontam_filter(recipe.decontam, out))
    kept = KeptWriter(str(out / "data"), flagged=recipe.decontam.enabled and recipe.decontam.mode == "flag")
    if not (recipe.dedup.exact.enabled or recipe.dedup.minhash.enabled or selection_enabled(recipe)):
        return [Stage("prepare", [*steps, kept], tasks)]
    return dedup_stages(steps, kept, recipe, work, out, tasks, tokenizer or recipe.tokenizer)


def dedup_stages(steps: list, kept: KeptWriter, recipe: CurationRecipe, work: Path, out: Path, tasks: int,
                 tokenizer: str | None = None):
    """prepare → [minhash_buckets] → [dedup_cluster] → [select] → finalize, as the recipe enables them."""
    config = minhash_config(recipe)
    minhash_on = recipe.dedup.minhash.enabled
    dedup_on = recipe.dedup.exact.enabled or minhash_on
    prepare = [*steps, FilteredWriter(str(work / "filtered"))]
    if dedup_on:
        prepare.append(DedupSignature(str(work / "dedup" / "sigs"), str(work / "dedup" / "keys"), config,
                                      recipe.dedup.exact.key, recipe.dedup.minhash.verify_hashes))
    stages = [Stage("prepare", prepare, tasks)]
    if minhash_on:
        stages.append(Stage("minhash_buckets", [MinhashDedupBuckets(str(work / "dedup" / "sigs"),
                                                                    str(work / "dedup" / "buckets"), config=config)],
                            config.num_buckets))
    finalize = [FilteredReader(str(work / "filtered"))]
    if dedup_on:
        stages.append(Stage("dedup_cluster", [DedupClusterer(str(work / "dedup" / "keys"),
                                                             str(work / "dedup" / "buckets") if minhash_on else None,
                                                             str(work / "dedup"), recipe.dedup.minhash.threshold,
                                                             recipe.dedup.exact.enabled, tasks)], 1))
        finalize.append(DedupDecisionFilter(str(work / "dedup" / "decisions"),
                                            exclusion_writer=RemovedWriter(str(out / "removed"), "dedup")))
    if selection_enabled(recipe):
        from curation.selection.stage import SelectionFilter, SelectionStage

        stages.append(Stage("select", [SelectionStage(str(work), tasks, recipe.quality, recipe.dedup.semantic,
                                                      recipe.select, tokenizer)], 1))
        finalize.append(SelectionFilter(str(work / "select" / "decisions"), recipe.quality.field,
                                        exclusion_writer=RemovedWriter(str(out / "removed"), "select")))
    return [*stages, Stage("finalize", [*finalize, kept], tasks)]


def warnings_only_console() -> None:
    import datatrove.utils.logging as dt_logging

    dt_logging.logger.remove()
    dt_logging.logger.add(sys.stderr, level="WARNING", colorize=dt_logging.DATATROVE_COLORIZE_LOGS)


def quiet_datatrove_console() -> None:
    """datatrove prints each task's pipeline, stats and progress to the console; keep only warnings there.

    Task logs and stats still go to DIR/logs/<stage>/ in full. datatrove re-adds its DEBUG console sink after every
    task via datatrove.utils.logging.setup_default_logger, so that hook is replaced (in each worker process too).
    """
    import datatrove.utils.logging as dt_logging

    dt_logging.setup_default_logger = warnings_only_console
    warnings_only_console()


@functools.cache  # one thread per process, however many stages leave a core free
def preload_card_modules() -> None:
    """Import the datacard's modules (matplotlib: ~1 s) in a background thread while the stages run; this process
    only waits for its workers then, and the card needs them right after the last stage."""
    def load():
        import datacards.build  # noqa: F401
        import datacards.plots  # noqa: F401

    threading.Thread(target=load, daemon=True, name="preload-card").start()


def run_local(stages: list[Stage], out: Path, workers: int, progress, verbose: bool = False) -> None:
    from datatrove.executor import LocalPipelineExecutor

    class Executor(LocalPipelineExecutor):
        def _run_for_rank(self, rank: int, local_rank: int = 0, node_rank: int = -1):
            if verbose:
                return super()._run_for_rank(rank, local_rank, node_rank)
            quiet_datatrove_console()
            # datatrove: "any task with local_rank != 0 will not print logs to console" (its files keep them)
            return super()._run_for_rank(rank, 1, node_rank)

    if not verbose:
        quiet_datatrove_console()
    for i, stage in enumerate(stages, 1):
        started = time.monotonic()
        if stage.tasks < workers:
            preload_card_modules()  # a core is free while this stage runs
        # a one-task stage still runs in a worker forked from the server (datatrove runs workers=1 in this
        # process, which would then import what the server has preloaded: pandas, pyarrow's dataset, ~1 s)
        stage_workers = min(workers, max(stage.tasks, 2)) if workers > 1 else 1
        with task_progress(out / "logs" / stage.name / "completions", stage.tasks, f"[{i}/{len(stages)}] {stage.name}"):
            Executor(pipeline=stage.pipeline, tasks=stage.tasks, workers=stage_workers,
                     logging_dir=str(out / "logs" / stage.name)).run()
        progress(f"[{i}/{len(stages)}] {stage.name}: {stage.tasks} task(s) done in "
                 f"{time.monotonic() - started:.1f}s")


@contextmanager
def task_progress(completions: Path, total: int, desc: str):
    """A progress bar (interactive terminals only) fed by datatrove's per-task completion markers."""
    bar = tqdm(total=total, desc=desc, unit="task", disable=None, leave=False)
    done = threading.Event()

    def poll():
        while not done.wait(0.5):
            count = sum(1 for _ in completions.iterdir()) if completions.is_dir() else 0
            bar.update(count - bar.n)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()
        bar.close()


def run_slurm(stages: list[Stage], out: Path, options: dict, progress) -> None:
    from datatrove.executor import SlurmPipelineExecutor

    previous = None
    for stage in stages:
        previous = SlurmPipelineExecutor(pipeline=stage.pipeline, tasks=stage.tasks, depends=previous,
                                         logging_dir=str(out / "logs" / stage.name),
                                         job_name=f"mixlab-{stage.name}", **options)
    previous.run()
    progress(f"submitted {len(stages)} dependent Slurm jobs; run `mixlab card {out}` when they finish")


def remove_old_output(out: Path) -> threading.Thread:
    """--force: move the old folder aside (one rename) and delete it in a background thread while the new run works
    (deleting 100k records' output took ~0.7 s before the first stage); curate() waits for it before returning. An
    aside folder left by a killed run is deleted here."""
    for stale in out.parent.glob(f".{out.name}.removing-*"):
        shutil.rmtree(stale, ignore_errors=True)
    if out.is_symlink():
        shutil.rmtree(out)  # raises as before: a link is not a folder to delete
    aside = out.parent / f".{out.name}.removing-{os.getpid()}"
    out.rename(aside)
    removal = threading.Thread(target=shutil.rmtree, args=(aside,), name="remove-old-output")
    removal.start()
    return removal


def finish_removal(removal: threading.Thread | None) -> None:
    if removal is not None:
        removal.join()


def curate(inputs: list[str], output: str, recipe: CurationRecipe | None = None, *, recipe_path: str | None = None,
           workers: int | None = None, tokenizer: str | None = None, force: bool = False,
           command: str = "", progress=print, verbose: bool = False) -> dict | None:
    """Run the whole curation; returns the datacard dict (None when submitted to Slurm)."""
    recipe = recipe or CurationRecipe()
    workers = workers or os.cpu_count() or 1
    if recipe.executor.type == "local" and workers > 1:
        start_worker_server()
    check_selection_recipe(recipe)
    files = discover_inputs(inputs)
    formats = detect_formats(files, InputSpec(**vars(recipe.input)))
    out = Path(output)
    removal = remove_old_output(out) if force and out.exists() else None
    manifest = RunManifest.for_run(out, command=command, recipe=recipe_to_dict(recipe), recipe_path=recipe_path,
                                   inputs=[f.path for f in files], extra={"tokenizer": tokenizer})
    manifest.claim()
    tasks = recipe.executor.tasks or min(len(files), recipe.executor.max_tasks)
    if recipe.decontam.enabled:
        from decontam.run import build_index

        build_index(recipe.decontam, out, progress)
    stages = build_stages(files, formats, recipe, out, tasks, tokenizer)
    if recipe.executor.type == "slurm":
        run_slurm(stages, out, recipe.executor.options, progress)
        finish_removal(removal)
        return None
    if recipe.executor.type != "local":
        raise ValueError(f"executor.type {recipe.executor.type!r}: supported are local and slurm")
    run_local(stages, out, workers, progress, verbose)
    if recipe.decontam.enabled:
        from decontam.run import write_report

        write_report(recipe.decontam, out)
    from datacards.build import write_card

    card = write_card(out, tokenizer=tokenizer or recipe.tokenizer)
    manifest.complete()
    finish_removal(removal)
    return card
