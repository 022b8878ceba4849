"""Length and mistake statistics of exported trajectories, per kind: a table and a PNG histogram.

Lengths are counted in the policy's tokenizer when one is given (what a trainer's `max_length`
sees), else in whitespace words. Mistakes are the trajectories' backtracks (`n_backtracks`): a
journey returns to the last good state once per explored mistake.
"""
from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

TokenCounter = Callable[[str], int]


def whitespace_tokens(text: str) -> int:
    """Number of whitespace-separated words: the tokenizer-free default length."""
    return len(text.split())


def hf_token_counter(tokenizer: Any) -> TokenCounter:
    """A counter that measures text in a Hugging Face tokenizer's tokens (no special tokens)."""

    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    return count


def _summary(values: list[int]) -> dict[str, float]:
    if not values:
        return {"mean": 0.0, "median": 0.0, "p90": 0.0, "min": 0, "max": 0}
    ordered = sorted(values)
    # Nearest-rank percentile: always an observed length, so "p90 = 412 tokens" is a real row.
    p90 = ordered[max(0, -(-9 * len(ordered) // 10) - 1)]
    return {
        "mean": round(statistics.fmean(ordered), 2),
        "median": float(statistics.median(ordered)),
        "p90": p90,
        "min": ordered[0],
        "max": ordered[-1],
    }


def trajectory_stats(
    rows: Iterable[Mapping[str, Any]], count_tokens: TokenCounter | None = None
) -> dict[str, dict[str, Any]]:
    """Per kind: row count, token-length summary of `text` and backtrack summary.

    `rows` are trajectory rows (need `kind`, `text`, `n_backtracks`). Returns
    `{kind: {"n", "tokens": {mean, median, p90, min, max}, "backtracks": {...},
    "with_mistakes", "lengths", "backtrack_counts"}}` where `with_mistakes` is the number of rows
    with at least one backtrack and the two lists hold the raw per-row values (for plotting).
    """
    count = count_tokens or whitespace_tokens
    lengths: dict[str, list[int]] = {}
    backtracks: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        for field in ("kind", "text"):
            if row.get(field) is None:
                raise ValueError(f"trajectory row {row.get('id', i)} has no {field!r}")
        kind = row["kind"]
        lengths.setdefault(kind, []).append(count(row["text"]))
        backtracks.setdefault(kind, []).append(int(row.get("n_backtracks") or 0))
    return {
        kind: {
            "n": len(lengths[kind]),
            "tokens": _summary(lengths[kind]),
            "backtracks": _summary(backtracks[kind]),
            "with_mistakes": sum(1 for b in backtracks[kind] if b > 0),
            "lengths": lengths[kind],
            "backtrack_counts": backtracks[kind],
        }
        for kind in sorted(lengths)
    }


def format_stats_table(stats: Mapping[str, Mapping[str, Any]], unit: str = "tokens") -> str:
    """A Markdown table of `trajectory_stats` output (readable in a terminal and in the card)."""
    header = (
        f"| kind | rows | mean {unit} | median | p90 | max | mean backtracks | max backtracks "
        f"| rows with mistakes |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    lines = [header]
    for kind, s in stats.items():
        t, b = s["tokens"], s["backtracks"]
        lines.append(
            f"| {kind} | {s['n']} | {t['mean']} | {t['median']} | {t['p90']} | {t['max']} "
            f"| {b['mean']} | {b['max']} | {s['with_mistakes']} |"
        )
    return "\n".join(lines)


def plot_histograms(stats: Mapping[str, Mapping[str, Any]], path: Path, unit: str = "tokens") -> Path:
    """Save length and backtrack histograms, one colour per kind, as a PNG at `path`."""
    import matplotlib

    matplotlib.use("Agg")  # no display on servers; must precede pyplot
    import matplotlib.pyplot as plt
    import numpy as np

    fig, (ax_len, ax_bt) = plt.subplots(1, 2, figsize=(10, 4))
    # One set of bins for every kind: per-kind bins collapse to zero width when all of a kind's
    # lengths are equal (shortcuts of one problem size are), and the bars vanish.
    lengths = [x for s in stats.values() for x in s["lengths"]]
    low, high = (min(lengths), max(lengths)) if lengths else (0, 1)
    bins = np.linspace(low, max(high, low + 1), 31)
    for kind, s in stats.items():
        ax_len.hist(s["lengths"], bins=bins, alpha=0.6, label=f"{kind} (n={s['n']})")
    ax_len.set_xlabel(f"trajectory length ({unit})")
    ax_len.set_ylabel("trajectories")
    ax_len.legend()
    top = max((max(s["backtrack_counts"], default=0) for s in stats.values()), default=0)
    for kind, s in stats.items():
        # Integer bins: "2 backtracks" is a count, not a range.
        ax_bt.hist(s["backtrack_counts"], bins=range(top + 2), alpha=0.6, align="left", label=kind)
    ax_bt.set_xlabel("backtracks (mistakes) per trajectory")
    ax_bt.set_ylabel("trajectories")
    ax_bt.legend()
    fig.suptitle("journeyforge export: length and mistakes per kind")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
