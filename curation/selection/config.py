"""Which selection steps a curation recipe turns on, and a check of their options before any work starts.

    from curation.selection.config import check_selection_recipe, selection_enabled
    check_selection_recipe(recipe)      # RecipeError naming the field, FileNotFoundError for a missing model
"""

from __future__ import annotations

import os

from mixlab.recipe import RecipeError

SELECT_BY = ("quality", "order", "random")


def selection_enabled(recipe) -> bool:
    return recipe.quality.enabled or recipe.dedup.semantic.enabled or recipe.select.enabled


def check_selection_recipe(recipe) -> None:
    q, s, sel = recipe.quality, recipe.dedup.semantic, recipe.select
    if q.enabled:
        if not q.model:
            raise RecipeError("field 'quality.model': a fastText model is needed (train one with "
                              "`mixlab quality train`)")
        if not os.path.isfile(q.model):
            raise FileNotFoundError(f"quality.model: {q.model} not found")
        if q.threshold is not None and q.top_fraction is not None:
            raise RecipeError("fields 'quality.threshold' and 'quality.top_fraction': set one, not both")
        if q.top_fraction is not None and not 0 < q.top_fraction <= 1:
            raise RecipeError(f"field 'quality.top_fraction': must be in (0, 1], not {q.top_fraction}")
    if s.enabled and not 0 < s.threshold <= 1:
        raise RecipeError(f"field 'dedup.semantic.threshold': a cosine in (0, 1], not {s.threshold}")
    if sel.enabled:
        if (sel.target_records is None) == (sel.target_tokens is None):
            raise RecipeError("fields 'select.target_records' / 'select.target_tokens': set exactly one")
        if (sel.target_records or sel.target_tokens or 0) <= 0:
            raise RecipeError("field 'select.target_*': must be a positive number")
        if sel.by not in SELECT_BY:
            raise RecipeError(f"field 'select.by': one of {', '.join(SELECT_BY)}, not {sel.by!r}")
        if sel.by == "quality" and not q.enabled:
            raise RecipeError("field 'select.by': quality needs the quality step (quality.enabled: true)")
        bad = {k: v for k, v in sel.weights.items() if not isinstance(v, int | float) or v < 0}
        if bad:
            raise RecipeError(f"field 'select.weights': weights must be numbers >= 0, got {bad}")
