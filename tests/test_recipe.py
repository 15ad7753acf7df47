"""Recipe loading: defaults equal the shipped YAML, overrides apply, bad recipes name file, line and field."""

from pathlib import Path

import pytest

from curation.recipe import CurationRecipe
from mixlab.recipe import RecipeError, load_recipe

ROOT = Path(__file__).resolve().parents[1]


def test_shipped_recipe_equals_defaults():
    assert load_recipe(CurationRecipe, ROOT / "configs/curation/sft.yaml") == CurationRecipe()


def test_overrides_parse_yaml_scalars():
    r = load_recipe(CurationRecipe, None, ["dedup.minhash.threshold=0.8", "dedup.exact.enabled=false",
                                           "filters.language.languages=[en, fr]"])
    assert r.dedup.minhash.threshold == 0.8
    assert r.dedup.exact.enabled is False
    assert r.filters["language"] == {"languages": ["en", "fr"]}


def test_unknown_key_names_file_line_and_field(tmp_path):
    bad = tmp_path / "r.yaml"
    bad.write_text("input:\n  format: auto\ndedup:\n  minhash:\n    n_gram: 5\n")
    with pytest.raises(RecipeError, match=r"r\.yaml:5: field 'dedup\.minhash\.n_gram': unknown key"):
        load_recipe(CurationRecipe, bad)


def test_wrong_type_is_an_error(tmp_path):
    bad = tmp_path / "r.yaml"
    bad.write_text("dedup:\n  minhash:\n    threshold: high\n")
    with pytest.raises(RecipeError, match=r"r\.yaml:3: field 'dedup\.minhash\.threshold': expected float"):
        load_recipe(CurationRecipe, bad)


def test_invalid_yaml_names_line(tmp_path):
    bad = tmp_path / "r.yaml"
    bad.write_text("input:\n  format: [auto\n")
    with pytest.raises(RecipeError, match=r"r\.yaml:\d+: invalid YAML"):
        load_recipe(CurationRecipe, bad)
