"""The index page's charts: node labels of the run, and step values by depth (PNG, matplotlib)."""
from __future__ import annotations

import statistics
from collections.abc import Mapping
from pathlib import Path

# The same colours as the tree pages (static/app.css `--lab-*`), so a chart reads like a tree.
LABEL_COLOURS = {"root": "#6b7280", "valid": "#2563eb", "solution": "#16a34a", "invalid": "#dc2626",
                 "dead_end": "#f59e0b", "wrong_answer": "#9333ea"}
OTHER_COLOUR = "#64748b"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display on servers; must precede pyplot
    import matplotlib.pyplot as plt

    return plt


def _tick(label: str) -> str:
    """A label as an axis tick: short, and with `$` escaped (matplotlib reads $..$ as TeX and stops
    on TeX it cannot parse; labels are stored text)."""
    label = label if len(label) <= 24 else label[:23] + "…"
    return label.replace("$", r"\$")


def plot_labels(counts: Mapping[str, int], order: list[str], path: Path) -> Path:
    """Bar chart of how many nodes of the run carry each label."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    values = [counts.get(lab, 0) for lab in order]
    bars = ax.bar(range(len(order)), values, color=[LABEL_COLOURS.get(lab, OTHER_COLOUR) for lab in order])
    ax.set_xticks(range(len(order)), [_tick(lab) for lab in order])
    ax.bar_label(bars, fontsize=8)
    ax.set_ylabel("nodes")
    ax.set_title("node labels", fontsize=10)
    ax.tick_params(axis="x", labelsize=8, rotation=20)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_values_by_depth(values: Mapping[int, list[float]], mc_values: Mapping[int, list[float]],
                         path: Path) -> Path:
    """Median step value per depth with its 25-75% band (and the Monte-Carlo value where stored),
    over the node count per depth."""
    plt = _pyplot()
    fig, (ax, ax_n) = plt.subplots(2, 1, figsize=(5.5, 3.6), sharex=True, height_ratios=[3, 1])
    for series, name, colour in ((values, "value", "#2563eb"), (mc_values, "Monte-Carlo value", "#16a34a")):
        depths = sorted(d for d, v in series.items() if v)
        if not depths:
            continue
        quartiles = [statistics.quantiles(series[d], n=4) if len(series[d]) > 1 else [series[d][0]] * 3
                     for d in depths]
        ax.plot(depths, [q[1] for q in quartiles], marker="o", color=colour, label=f"median {name}")
        ax.fill_between(depths, [q[0] for q in quartiles], [q[2] for q in quartiles], color=colour, alpha=0.15)
    ax.set_ylabel("value")
    ax.set_title("step values by depth (band: 25-75%)", fontsize=10)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    depths = sorted(values)
    ax_n.bar(depths, [len(values[d]) for d in depths], color="#94a3b8")
    ax_n.set_ylabel("nodes", fontsize=8)
    ax_n.set_xlabel("depth")
    ax_n.set_xticks(depths)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
