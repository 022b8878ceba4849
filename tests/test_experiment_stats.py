"""The experiment's statistics on hand-made numbers whose right answers are known."""
from __future__ import annotations

import math

import numpy as np
import pytest

from analysis.report import majority_correct
from analysis.stats import bootstrap_mean, mcnemar_exact, paired_difference, pass_at_k


def test_bootstrap_of_a_constant_has_no_width_and_a_coin_has_the_binomial_width():
    assert bootstrap_mean([1] * 50, 500).percent() == "100.0 [100.0, 100.0]"
    half = bootstrap_mean([1, 0] * 100, 4000, seed=1)
    # 200 fair outcomes: standard error 0.0354, so the 95% interval is about 0.5 +- 0.069
    assert half.value == 0.5
    assert 0.42 < half.low < 0.445 and 0.555 < half.high < 0.58


def test_bootstrap_over_seeds_widens_the_interval_when_seeds_disagree():
    same = np.array([[1, 0] * 50, [1, 0] * 50, [1, 0] * 50])
    apart = np.array([[1] * 100, [0] * 100, [1, 0] * 50])
    a, b = bootstrap_mean(same, 2000), bootstrap_mean(apart, 2000)
    assert a.value == b.value == 0.5
    assert (b.high - b.low) > 2 * (a.high - a.low)


def test_paired_difference_of_identical_arms_is_exactly_zero_and_a_shift_is_found():
    x = np.array([1, 0, 1, 1, 0] * 20)
    assert paired_difference(x, x, 500).percent() == "0.0 [0.0, 0.0]"
    y = x.copy()
    y[:30] = 0  # the other arm loses 18 of x's 60 right answers
    diff = paired_difference(x, y, 2000)
    assert math.isclose(diff.value, 0.18)
    assert diff.low > 0.08 and diff.high < 0.27
    with pytest.raises(ValueError, match="same problems"):
        paired_difference(x, y[:10])


def test_mcnemar_exact_matches_the_binomial_tail():
    x = [1] * 6 + [0] * 10
    y = [0] * 6 + [0] * 10
    assert mcnemar_exact(x, y) == (6, 0, 2 / 64)
    b, c, p = mcnemar_exact([1] + [0] * 9 + [1] * 5, [0] + [1] * 9 + [1] * 5)
    assert (b, c) == (1, 9) and math.isclose(p, 2 * (1 + 10) / 1024)
    assert mcnemar_exact([1, 0], [1, 0]) == (0, 0, 1.0)


def test_pass_at_k_is_the_unbiased_estimator():
    assert pass_at_k(4, 1, 1) == 0.25
    assert pass_at_k(4, 1, 4) == 1.0 and pass_at_k(4, 0, 3) == 0.0
    assert math.isclose(pass_at_k(10, 3, 2), 1 - math.comb(7, 2) / math.comb(10, 2))
    with pytest.raises(ValueError):
        pass_at_k(4, 1, 5)


def test_majority_vote_uses_the_tasks_equivalence_and_the_first_k_samples():
    same = lambda a, b: a.replace(" ", "") == b.replace(" ", "")  # noqa: E731
    rows = [{"answer": "1 + 2", "is_correct": True}, {"answer": "7", "is_correct": False},
            {"answer": "7", "is_correct": False}, {"answer": "1+2", "is_correct": True},
            {"answer": "1 +2", "is_correct": True}]
    assert majority_correct(rows, 1, same) is True
    assert majority_correct(rows, 3, same) is False   # 7 wins 2 to 1
    assert majority_correct(rows, 5, same) is True    # 1 + 2 wins 3 to 2
    assert majority_correct([{"answer": None, "is_correct": False}], 1, same) is False
