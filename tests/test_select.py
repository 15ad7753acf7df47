"""`mixlab curate` with quality scores, semantic dedup and budgeted selection on generated chats; `mixlab quality
train`; the embedding cache; `mixlab card --compare`. Real runs: datatrove, fastText, all-MiniLM-L6-v2 on CPU.

    .venv/bin/pytest tests/test_select.py
"""

from __future__ import annotations

import json
import os
import re

os.environ["HF_HUB_OFFLINE"] = "1"  # before huggingface_hub reads it at import; nothing here may download

import polars as pl
import pytest
import yaml

from curation.pipeline import curate
from curation.recipe import CurationRecipe
from datacards.build import counter_value
from mixlab.cli import main as cli_main
from mixlab.recipe import load_recipe
from mixlab.schema import decode_row

# planted paraphrase clusters: MiniLM puts these rewordings at cosine >= 0.95, unrelated prompts below 0.6
TOPICS = ["bake sourdough bread at home", "change a flat tire on a bicycle", "train a puppy to sit on command",
          "write a cover letter for a software job", "grow tomatoes on a small balcony",
          "fix a leaking kitchen faucet", "prepare for a marathon as a beginner", "set up a freshwater aquarium"]
TEMPLATES = ["How do I {}?", "How can I {}?", "What is the best way to {}?", "How should I {}?"]
CROSS_SOURCE = "What's a good way to {}?"    # one more rewording of topic 0, in the other source
CORES = ["Mix flour, water, salt and an active starter, let the dough rise slowly, shape it and bake it hot.",
         "Remove the wheel, find the puncture, patch or replace the inner tube and inflate it to the printed pressure.",
         "Hold a treat above the puppy's nose, move it back until it sits, then reward it at once.",
         "Open with the role you want, show two achievements that match the job ad, and close with a clear request.",
         "Choose a compact variety, use a deep pot with good compost, water evenly and give it full sun.",
         "Turn off the supply valves, take the handle apart, swap the worn washer or cartridge and reassemble.",
         "Build up mileage gradually over several months with one long run a week and plenty of rest days.",
         "Rinse the gravel, fill the tank with dechlorinated water and cycle the filter for weeks before fish."]
CLOSINGS = ["Take your time with each part and it will go well.",
            "Patience matters more than special equipment here.",
            "Expect the first attempt to teach you the most.",
            "Keep notes so the next try is even easier."]
UNIQUE = [
    ("What causes the seasons on Earth?", "The tilt of Earth's axis changes how directly sunlight hits each "
     "hemisphere through the year, so days are longer and warmer in summer."),
    ("Explain how vaccines train the immune system.", "A vaccine shows the immune system a harmless piece of a "
     "pathogen, so it builds antibodies and memory cells that respond quickly to a real infection."),
    ("Summarise the plot of Romeo and Juliet.", "Two young lovers from feuding families in Verona marry in secret, "
     "and a chain of misunderstandings ends with both of them taking their own lives."),
    ("What is the difference between a virus and a bacterium?", "Bacteria are living single cells that reproduce "
     "on their own, while viruses are much smaller and can only replicate inside a host cell."),
    ("How does compound interest work?", "Interest is added to the balance, and later interest is calculated on "
     "that larger balance, so growth accelerates over time."),
    ("Why do cats purr?", "Cats purr when content, but also when stressed or injured; the vibration may help them "
     "calm down and even heal."),
    ("What is a black hole?", "A black hole is a region where gravity is so strong that nothing, not even light, "
     "can escape once it crosses the event horizon."),
    ("Describe the rules of chess castling.", "The king moves two squares towards a rook and the rook jumps over "
     "it; neither piece may have moved, and the king may not pass through check."),
    ("How do noise-cancelling headphones work?", "Microphones pick up outside sound and the headphones play an "
     "inverted wave that cancels it, which works best for steady low-frequency noise."),
    ("What were the main causes of the French Revolution?", "Royal debt, food shortages, an unfair tax system and "
     "Enlightenment ideas about rights combined to turn unrest into revolution in 1789."),
    ("How is glass made from sand?", "Silica sand is melted with soda ash and limestone at very high temperature, "
     "then the liquid is shaped and cooled slowly so it does not crack."),
    ("Explain what an API is to a beginner.", "An API is a menu of requests one program offers to another: you ask "
     "for something in an agreed format and get a predictable answer back."),
    ("Why does ice float on water?", "Water expands when it freezes into a crystal lattice, so ice is less dense "
     "than liquid water and floats on top."),
    ("How do bees make honey?", "Bees collect nectar, add enzymes and store it in wax cells, then fan it with their "
     "wings until enough water evaporates to make honey."),
    ("What is the Pythagorean theorem used for?", "It relates the sides of a right triangle, so builders, "
     "navigators and programmers use it to compute distances and check right angles."),
    ("How do solar panels generate electricity?", "Sunlight knocks electrons loose in silicon cells, and the "
     "electric field inside each cell pushes them into a current."),
    ("What does a central bank do?", "A central bank sets interest rates, manages the money supply and acts as a "
     "lender of last resort to keep prices and the banking system stable."),
    ("Why is the ocean salty?", "Rain slowly dissolves minerals from rocks, rivers carry them to the sea, and "
     "evaporation leaves the salt behind over millions of years."),
]
BAD = [
    ("How do volcanoes form?", "idk lol, just google it yourself."),
    ("What is the tallest mountain in Africa?", "dunno man, who even cares about that lol."),
    ("How do I clean a cast iron pan?", "whatever, just figure it out, not my problem."),
    ("What is machine learning?", "lol no idea, ask someone else maybe."),
    ("How do airplanes stay in the air?", "magic probably lol idk, google it."),
    ("Which planet has the most moons?", "no idea, whatever, look it up yourself lol."),
    ("How can I improve my handwriting?", "idk just write better lol, who cares."),
    ("What is inflation?", "no clue honestly, google it or whatever."),
    ("How do I remove a coffee stain from a shirt?", "idk lol, just buy a new shirt, who cares."),
    ("Why do leaves change colour in autumn?", "dunno lol, it just happens, whatever."),
]
TRAIN_TOPICS = ["planting a tree", "saving money", "learning French", "cooking rice", "painting a wall",
                "writing a poem", "studying for exams", "fixing a bike chain", "making coffee", "running faster",
                "sleeping better", "reading more books", "cleaning windows", "building a shed", "baking cookies",
                "playing chess", "growing herbs", "washing a car", "packing for a trip", "learning to swim"]
