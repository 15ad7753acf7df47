"""Run one synth task over its inputs chunk by chunk, resuming a killed run where it stopped.

    from synth.run import synth
    card = synth(Settings(task="cot", model="runs/teacher", engine="hf", n=8), ["gsm8k.jsonl"], "runs/cot")

Inputs are read in a fixed order and cut into chunks of `chunk_size` records; chunk i is always the same records
and is sampled with its own seed, so a rerun skips the chunks with a done-marker and redoes the rest identically.
The output folder is claimed with a manifest (same inputs and settings resume; anything else needs --force).
"""

from __future__ import annotations

import importlib
import shutil
import time
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path

from mixlab.manifest import RunManifest
from synth import TASKS
from synth.chunk import ChunkResult, Settings
from synth.engines import build_engine, derive_seed
from synth.inputs import input_files, iter_records
from synth.output import done_chunks, finish, write_chunk


def task_module(task: str):
    if task not in TASKS:
        raise ValueError(f"unknown synth task {task!r} (one of: {', '.join(TASKS)})")
    return importlib.import_module(TASKS[task])


def chunked(records: Iterable[dict], size: int) -> Iterator[list[dict]]:
    iterator = iter(records)
    while chunk := list(islice(iterator, size)):
        yield chunk


def describe(index: int, result: ChunkResult, tokens: int, seconds: float) -> str:
    totals = {f: sum(c[f] for c in result.by_source.values()) for f in ("prompts", "samples", "accepted", "kept")}
    speed = f", {tokens / seconds:.0f} generated tokens/s" if tokens and seconds > 0 else ""
    return (f"chunk {index}: {totals['prompts']} prompts, {totals['samples']} samples, {totals['accepted']} accepted, "
            f"{totals['kept']} records kept{speed}")


def synth(settings: Settings, inputs: list[str], output: str | Path, *, batch_size: int | None = None,
          force: bool = False, command: str = "", progress=print, engine=None) -> dict:
    """Run (or resume) the task; returns the output folder's datacard.

    `engine`: an engine already loaded (reused across runs); by default one is built when a chunk needs it."""
    module = task_module(settings.task)
    if settings.chunk_size < 1 or settings.n < 1:
        raise ValueError("--chunk-size and --n must be at least 1")
    out = Path(output)
    if force and out.exists():
        shutil.rmtree(out)
    manifest = RunManifest.for_run(out, command=command, recipe=settings.as_dict(), inputs=input_files(inputs))
    manifest.claim()
    done = done_chunks(out)
    for index, chunk in enumerate(chunked(iter_records(inputs, out, module.PREFER_RL), settings.chunk_size)):
        if index in done:
            continue
        if engine is None and (module.NEEDS_MODEL or settings.respond):
            engine = build_engine(settings.engine, settings.model, seed=settings.seed, batch_size=batch_size)
        result, tokens_before, start = ChunkResult(), getattr(engine, "generated_tokens", 0), time.perf_counter()
        module.run_chunk(chunk, engine, settings, derive_seed(settings.seed, index), result)
        write_chunk(out, index, result)
        tokens = getattr(engine, "generated_tokens", 0) - tokens_before
        progress(describe(index, result, tokens, time.perf_counter() - start))
    card = finish(out, settings)
    manifest.complete()
    return card
