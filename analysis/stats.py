"""Statistics of an experiment's evaluations: bootstrap intervals, paired differences, McNemar's
test, pass@k and maj@k. Plain functions over 0/1 arrays, so the report's numbers can be checked by
hand and recomputed from the `evals` rows.

Accuracy matrices are (seeds x problems): one row per trained seed of an arm, one column per
held-out problem, the same problems in the same order for every arm.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

DEFAULT_RESAMPLES = 10_000


@dataclass
class Interval:
    """A point estimate with its 95% (or `level`) interval."""

    value: float
    low: float
    high: float

    def percent(self, digits: int = 1) -> str:
        """`"41.5 [37.0, 46.0]"` in percent."""
        return f"{100 * self.value:.{digits}f} [{100 * self.low:.{digits}f}, {100 * self.high:.{digits}f}]"


def _matrix(x: Sequence | np.ndarray) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2 or a.shape[1] == 0:
        raise ValueError(f"expected a (seeds x problems) matrix with at least one problem, got shape {a.shape}")
    return a


def bootstrap_mean(x: Sequence | np.ndarray, resamples: int = DEFAULT_RESAMPLES, level: float = 0.95,
                   seed: int = 0) -> Interval:
    """Mean of a (seeds x problems) matrix with a percentile bootstrap interval that resamples
    problems and, where there are several, seeds (a two-level bootstrap: both are random draws)."""
    a = _matrix(x)
    rng = np.random.default_rng(seed)
    n_seeds, n_problems = a.shape
    p = rng.integers(0, n_problems, size=(resamples, n_problems))
    if n_seeds > 1:
        s = rng.integers(0, n_seeds, size=(resamples, n_seeds))
        # mean over the resampled seeds of each seed row's mean over the resampled problems
        means = np.stack([a[s[b]][:, p[b]].mean() for b in range(resamples)])
    else:
        means = a[0][p].mean(axis=1)
    tail = (1 - level) / 2
    return Interval(float(a.mean()), float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail)))


def paired_difference(x: Sequence | np.ndarray, y: Sequence | np.ndarray, resamples: int = DEFAULT_RESAMPLES,
                      level: float = 0.95, seed: int = 0) -> Interval:
    """mean(x) - mean(y) on the same problems, with a paired bootstrap interval (problems resampled
    together for both arms; seeds resampled within each arm)."""
    a, b = _matrix(x), _matrix(y)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"paired comparison needs the same problems: {a.shape[1]} vs {b.shape[1]}")
    rng = np.random.default_rng(seed)
    n = a.shape[1]
    p = rng.integers(0, n, size=(resamples, n))
    diffs = np.empty(resamples)
    for i in range(resamples):
        sa = rng.integers(0, a.shape[0], a.shape[0]) if a.shape[0] > 1 else [0]
        sb = rng.integers(0, b.shape[0], b.shape[0]) if b.shape[0] > 1 else [0]
        diffs[i] = a[sa][:, p[i]].mean() - b[sb][:, p[i]].mean()
    tail = (1 - level) / 2
    return Interval(float(a.mean() - b.mean()), float(np.quantile(diffs, tail)), float(np.quantile(diffs, 1 - tail)))


def mcnemar_exact(x: Sequence[bool], y: Sequence[bool]) -> tuple[int, int, float]:
    """Exact (binomial) two-sided McNemar test of paired 0/1 outcomes: (b, c, p) where b counts
    pairs only `x` got right and c pairs only `y` got right."""
    if len(x) != len(y):
        raise ValueError(f"McNemar needs paired outcomes: {len(x)} vs {len(y)}")
    b = sum(1 for u, v in zip(x, y) if u and not v)
    c = sum(1 for u, v in zip(x, y) if v and not u)
    n = b + c
    if n == 0:
        return b, c, 1.0
    k = min(b, c)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    return b, c, min(1.0, 2 * tail)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples of which c are correct (Chen et al. 2021)."""
    if not 1 <= k <= n:
        raise ValueError(f"pass@k needs 1 <= k <= n, got k={k}, n={n}")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)
