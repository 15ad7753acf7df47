"""`mixlab decontam`: remove (or flag) training records that contain benchmark items, with a per-benchmark report.

    mixlab decontam runs/sft-mix --output runs/sft-clean                       # lm-eval's tasks, offline HF cache
    mixlab decontam runs/sft-mix --output runs/sft-clean --benchmark-dir BDIR  # BDIR/<task>.jsonl[.gz]|.parquet

It is `mixlab curate` with no filters and no dedup and the decontamination step switched on, so the output folder
has the curated layout; the same step runs inside any curate recipe with `decontam.enabled: true`. The index of
benchmark n-grams is built once in the main process (DIR/work/decontam/index) and loaded by every worker.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pyarrow.parquet as pq

from curation.recipe import CurationRecipe, DecontamSection, DedupSection, ExactDedupSection, MinhashSection
from curation.writers import RemovedWriter

INDEX_NAME = "index"


def work_dir(out: Path) -> Path:
    return Path(out) / "work" / "decontam"


def build_index(section: DecontamSection, out: Path, progress=print) -> Path:
    """Benchmark items → n-gram index saved under DIR/work/decontam (reused when a run resumes)."""
    from decontam.benchmarks import load_items
    from decontam.index import BenchmarkIndex

    path = work_dir(out) / INDEX_NAME
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    items = load_items(list(section.benchmarks), section.benchmark_dir)
    index = BenchmarkIndex.build(items, ngram=section.ngram)
    tmp = path.with_name(INDEX_NAME + ".tmp")
    index.save(tmp)
    os.replace(tmp, path)
    progress(f"decontam index: {sum(index.items_per_task.values())} items of {len(items)} benchmarks, "
             f"{section.ngram}-grams")
    return path


def decontam_filter(section: DecontamSection, out: Path):
    from decontam.step import DecontaminationFilter

    writer = RemovedWriter(str(Path(out) / "removed"), "decontam") if section.mode == "remove" else None
    return DecontaminationFilter(str(work_dir(out) / INDEX_NAME), threshold=section.threshold, mode=section.mode,
                                 hits_dir=str(work_dir(out) / "hits"), exclusion_writer=writer)


def removed_by_decontam(out: Path) -> int:
    """Rows the step's own exclusion writer wrote (removed/decontam-<rank>.parquet), from the parquet footers."""
    return sum(pq.ParquetFile(path).metadata.num_rows for path in (out / "removed").glob("decontam-*.parquet"))


def write_report(section: DecontamSection, out: Path) -> dict:
    """DIR/report.json and the datacard's decontamination section, from the step's hit files."""
    from decontam.index import BenchmarkIndex
    from decontam.report import build_report, card_section, read_hits

    out = Path(out)
    hits = read_hits(work_dir(out) / "hits")
    records_in = sum(sum(json.loads(p.read_text()).values()) for p in (out / "work" / "counts").glob("*.json"))
    removed = removed_by_decontam(out)
    index = BenchmarkIndex.load(work_dir(out) / INDEX_NAME)
    report = build_report(hits, records_in, removed, index.items_per_task)
    if section.semantic:
        from decontam.semantic import semantic_flags

        report["semantic"] = semantic_flags(out, section)
    (out / "report.json").write_text(json.dumps(report, indent=2, sort_keys=True))
    sections = out / "work" / "card_sections"
    sections.mkdir(parents=True, exist_ok=True)
    (sections / "decontam.json").write_text(json.dumps(card_section(report, hits), indent=2, sort_keys=True))
    return report


def decontam_recipe(args) -> CurationRecipe:
    """`mixlab decontam` flags → a curate recipe with only the decontamination step."""
    section = DecontamSection(enabled=True, benchmarks=args.benchmarks.split(","), benchmark_dir=args.benchmark_dir,
                              ngram=args.ngram, threshold=args.threshold, mode=args.mode, semantic=args.semantic)
    off = DedupSection(exact=ExactDedupSection(enabled=False), minhash=MinhashSection(enabled=False))
    return replace(CurationRecipe(), filters={}, dedup=off, decontam=section)


def resolve_inputs(inputs: list[str]) -> list[str]:
    """A curated folder (manifest.json + data/) stands for its data/ folder."""
    resolved = []
    for item in inputs:
        path = Path(item)
        resolved.append(str(path / "data") if (path / "manifest.json").is_file() and (path / "data").is_dir()
                        else item)
    return resolved


def main(args) -> int:
    import shlex
    import sys

    from curation.pipeline import curate
    from datacards.terminal import render_terminal

    if args.mode not in ("remove", "flag"):
        raise ValueError(f"--mode {args.mode!r}: expected remove or flag")
    recipe = decontam_recipe(args)
    card = curate(resolve_inputs(args.inputs), args.output, recipe, workers=args.workers, force=args.force,
                  command=shlex.join(["mixlab", *sys.argv[1:]]))
    print(render_terminal(card))
    report = json.loads((Path(args.output) / "report.json").read_text())
    print(f"\nreport: {Path(args.output) / 'report.json'}  records in {report['records_in']}, "
          f"removed {report['records_removed']}; contaminated benchmarks (>2% of items hit): "
          f"{', '.join(report['contaminated_benchmarks']) or 'none'}")
    return 0