GOOD_STYLES = ["For {t}, start with a clear plan, then work through each step carefully and check the result.",
               "A reliable approach to {t}: prepare what you need first, follow the steps in order, and review "
               "your progress as you go.",
               "The key to {t} is practice: begin slowly, learn the basic technique, and improve a little every "
               "day.",
               "Here is how to approach {t}. First gather the right tools, then follow a simple routine and adjust "
               "it based on what works."]
BAD_STYLES = ["idk about {t} lol, just google it.", "whatever, {t} is not my problem, figure it out.",
              "dunno, {t}? who cares lol.", "no idea about {t}, ask someone else lol."]


def chat(record_id, user, assistant):
    return {"id": record_id, "messages": [{"role": "user", "content": user},
                                          {"role": "assistant", "content": assistant}]}


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def cluster_rows(topics, templates, prefix):
    return [chat(f"{prefix}-c{t}-v{v}", template.format(TOPICS[t]), f"{CORES[t]} {CLOSINGS[v]}")
            for t in topics for v, template in enumerate(templates)]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    raw = tmp_path_factory.mktemp("raw")
    forum = cluster_rows(range(6), TEMPLATES, "forum")
    forum += [chat(f"forum-u{i}", q, a) for i, (q, a) in enumerate(UNIQUE[:10])]
    forum += [chat(f"forum-bad{i}", q, a) for i, (q, a) in enumerate(BAD[:6])]
    forum += [chat("forum-empty", "Tell me a joke about cats.", "   "), chat("forum-copy", *UNIQUE[0])]
    wiki = cluster_rows([6, 7], TEMPLATES[:3], "wiki")
    wiki += [chat("wiki-cross", CROSS_SOURCE.format(TOPICS[0]), f"{CORES[0]} It is worth the wait.")]
    wiki += [chat(f"wiki-u{i}", q, a) for i, (q, a) in enumerate(UNIQUE[10:])]
    wiki += [chat(f"wiki-bad{i}", q, a) for i, (q, a) in enumerate(BAD[6:])]
    return [write_jsonl(raw / "forum.jsonl", forum), write_jsonl(raw / "wiki.jsonl", wiki)]


