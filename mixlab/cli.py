"""The one command line: `mixlab <stage> ...`; each subcommand hands its arguments to that stage's code.

    mixlab --help
    mixlab curate data/raw/*.jsonl hf_dump/ --output runs/sft-mix --recipe configs/curation/sft.yaml
    mixlab decontam runs/sft-mix --output runs/sft-clean [--benchmark-dir BDIR]
    mixlab card runs/sft-mix [--html] [--compare runs/other-mix]
    mixlab quality train --positive runs/good --negative runs/raw/removed --output quality.bin
    mixlab demo [--output runs/demo]
    mixlab plan --config configs/qwen3-4b/sft.yaml --gpus 4 --gpu h100
    mixlab verify rollouts.jsonl --output scored.parquet
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys

USER_ERRORS = ("InputError", "RecipeError", "OutputConflict", "CountsMismatch", "FileNotFoundError",
               "BenchmarkUnavailable")


def add_curate(sub) -> None:
    p = sub.add_parser("curate", help="read, normalise, filter and deduplicate inputs into a curated folder",
                       description="Run the datatrove curation pipeline: read + normalise to canonical records, "
                       "chat-aware filters, exact dedup, MinHash near-dedup; write DIR/data, removed, quarantine "
                       "and the datacard. Rerunning a killed command resumes it.")
    p.add_argument("inputs", nargs="+", help="files (.jsonl[.gz], .json[.gz], .parquet), HF save_to_disk folders, "
                   "or directories of those")
    p.add_argument("--output", required=True, help="output folder (curated layout)")
    p.add_argument("--recipe", help="curation recipe YAML (default: built-in, same as configs/curation/sft.yaml)")
    p.add_argument("--workers", type=int, help="parallel worker processes (default: all cores)")
    p.add_argument("--tokenizer", help="HF tokenizer folder or tokenizer.json: lengths in tokens instead of words")
    p.add_argument("--force", action="store_true", help="delete the output folder and start over")
    p.add_argument("--verbose", action="store_true", help="show datatrove's per-task logs on the console")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe field, e.g. --set dedup.minhash.threshold=0.8 (repeatable)")
    p.set_defaults(handler=run_curate)


def add_decontam(sub) -> None:
    from decontam.items import MISSION_TASKS

    p = sub.add_parser("decontam", help="remove (or flag) records containing benchmark test items",
                       description="Match every turn of every record against the items lm-eval scores (n-gram "
                       "coverage, Tulu 3 rule) and write a curated folder plus DIR/report.json.")
    p.add_argument("inputs", nargs="+", help="curated folders (their data/ is read) or any input `curate` accepts")
    p.add_argument("--output", required=True, help="output folder (curated layout + report.json)")
    p.add_argument("--benchmarks", default=",".join(MISSION_TASKS), help="comma-separated lm-eval tasks "
                   "(default: the nine mission tasks)")
    p.add_argument("--benchmark-dir", help="BDIR/<task>.jsonl[.gz]|.parquet with the HF fields lm-eval reads "
                   "(default: lm-eval's task docs from the offline HF datasets cache)")
    p.add_argument("--ngram", type=int, default=8, help="n-gram size (default 8)")
    p.add_argument("--threshold", type=float, default=0.5,
                   help="contaminated when shared n-grams cover more than this fraction of an item (default 0.5)")
    p.add_argument("--mode", choices=("remove", "flag"), default="remove",
                   help="remove: contaminated records go to removed/; flag: keep them with the match columns")
    p.add_argument("--semantic", action="store_true",
                   help="also flag likely paraphrases by embedding similarity (reported, never removed)")
    p.add_argument("--workers", type=int, help="parallel worker processes (default: all cores)")
    p.add_argument("--force", action="store_true", help="delete the output folder and start over")
    p.set_defaults(handler=run_decontam)


def run_decontam(args) -> int:
    from decontam.run import main as decontam_main

    return decontam_main(args)


def add_card(sub) -> None:
    p = sub.add_parser("card", help="show (or rebuild) the datacard of a stage output folder",
                       description="Print the datacard of a curated folder in the terminal; --html writes one "
                       "self-contained page; --rebuild recomputes datacard.md/json and plots from the folder.")
    p.add_argument("folder", help="a stage output folder (e.g. runs/sft-mix)")
    p.add_argument("--html", nargs="?", const="", default=None, metavar="PATH",
                   help="write a self-contained HTML card (default PATH: FOLDER/datacard.html)")
    p.add_argument("--rebuild", action="store_true", help="recompute the card from the folder's files")
    p.add_argument("--compare", metavar="OTHER_DIR", help="show this mix and another curated folder's side by side "
                   "(--html PATH: a comparison page, default FOLDER/compare-<OTHER>.html)")
    p.set_defaults(handler=run_card)


def add_demo(sub) -> None:
    p = sub.add_parser("demo", help="generate the embedded demo corpus and run the pipeline on it (CPU)",
                       description="Write a seeded demo corpus (several formats, planted problems), curate it, "
                       "print where the card is and the reconciled counts, then train tiny SFT, DPO and GRPO models.")
    p.add_argument("--output", default="runs/demo", help="demo folder (default: runs/demo)")
    p.add_argument("--records", type=int, default=3000, help="corpus size (default: 3000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, help="parallel worker processes (default: all cores)")
    p.add_argument("--skip-train", action="store_true", help="stop after curation (no tiny SFT/DPO/GRPO)")
    p.set_defaults(handler=run_demo)


def run_curate(args) -> int:
    if args.workers != 1:
        from curation.worker_server import start_worker_server

        start_worker_server()  # its imports (~1.5 s) overlap with this process's
    from curation.pipeline import curate
    from curation.recipe import CurationRecipe
    from datacards.terminal import render_terminal
    from mixlab.recipe import load_recipe

    recipe = load_recipe(CurationRecipe, args.recipe, args.overrides)
    card = curate(args.inputs, args.output, recipe, recipe_path=args.recipe, workers=args.workers,
                  tokenizer=args.tokenizer, force=args.force, command=shlex.join(["mixlab", *sys.argv[1:]]),
                  verbose=args.verbose)
    if card is not None:
        print(render_terminal(card))
    return 0


def run_card(args) -> int:
    import json
    from pathlib import Path

    from datacards.build import write_card
    from datacards.html import write_html
    from datacards.terminal import render_terminal

    if args.compare:
        from datacards.compare import run_compare

        return run_compare(args.folder, args.compare, html=args.html, rebuild=args.rebuild)
    folder = Path(args.folder)
    if args.rebuild or not (folder / "datacard.json").exists():
        card = write_card(folder)
    else:
        card = json.loads((folder / "datacard.json").read_text())
    print(render_terminal(card))
    if args.html is not None:
        print(f"html card: {write_html(folder, args.html or None)}")
    return 0


def run_demo(args) -> int:
    from curation.demo import run_demo as demo

    return demo(args.output, records=args.records, seed=args.seed, workers=args.workers, skip_train=args.skip_train)


def add_train(sub) -> None:
    from train.cli import add_train as add_train_parsers

    add_train_parsers(sub)


def add_plan(sub) -> None:
    from train.plan import add_plan as add_plan_parser

    add_plan_parser(sub)


def add_verify(sub) -> None:
    from mixlab.verifiers.cli import add_verify as add_verify_parser

    add_verify_parser(sub)


def add_synth(sub) -> None:
    from synth.cli import add_synth as add_synth_parser

    add_synth_parser(sub)


def add_eval(sub) -> None:
    from eval.cli import add_eval as add_eval_parser

    add_eval_parser(sub)


def add_report(sub) -> None:
    from eval.report import add_report as add_report_parser

    add_report_parser(sub)


def add_quality(sub) -> None:
    from curation.selection.quality_train import add_quality as add_quality_parser

    add_quality_parser(sub)


def add_score_mix(sub) -> None:
    from eval.score_mix import add_score_mix as add_score_mix_parser

    add_score_mix_parser(sub)


def add_run(sub) -> None:
    from mixlab.run import add_run as add_run_parser

    add_run_parser(sub)


STAGE_PARSERS = {"curate": add_curate, "decontam": add_decontam, "card": add_card, "demo": add_demo,
                 "train": add_train, "plan": add_plan, "verify": add_verify, "synth": add_synth, "eval": add_eval,
                 "report": add_report, "quality": add_quality, "score-mix": add_score_mix, "run": add_run}


def build_parser(stage: str | None = None) -> argparse.ArgumentParser:
    """All subcommands' parsers, or only `stage`'s: building some imports their stage (train.plan: torch, ~2 s),
    which `mixlab curate` should not pay for."""
    parser = argparse.ArgumentParser(prog="mixlab", description="Data-centric curation and post-training toolkit.")
    sub = parser.add_subparsers(dest="stage", required=True, metavar="<stage>")
    for add in [STAGE_PARSERS[stage]] if stage in STAGE_PARSERS else STAGE_PARSERS.values():
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv[0] if argv else None).parse_args(argv)
    try:
        return args.handler(args)
    except Exception as err:  # user errors get one clear line; bugs keep their traceback
        if type(err).__name__ in USER_ERRORS:
            print(f"mixlab {args.stage}: error: {err}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
