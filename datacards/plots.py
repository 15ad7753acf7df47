"""Draw a datacard's PNG plots (matplotlib, Agg) into out_dir/plots/.

    from datacards.plots import write_plots
    paths = write_plots(card, out_dir, kept_lengths)   # -> ["plots/prompt_tokens.png", ...]

Only plots with data are drawn; a known plot left over from an earlier run without data is deleted.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

PLOT_NAMES = ("prompt_tokens", "response_tokens", "turns", "languages", "dedup_clusters", "removed_by_reason")
MAX_BARS = 25
# no "Software"/date chunks: the same card gives byte-identical PNGs
PNG_METADATA = {"Software": None}


def write_plots(card: dict, out_dir: str | Path, kept_lengths: dict[str, list[int]]) -> list[str]:
    """Write the plots that have data; returns their paths relative to out_dir, in PLOT_NAMES order."""
    plot_dir = Path(out_dir) / "plots"
    plot_dir.mkdir(parents=True, exist_ok=True)
    drawers = {
        "prompt_tokens": lambda ax: histogram(ax, kept_lengths.get("prompt"), "prompt tokens"),
        "response_tokens": lambda ax: histogram(ax, kept_lengths.get("response"), "response tokens"),
        "turns": lambda ax: turns_bars(ax, card["stats"].get("turns")),
        "languages": lambda ax: language_bars(ax, card["stats"].get("languages")),
        "dedup_clusters": lambda ax: cluster_bars(ax, card["stats"].get("dedup_clusters")),
        "removed_by_reason": lambda ax: reason_bars(ax, card.get("steps")),
    }
    written = []
    for name in PLOT_NAMES:
        path = plot_dir / f"{name}.png"
        fig, ax = plt.subplots(figsize=(7, 4))
        drew = drawers[name](ax)
        if drew:
            # every axis counts records or clusters: no fractional ticks
            count_axis = ax.xaxis if name == "removed_by_reason" else ax.yaxis
            count_axis.set_major_locator(MaxNLocator(integer=True))
            fig.tight_layout()
            fig.savefig(path, dpi=100, metadata=PNG_METADATA)
            written.append(f"plots/{name}.png")
        elif path.exists():
            path.unlink()
        plt.close(fig)
    return written


def histogram(ax, values: list[int] | np.ndarray | None, title: str) -> bool:
    # an array: matplotlib checks a Python list element by element (~0.4 s per 100k values)
    values = np.asarray(values if values is not None else [])
    if not values.any():
        return False
    ax.hist(values, bins=min(50, max(5, len(np.unique(values)))), color="#4c72b0")
    ax.set(title=f"{title} per kept record", xlabel="tokens", ylabel="records")
    return True


def turns_bars(ax, turns: dict[str, int] | None) -> bool:
    if not turns:
        return False
    sizes = sorted(turns, key=int)
    ax.bar(sizes, [turns[s] for s in sizes], color="#55a868")
    ax.set(title="messages per kept record", xlabel="messages", ylabel="records")
    return True


def language_bars(ax, languages: dict[str, dict] | None) -> bool:
    if not languages:
        return False
    codes = sorted(languages, key=lambda c: -languages[c]["seen"])[:MAX_BARS]
    ax.bar(codes, [languages[c]["kept"] for c in codes], label="passed", color="#4c72b0")
    ax.bar(codes, [languages[c]["dropped"] for c in codes], bottom=[languages[c]["kept"] for c in codes],
           label="dropped", color="#c44e52")
    ax.set(title="detected languages", xlabel="language", ylabel="records")
    ax.legend()
    return True


def cluster_bars(ax, clusters: dict | None) -> bool:
    methods = [m for m in ("exact", "minhash") if (clusters or {}).get(m)]
    if not methods:
        return False
    sizes = sorted({int(s) for m in methods for s in clusters[m]})[:MAX_BARS]
    width = 0.8 / len(methods)
    for i, method in enumerate(methods):
        xs = [j + i * width for j in range(len(sizes))]
        ax.bar(xs, [clusters[method].get(str(s), 0) for s in sizes], width=width, label=method)
    ax.set_xticks([j + width * (len(methods) - 1) / 2 for j in range(len(sizes))], [str(s) for s in sizes])
    ax.set(title="duplicate clusters by size", xlabel="cluster size (records)", ylabel="clusters")
    ax.legend()
    return True


def reason_bars(ax, steps: dict | None) -> bool:
    rows = [(f"{by}: {reason}", entry["count"]) for by, step in (steps or {}).items()
            for reason, entry in step["reasons"].items()]
    if not rows:
        return False
    rows = sorted(rows, key=lambda r: (-r[1], r[0]))[:MAX_BARS][::-1]
    ax.barh([r[0] for r in rows], [r[1] for r in rows], color="#c44e52")
    ax.set(title="removed records by step and reason", xlabel="records")
    ax.figure.set_size_inches(8, max(3, 0.35 * len(rows) + 1.2))
    return True
