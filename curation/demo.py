"""`mixlab demo`: write the seeded demo corpus, curate it, and show the card and the reconciled counts.

    mixlab demo --output runs/demo      # what `make demo` runs (CPU, a minute or two on 2 cores)
"""

from __future__ import annotations

import time
from pathlib import Path

from curation.demo_corpus import write_demo_corpus
from curation.pipeline import curate
from curation.recipe import CurationRecipe
from mixlab.recipe import load_recipe

DEFAULT_RECIPE = Path(__file__).resolve().parents[1] / "configs" / "curation" / "sft.yaml"


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


def run_demo(output: str, records: int = 3000, seed: int = 0, workers: int | None = None) -> int:
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
    print(f"demo finished in {time.monotonic() - started:.0f}s")
    return 0
