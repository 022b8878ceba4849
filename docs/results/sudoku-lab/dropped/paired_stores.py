"""Paired comparison of students evaluated in two stores on the same held-out puzzles (the dropped-trace
pilot ran in its own store, beside the preset's): greedy accuracy of each model and the paired
difference (bootstrap over puzzles, seeds resampled within an arm; analysis/stats.py) and exact
McNemar test of each model against the first. Puzzles are matched by their text, not their ids.

    python docs/results/sudoku-lab/dropped/paired_stores.py STORE_A MODEL[,MODEL...] STORE_B MODEL[,MODEL...]

The models of one side are that arm's seeds (e.g. shortcut/s0,shortcut/s1,shortcut/s2); the first
side is the reference.
"""
from __future__ import annotations

import sqlite3
import sys

from analysis.stats import bootstrap_mean, mcnemar_exact, paired_difference


def outcomes(path: str, models: list[str]) -> dict[str, dict[str, bool]]:
    """model -> puzzle -> greedy answer correct, from the store's evals of held-out problems."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    rows = db.execute("SELECT e.model, json_extract(p.payload, '$.puzzle'), e.is_correct FROM evals e "
                      "JOIN problems p ON p.id = e.problem_id WHERE p.split = 'test'").fetchall()
    out: dict[str, dict[str, bool]] = {m: {} for m in models}
    for model, puzzle, ok in rows:
        if model in out:
            out[model][puzzle] = bool(ok)
    for m, got in out.items():
        if not got:
            sys.exit(f"{path}: no eval rows of model {m!r}")
    return out


def main(a_path: str, a_models: str, b_path: str, b_models: str) -> None:
    a = outcomes(a_path, a_models.split(","))
    b = outcomes(b_path, b_models.split(","))
    puzzles = sorted(set.intersection(*(set(v) for v in [*a.values(), *b.values()])))
    print(f"{len(puzzles)} puzzles evaluated by every model")
    A = [[a[m][p] for p in puzzles] for m in a]
    B = [[b[m][p] for p in puzzles] for m in b]
    for name, side in ((a_models, A), (b_models, B)):
        ci = bootstrap_mean(side)
        print(f"{name}: {100 * ci.value:.1f}% [{100 * ci.low:.1f}, {100 * ci.high:.1f}]")
    d = paired_difference(B, A)
    print(f"second - first: {100 * d.value:+.1f} points [{100 * d.low:+.1f}, {100 * d.high:+.1f}]")
    for i, row in enumerate(B):
        ref = A[min(i, len(A) - 1)]
        only_b, only_a, p = mcnemar_exact(row, ref)
        print(f"  seed {i}: {only_b} puzzles only the second solves, {only_a} only the first, McNemar p = {p:.3g}")


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    main(*sys.argv[1:])