@pytest.fixture(scope="module")
def quality_model(tmp_path_factory):
    """Trained through the CLI from two curated folders (dedup off: the training lines are templated)."""
    base = tmp_path_factory.mktemp("quality")
    no_dedup = CurationRecipe()
    no_dedup.dedup.exact.enabled = no_dedup.dedup.minhash.enabled = False
    for name, styles in (("good", GOOD_STYLES), ("bad", BAD_STYLES)):
        rows = [chat(f"{name}-{i}-{j}", f"Any advice on {t}?", style.format(t=t))
                for i, t in enumerate(TRAIN_TOPICS) for j, style in enumerate(styles)]
        curate([write_jsonl(base / f"{name}.jsonl", rows)], str(base / name), no_dedup, workers=1,
               progress=lambda _: None)
    model = base / "quality.bin"
    assert cli_main(["quality", "train", "--positive", str(base / "good"), "--negative", str(base / "bad"),
                     "--output", str(model), "--holdout", "0.25", "--lr", "0.5", "--epoch", "30", "--seed", "1"]) == 0
    return model


def recipe_file(tmp_path, name, data):
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_recipe(CurationRecipe, path), str(path)


def full_recipe(tmp_path, model, cache):
    return recipe_file(tmp_path, "full", {
        "quality": {"enabled": True, "model": str(model), "threshold": 0.5},
        "dedup": {"semantic": {"enabled": True, "cache": str(cache)}},
        "select": {"enabled": True, "target_records": 20, "weights": {"forum": 1, "wiki": 1}, "by": "quality"},
    })


def folder_rows(out):
    kept = [decode_row(r) for r in pl.read_parquet(f"{out}/data/sft/*.parquet").to_dicts()]
    removed = [decode_row(r) for r in pl.read_parquet(f"{out}/removed/*.parquet").to_dicts()]
    return kept, removed


def removal_counts(removed):
    counts = {}
    for row in removed:
        key = f"{row['removed_by']}|{row['reason']}"
        counts[key] = counts.get(key, 0) + 1
    return counts


def test_quality_model_separates_its_classes(quality_model):
    report = json.loads(quality_model.with_suffix(".json").read_text())
    held = report["holdout"]
    assert report["records"]["positive"] == report["records"]["negative"] == 80
    assert held["positives"] >= 10 and held["negatives"] >= 10
    assert held["precision"] >= 0.95 and held["recall"] >= 0.95 and held["auc"] >= 0.95


def test_curate_quality_semantic_select_exact_counts(corpus, quality_model, tmp_path):
    recipe, path = full_recipe(tmp_path, quality_model, tmp_path / "cache")
    card = curate(corpus, str(tmp_path / "a"), recipe, recipe_path=path, workers=1, progress=lambda _: None)
    kept, removed = folder_rows(tmp_path / "a")
    assert removal_counts(removed) == {
        "filter:empty_turns|empty_turn": 1, "dedup:exact|exact_duplicate": 1,
        "quality|quality_below:0.5": 10, "dedup:semantic|semantic_duplicate": 4 + 5 * 3 + 2 * 2,
        "select|over_budget": 26 - 20}
    assert {r["id"] for r in removed if r["removed_by"] == "quality"} == {f"forum-bad{i}" for i in range(6)} | {
        f"wiki-bad{i}" for i in range(4)}
    # every scored record carries its score; in each paraphrase cluster the best-scored one survived
    scores = {r["id"]: r["meta"]["quality"] for r in kept + removed if r.get("removed_by") not in ("filter:empty_turns",
                                                                                                "dedup:exact")}
    assert len(scores) == 59 and all(0 <= s <= 1 for s in scores.values())
    semantic = [r for r in removed if r["removed_by"] == "dedup:semantic"]
    for t in range(8):
        members = [i for i in scores if f"-c{t}-" in i] + (["wiki-cross"] if t == 0 else [])
        best = max(members, key=lambda i: (scores[i], -members.index(i)))
        assert sorted(r["id"] for r in semantic if r["dup_of"] == best) == sorted(set(members) - {best})
    # select: 10 per source (equal weights), the best-scored of each
    assert len(kept) == 20 and sorted(r["source"] for r in kept) == ["forum"] * 10 + ["wiki"] * 10
    over = [r for r in removed if r["removed_by"] == "select"]
    for source in ("forum", "wiki"):
        assert min(scores[r["id"]] for r in kept if r["source"] == source) >= max(
            [scores[r["id"]] for r in over if r["source"] == source], default=0)
    counts = card["counts"]
    assert counts["reconciled"] and counts["total"] == {"in": 61, "kept": 20, "removed": 41, "quarantined": 0}
    selection = card["selection"]
    assert selection["semantic"]["cluster_sizes"] == {"3": 2, "4": 5, "5": 1}
    assert selection["semantic"]["embedded_new"] == 49 and selection["semantic"]["embedded_cached"] == 0
    assert selection["select"]["kept"] == 20 and selection["select"]["reached"]
    for plot in ("embedding_coverage", "semantic_clusters", "quality_by_source", "selection_by_source"):
        assert f"plots/{plot}.png" in card["plots"] and (tmp_path / "a" / "plots" / f"{plot}.png").exists()
    text = (tmp_path / "a" / "datacard.md").read_text()
    assert "## Data selection" in text and "### Semantic dedup" in text and "kept forum-c" in text

    # the same inputs into another folder: every embedding comes from the cache, same bytes out
    curate(corpus, str(tmp_path / "b"), recipe, recipe_path=path, workers=1, progress=lambda _: None)
    report = json.loads((tmp_path / "b" / "work" / "select" / "report.json").read_text())
    assert (report["semantic"]["embedded_new"], report["semantic"]["embedded_cached"]) == (0, 49)
    stats = json.loads((tmp_path / "b" / "logs" / "select" / "stats.json").read_text())
    assert counter_value(stats[0]["stats"]["embedded_new"]) == 0
    assert counter_value(stats[0]["stats"]["embedded_cached"]) == 49
    for rel in ("data/sft/00000.parquet", "data/sft/00001.parquet"):
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()


