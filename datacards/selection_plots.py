"""Draw the data-selection plots of a datacard: embedding coverage by source, duplicate cluster sizes, quality
histograms per source and what the selection kept per source.

    from datacards.selection_plots import write_selection_plots
    paths = write_selection_plots(card, out_dir)     # -> ["plots/embedding_coverage.png", ...]

The coverage plot reads work/select/points.parquet (a 2-D PCA projection of the embedded first user turns).
Like datacards.plots: only plots with data are drawn, stale ones are deleted, PNGs are byte-reproducible.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from datacards.plots import PNG_METADATA  # noqa: E402

SELECTION_PLOTS = ("embedding_coverage", "semantic_clusters", "quality_by_source", "selection_by_source")
MAX_SOURCES = 12


def write_selection_plots(card: dict, out_dir: str | Path) -> list[str]:
    out_dir = Path(out_dir)
    selection = card.get("selection") or {}
    drawers = {
        "embedding_coverage": lambda ax: coverage(ax, out_dir / "work" / "select" / "points.parquet"),
        "semantic_clusters": lambda ax: cluster_sizes(ax, selection.get("semantic")),
        "quality_by_source": lambda ax: quality_histograms(ax, selection.get("quality")),
        "selection_by_source": lambda ax: selection_bars(ax, selection.get("select")),
    }
    written = []
    for name in SELECTION_PLOTS:
        path = out_dir / "plots" / f"{name}.png"
        fig, ax = plt.subplots(figsize=(7, 5 if name == "embedding_coverage" else 4))
        if drawers[name](ax):
            path.parent.mkdir(parents=True, exist_ok=True)
            fig.tight_layout()
            fig.savefig(path, dpi=100, metadata=PNG_METADATA)
            written.append(f"plots/{name}.png")
        elif path.exists():
            path.unlink()
        plt.close(fig)
    return written


def coverage(ax, points_path: Path) -> bool:
    if not points_path.exists():
        return False
    points = pl.read_parquet(points_path)
    if not points.height:
        return False
    kept = points.filter(pl.col("status") == "kept")
    removed = points.filter(pl.col("status") != "kept")
    for i, source in enumerate(sorted(points["source"].unique().to_list())[:MAX_SOURCES]):
        mine = kept.filter(pl.col("source") == source)
        ax.scatter(mine["x"], mine["y"], s=6, alpha=0.6, color=plt.cm.tab10(i % 10), label=source)
    if removed.height:
        ax.scatter(removed["x"], removed["y"], s=10, marker="x", linewidths=0.6, color="#999999",
                   label="removed by selection")
    ax.set(title=f"embedding space (PCA of first user turns, {points.height} records)", xlabel="PC 1",
           ylabel="PC 2")
    ax.legend(fontsize=7, markerscale=2, loc="best")
    return True


def cluster_sizes(ax, semantic: dict | None) -> bool:
    sizes = sorted(((int(s), n) for s, n in ((semantic or {}).get("cluster_sizes") or {}).items()))
    if not sizes:
        return False
    ax.bar([str(s) for s, _ in sizes], [n for _, n in sizes], color="#8172b2")
    ax.set(title="semantic duplicate clusters by size", xlabel="records in cluster (survivor + duplicates)",
           ylabel="clusters")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    return True


def quality_histograms(ax, quality: dict | None) -> bool:
    by_source = (quality or {}).get("by_source") or {}
    if not any(entry["all"]["n"] for entry in by_source.values()):
        return False
    edges = np.linspace(0, 1, len(next(iter(by_source.values()))["all"]["histogram"]) + 1)
    for i, (source, entry) in enumerate(sorted(by_source.items())[:MAX_SOURCES]):
        if entry["all"]["n"]:
            ax.stairs(entry["all"]["histogram"], edges, label=source, color=plt.cm.tab10(i % 10), linewidth=1.5)
    if quality.get("threshold") is not None:
        ax.axvline(quality["threshold"], color="#c44e52", linestyle="--", label="threshold")
    ax.set(title="quality score per source", xlabel="P(positive) from the fastText classifier", ylabel="records")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=8)
    return True


def selection_bars(ax, select: dict | None) -> bool:
    by_source = (select or {}).get("by_source") or {}
    if not by_source:
        return False
    sources = sorted(by_source)[:MAX_SOURCES]
    xs = np.arange(len(sources))
    ax.bar(xs - 0.2, [by_source[s]["available"] for s in sources], width=0.4, color="#cccccc", label="available")
    ax.bar(xs + 0.2, [by_source[s]["kept"] for s in sources], width=0.4, color="#55a868", label="kept")
    ax.set_xticks(xs, sources, rotation=20 if len(sources) > 4 else 0)
    ax.set(title=f"selection per source ({select['unit']})", ylabel=select["unit"])
    ax.legend()
    return True
