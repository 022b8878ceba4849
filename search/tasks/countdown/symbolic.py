"""Countdown's symbolic expansion: every legal step of a state, and Stream of Search's heuristics.

The heuristics are those of Stream of Search's data generator (Gandhi et al. 2024,
`src/countdown_utils.py`): `sum` is the mean distance of the numbers left from the target (the
distance itself when one is left), `mult` the summed distance of each number from its nearest
factor of the target. Lower is closer; the searches expand the lowest first.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from search.tasks.countdown.solver import combine, wrap

HEURISTICS = ("sum", "mult")


def sum_heuristic(nums: list[int] | tuple[int, ...], target: int) -> float:
    """Mean |n - target| over the numbers left (Stream of Search's `sum_heuristic`)."""
    if len(nums) == 1:
        return float(abs(nums[0] - target))
    return sum(abs(n - target) for n in nums) / len(nums)


@lru_cache(maxsize=4096)
def _factors(target: int) -> tuple[int, ...]:
    # Stream of Search takes factors from 2 up; a target of 0 or 1 has none, so it is its own.
    return tuple(i for i in range(2, target + 1) if target % i == 0) or (target,)


def mult_heuristic(nums: list[int] | tuple[int, ...], target: int) -> float:
    """Sum over the numbers left of the distance to the nearest factor of the target
    (Stream of Search's `mult_heuristic`, its "softer version")."""
    factors = _factors(target)
    return float(sum(min(abs(n - f) for f in factors) for n in nums))


def heuristic(state: dict[str, Any], name: str) -> float:
    """Heuristic `name` (`sum` or `mult`) of a Countdown state."""
    if name == "sum":
        return sum_heuristic(state["nums"], state["target"])
    if name == "mult":
        return mult_heuristic(state["nums"], state["target"])
    raise ValueError(f"countdown has no heuristic {name!r}; choose one of {HEURISTICS}")


def legal_steps(state: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every distinct legal step of `state` as (its canonical line, the state after it), pairs in
    order of position and operations in the solver's order (+ - * /).

    The state after a step is built here the way `steps.next_state` builds it (operands removed,
    result appended with its expression), without parsing the line back: the symbolic policy scores
    thousands of these per second.
    """
    nums, exprs, target = state["nums"], state["exprs"], state["target"]
    out: list[tuple[str, dict[str, Any]]] = []
    seen: set[tuple[int, str, int]] = set()
    n = len(nums)
    for i in range(n):
        for j in range(i + 1, n):
            x, y = nums[i], nums[j]
            # `combine` writes the larger operand first; `next_state` removes the first occurrence
            # of each operand, so the expressions follow the positions of those occurrences.
            for a, op, b, c in combine(x, y):
                if (a, op, b) in seen:
                    continue
                seen.add((a, op, b))
                rest_n, rest_e = list(nums), list(exprs)
                ia = rest_n.index(a)
                ea = rest_e.pop(ia)
                rest_n.pop(ia)
                ib = rest_n.index(b)
                eb = rest_e.pop(ib)
                rest_n.pop(ib)
                rest_n.append(c)
                rest_e.append(f"{wrap(ea)} {op} {wrap(eb)}")
                # `steps.format_step`'s line, inlined (a test keeps the two equal).
                line = f"{a} {op} {b} = {c}. Left: {', '.join(map(str, rest_n))}"
                out.append((line, {"nums": rest_n, "exprs": rest_e, "target": target}))
    return out