def test_semantic_dedup_alone_keeps_the_earliest_and_reuses_the_cache(corpus, tmp_path, capsys):
    cache = tmp_path / "cache"
    first, path = recipe_file(tmp_path, "first", {"dedup": {"semantic": {"enabled": True, "cache": str(cache)}},
                                                  "select": {"enabled": True, "target_records": 12,
                                                             "by": "order"}})
    curate(corpus, str(tmp_path / "first"), first, recipe_path=path, workers=1, progress=lambda _: None)
    recipe, path = recipe_file(tmp_path, "semantic", {"dedup": {"semantic": {"enabled": True, "cache": str(cache)}}})
    card = curate(corpus, str(tmp_path / "sem"), recipe, recipe_path=path, workers=1, progress=lambda _: None)
    kept, removed = folder_rows(tmp_path / "sem")
    semantic = {r["id"]: r["dup_of"] for r in removed if r["removed_by"] == "dedup:semantic"}
    expected = {f"forum-c{t}-v{v}": f"forum-c{t}-v0" for t in range(6) for v in range(1, 4)}
    expected |= {f"wiki-c{t}-v{v}": f"wiki-c{t}-v0" for t in (6, 7) for v in (1, 2)} | {"wiki-cross": "forum-c0-v0"}
    assert semantic == expected
    assert len(kept) == 61 - 2 - 23 and all("quality" not in r["meta"] for r in kept)
    assert card["selection"]["semantic"]["embedded_new"] == 0   # the first run embedded the same 59 prompts
    first_card = json.loads((tmp_path / "first" / "datacard.json").read_text())
    assert first_card["selection"]["select"]["by_source"]["forum"]["kept_records"] == 7   # 12 * 21/36 → 7
    assert first_card["counts"]["total"]["kept"] == 12

    assert cli_main(["card", str(tmp_path / "sem"), "--compare", str(tmp_path / "first"), "--html"]) == 0
    out = capsys.readouterr().out
    assert "kept mix per source" in out and "semantic duplicates removed" in out
    assert re.search(r"^kept +36 +12 +-24$", out, re.MULTILINE) and re.search(r"^select +0 +24 +\+24$", out, re.M)
    assert re.search(r"^forum +22 \(61\.1%\) +7 \(58\.3%\) +-15$", out, re.MULTILINE)
    page = (tmp_path / "sem" / "compare-first.html").read_text()
    assert page.count("data:image/png;base64,") >= 6


def test_recipe_errors_are_one_line_before_any_work(corpus, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli_main(["curate", *corpus, "--output", str(out), "--set", "select.enabled=true",
                     "--set", "select.target_records=5"]) == 2
    assert "quality needs the quality step" in capsys.readouterr().err
    assert cli_main(["curate", *corpus, "--output", str(out), "--set", "quality.enabled=true",
                     "--set", f"quality.model={tmp_path / 'missing.bin'}"]) == 2
    assert "missing.bin" in capsys.readouterr().err
    assert cli_main(["curate", *corpus, "--output", str(out), "--recipe", "configs/curation/select.yaml"]) == 2
    assert "field 'quality.model': a fastText model is needed" in capsys.readouterr().err
    assert not out.exists()
