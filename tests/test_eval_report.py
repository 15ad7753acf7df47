"""`mixlab report`: a real curated folder, a training run folder and two eval folders -> one HTML page and a PDF."""

import json
import re
from html.parser import HTMLParser

import pytest

from mixlab.cli import main


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """runs/: curated/ (a real curation of a small demo corpus), sft/ (a run folder written by train.outputs from
    the tiny recipe, with evals base/eval and sft/eval beside it)."""
    from curation.demo_corpus import write_demo_corpus
    from curation.pipeline import curate
    from train.config import load_run_config
    from train.outputs import plot_metrics, save_run_files

    root = tmp_path_factory.mktemp("runs")
    corpus = write_demo_corpus(root / "raw", seed=0, n_records=200)
    curate([str(root / "raw" / name) for name in corpus["files"]], str(root / "curated"), workers=1, force=True,
           command="mixlab curate raw --output curated", progress=lambda *_: None)
    sft = root / "sft"
    config = load_run_config("sft", "configs/tiny/sft.yaml", [f"output_dir={sft}", "learning_rate=0.0007"])
    save_run_files(sft, config.resolved(), {"kind": "sft", "rows": 12, "sources": {"chat": 7, "math": 5}})
    rows = [{"step": s, "loss": 3.0 - 0.5 * s, "mean_token_accuracy": 0.1 * s} for s in (1, 2, 3)]
    rows.append({"step": 3, "train_runtime": 5400.0, "train_loss": 2.0})
    (sft / "metrics.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    plot_metrics(sft)
    for name, score, seconds, replicas in (("base", 0.30, 1800.0, 1), ("sft", 0.45, 3600.0, 2)):
        folder = (root / name / "eval") if name == "base" else (sft / "eval")
        folder.mkdir(parents=True)
        (folder / "summary.json").write_text(json.dumps({"gsm8k": {
            "exact_match,strict-match": score, "stderr": {"exact_match,strict-match": 0.01}, "n": 1319,
            "num_fewshot": 5}}))
        (folder / "eval.json").write_text(json.dumps({
            "model": f"runs/{name}", "suite": "mission", "backend": "vllm", "limit": None, "wall_seconds": seconds,
            "model_args": {"data_parallel_size": replicas}, "chat_template": {"on": name == "sft", "reason": "r"},
            "skipped": {"humaneval": "executes generated code"}}))
    return root


@pytest.fixture(scope="module")
def report(run_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "REPORT"
    assert main(["report", str(run_dir), "--output", str(out)]) == 0
    return out


class ExternalRefs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs = []

    def handle_starttag(self, tag, attrs):
        self.refs += [value for name, value in attrs
                      if name in ("src", "href") and not value.startswith(("data:", "#"))]


def cells(html: str) -> list[list[str]]:
    """Every table row's cell texts."""
    return [re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row) for row in re.findall(r"<tr>(.*?)</tr>", html)]


def test_html_is_one_self_contained_page_with_every_part(report):
    html = report.with_suffix(".html").read_text()
    parser = ExternalRefs()
    parser.feed(html)
    assert parser.refs == []
    assert html.count('src="data:image/png;base64,') >= 3  # datacard plots, the loss curve, the eval chart
    for anchor in ("datasets", "training", "evaluation", "compute"):
        assert f'<section id="{anchor}">' in html


def test_datacard_counts_are_the_curated_folders(report, run_dir):
    card = json.loads((run_dir / "curated" / "datacard.json").read_text())
    total = card["counts"]["total"]
    assert ["total", *(str(total[f]) for f in ("in", "kept", "removed", "quarantined"))] in cells(
        report.with_suffix(".html").read_text())
    assert total["in"] == 200


def test_training_shows_mix_loss_and_only_the_recipes_own_choices(report):
    html = report.with_suffix(".html").read_text()
    assert ["configs/tiny/model/config.json", "3", "1:30:00", "1", "2.500 → 1.500"] in cells(html)
    assert ["chat", "7"] in cells(html) and ["math", "5"] in cells(html)
    recipe = re.search(r'<pre class="recipe">(.*?)</pre>', html, re.S).group(1)
    assert "learning_rate: 0.0007" in recipe and "max_steps:" in recipe
    assert "adam_beta1" not in recipe  # left at TRL's default


def test_eval_comparison_and_compute_per_stage(report):
    html = report.with_suffix(".html").read_text()
    rows = cells(html)
    assert ["task", "metric", "base/eval", "sft/eval (Δ)"] in rows
    assert ["gsm8k", "exact_match,strict-match", "30.0", "45.0 (+15.0*)"] in rows
    assert ["train sft", "sft", "1:30:00", "1", "1.500", "3 steps"] in rows
    assert ["eval mission", "sft/eval", "1:00:00", "2", "2.000", "vllm backend, limit None"] in rows
    curate_rows = [row for row in rows if row and row[0].startswith("curate: ")]
    assert [row[0] for row in curate_rows] == ["curate: prepare", "curate: minhash_buckets", "curate: dedup_cluster",
                                               "curate: finalize"]
    assert all(row[1] == "curated" for row in curate_rows)


def test_pdf_is_rendered(report):
    pdf = report.with_suffix(".pdf").read_bytes()
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert len(pdf) > 50_000  # text, tables and four embedded charts, not an empty page


def test_nothing_to_report_is_a_clear_error(tmp_path, capsys):
    assert main(["report", str(tmp_path), "--output", str(tmp_path / "r")]) == 2
    assert "no curated dataset, training run or eval found" in capsys.readouterr().err
