"""The exact solver against an independent brute force over all expression trees."""
from __future__ import annotations

import random
from collections import Counter
from fractions import Fraction
from functools import lru_cache
from itertools import combinations

import pytest

from search.tasks.countdown.arithmetic import Num, parse, uses_exactly
from search.tasks.countdown.solver import legal_steps, solution_steps, solutions, solvable


@lru_cache(maxsize=None)
def _trees(nums: tuple[int, ...]) -> frozenset[tuple[int, str]]:
    """All (value, canonical tree) pairs over the multiset `nums` whose every node is a positive integer."""
    if len(nums) == 1:
        return frozenset({(nums[0], str(nums[0]))})
    out = set()
    idx = range(len(nums))
    for size in range(1, len(nums)):
        for left_idx in combinations(idx, size):
            left = tuple(sorted(nums[i] for i in left_idx))
            right = tuple(sorted(nums[i] for i in idx if i not in left_idx))
            for lv, lt in _trees(left):
                for rv, rt in _trees(right):
                    for op in "+-*/":
                        value = _exact(lv, op, rv)
                        if value is not None and value > 0 and value.denominator == 1:
                            out.add((int(value), _canon_pair(op, lt, rt)))
    return frozenset(out)


def _exact(a: int, op: str, b: int) -> Fraction | None:
    if op == "/":
        return Fraction(a, b) if b else None
    return Fraction({"+": a + b, "-": a - b, "*": a * b}[op])


def _canon_pair(op: str, left: str, right: str) -> str:
    if op in "+*":
        left, right = sorted((left, right))
    return f"({left} {op} {right})"


def _canon(tree) -> str:
    if isinstance(tree, Num):
        return str(tree.value)
    return _canon_pair(tree.op, _canon(tree.left), _canon(tree.right))


def brute_force(nums: list[int], target: int) -> set[str]:
    """Canonical trees of every expression that uses all of `nums` once and makes `target`."""
    return {tree for value, tree in _trees(tuple(sorted(nums))) if value == target}


def random_instances(count: int, seed: int):
    rng = random.Random(seed)
    for _ in range(count):
        n = rng.choice((2, 3, 4))
        yield [rng.randint(1, 12) for _ in range(n)], rng.randint(1, 60)


@pytest.mark.parametrize("seed", range(4))
def test_solvable_agrees_with_brute_force_over_expression_trees(seed):
    for nums, target in random_instances(40, seed):
        assert solvable(nums, target) == bool(brute_force(nums, target)), (nums, target)


def _value_steps(tree) -> tuple[int, frozenset]:
    """A tree's value and the multiset of its steps `a op b = c` by value (what a step sequence is)."""
    if isinstance(tree, Num):
        return tree.value, frozenset()
    (lv, ls), (rv, rs) = _value_steps(tree.left), _value_steps(tree.right)
    value = int(_exact(lv, tree.op, rv))
    a, b = (max(lv, rv), min(lv, rv)) if tree.op in "+*" else (lv, rv)
    merged = Counter(dict(ls)) + Counter(dict(rs)) + Counter({(a, tree.op, b, value): 1})
    return value, frozenset(merged.items())


@pytest.mark.parametrize("seed", range(2))
def test_solutions_cover_every_brute_force_expression_up_to_step_order(seed):
    for nums, target in random_instances(25, seed + 10):
        found = solutions(nums, target)
        brute = brute_force(nums, target)
        # Every rendered solution is one of the brute-force trees, and uses every number once.
        assert {_canon(parse(s)) for s in found} <= brute, (nums, target)
        assert all(uses_exactly(s, nums, target) for s in found)
        # Trees that differ only in which of two equal values feeds a step are one step sequence.
        assert {_value_steps(parse(s))[1] for s in found} == {_value_steps(parse(t))[1] for t in brute}


def test_steps_keep_results_positive_integers():
    assert legal_steps([7, 3]) == [(7, "+", 3, 10), (7, "-", 3, 4), (7, "*", 3, 21)]
    assert (4, "-", 4, 0) not in legal_steps([4, 4])
    assert (8, "/", 4, 2) in legal_steps([4, 8])


def test_solution_steps_reach_the_target_using_every_number():
    steps = solution_steps([28, 18, 5], 15)
    assert steps is not None and steps[-1][3] == 15 and len(steps) == 2
    assert solution_steps([1, 1], 5) is None


def test_every_number_must_be_used():
    assert solvable([10, 1, 1], 10)          # 10 * (1 * 1)
    assert not solvable([10, 25], 10)        # 10 alone is not a solution: 25 must be used too
    assert not solvable([4, 4], 0)           # no step may produce 0
