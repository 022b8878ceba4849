"""Exact Countdown solver: the oracle behind `dead_end` labels, gold answers and scripted steps.

Rules (Stream of Search, Gandhi et al. 2024; TinyZero): one step replaces two remaining numbers
by `a + b`, `a - b`, `a * b` or `a / b`, and the result must be a positive integer (so
subtraction is larger minus smaller and division must be exact). Every number is used exactly
once; a problem is solved when the last number left equals the target.
"""
from __future__ import annotations

from functools import lru_cache

# One step: (a, op, b, c) meaning `a op b = c`.
Step = tuple[int, str, int, int]

OPS = ("+", "-", "*", "/")


def combine(x: int, y: int) -> list[Step]:
    """Every legal step on the pair `x, y`, written larger operand first, in the order of OPS."""
    hi, lo = max(x, y), min(x, y)
    steps: list[Step] = []
    if hi + lo > 0:
        steps.append((hi, "+", lo, hi + lo))
    if hi - lo > 0:
        steps.append((hi, "-", lo, hi - lo))
    if hi * lo > 0:
        steps.append((hi, "*", lo, hi * lo))
    if lo > 0 and hi % lo == 0:
        steps.append((hi, "/", lo, hi // lo))
    return steps


def remove_pair(nums: list[int] | tuple[int, ...], a: int, b: int) -> list[int]:
    """`nums` without one `a` and one `b` (first occurrences), order kept; ValueError if absent."""
    rest = list(nums)
    rest.remove(a)
    rest.remove(b)
    return rest


def legal_steps(nums: list[int] | tuple[int, ...]) -> list[Step]:
    """All distinct legal steps from `nums` (duplicate numbers do not repeat a step)."""
    seen: set[Step] = set()
    steps: list[Step] = []
    for i in range(len(nums)):
        for j in range(i + 1, len(nums)):
            for step in combine(nums[i], nums[j]):
                if step not in seen:
                    seen.add(step)
                    steps.append(step)
    return steps


def after(nums: list[int] | tuple[int, ...], step: Step) -> list[int]:
    """The numbers left after `step`: the two operands removed, the result appended."""
    a, _, b, c = step
    return remove_pair(nums, a, b) + [c]


@lru_cache(maxsize=1 << 20)
def _solvable(nums: tuple[int, ...], target: int) -> bool:
    # The legal_steps / after recursion inlined (the oracle is on every node's labelling path):
    # same rules, same answer; `nums` is sorted, so nums[j] >= nums[i] for j > i.
    n = len(nums)
    if n == 1:
        return nums[0] == target
    for i in range(n - 1):
        lo = nums[i]
        for j in range(i + 1, n):
            hi = nums[j]
            rest = nums[:i] + nums[i + 1:j] + nums[j + 1:]
            results = [hi + lo, hi - lo, hi * lo]
            if lo > 0 and hi % lo == 0:
                results.append(hi // lo)
            for c in results:
                if c > 0:
                    if n == 2:
                        if c == target:
                            return True
                    elif _solvable(tuple(sorted(rest + (c,))), target):
                        return True
    return False


def solvable(nums: list[int] | tuple[int, ...], target: int) -> bool:
    """Whether `nums` can still make `target` under the rules (memoised on the sorted multiset)."""
    if not nums:
        return False
    return _solvable(tuple(sorted(nums)), target)


def solution_steps(nums: list[int] | tuple[int, ...], target: int) -> list[Step] | None:
    """One step sequence that reaches `target` (depth-first, first found), or None."""
    if not solvable(nums, target):
        return None
    path: list[Step] = []
    current = list(nums)
    while len(current) > 1:
        step = next(s for s in legal_steps(current) if solvable(after(current, s), target))
        path.append(step)
        current = after(current, step)
    return path


def solution_paths(nums: list[int] | tuple[int, ...], target: int) -> list[list[Step]]:
    """Every distinct step sequence that reaches `target` (the oracle prunes dead branches)."""
    paths: list[list[Step]] = []

    def walk(current: list[int], prefix: list[Step]) -> None:
        if len(current) == 1:
            paths.append(list(prefix))
            return
        for step in legal_steps(current):
            rest = after(current, step)
            if solvable(rest, target):
                prefix.append(step)
                walk(rest, prefix)
                prefix.pop()

    if solvable(nums, target):
        walk(list(nums), [])
    return paths


def wrap(expr: str) -> str:
    """`expr` in parentheses unless it is a bare number (so that it can be an operand)."""
    return expr if expr.isdigit() else f"({expr})"


def strip_outer_parens(expr: str) -> str:
    """`expr` without parentheses that enclose all of it: `((28 - 18) + 5)` -> `(28 - 18) + 5`."""
    expr = expr.strip()
    while expr.startswith("(") and expr.endswith(")"):
        depth = 0
        for i, ch in enumerate(expr):
            depth += ch == "("
            depth -= ch == ")"
            if depth == 0 and i < len(expr) - 1:
                return expr  # the first "(" closes before the end: "(a) + (b)"
        expr = expr[1:-1].strip()
    return expr


def replay(nums: list[int] | tuple[int, ...], steps: list[Step]) -> tuple[list[int], list[str]]:
    """Apply `steps` to `nums`, tracking an expression per number; returns (nums, exprs) left."""
    current, exprs = list(nums), [str(n) for n in nums]
    for a, op, b, c in steps:
        i = current.index(a)
        ea = exprs[i]
        del current[i], exprs[i]
        j = current.index(b)
        eb = exprs[j]
        del current[j], exprs[j]
        current.append(c)
        exprs.append(f"{wrap(ea)} {op} {wrap(eb)}")
    return current, exprs


def render_solution(nums: list[int] | tuple[int, ...], steps: list[Step]) -> str:
    """The answer expression of a full step sequence, e.g. `(28 - 18) + 5`."""
    _, exprs = replay(nums, steps)
    if len(exprs) != 1:
        raise ValueError(f"steps leave {len(exprs)} numbers, not one: {steps}")
    return strip_outer_parens(exprs[0])


def solutions(nums: list[int] | tuple[int, ...], target: int) -> list[str]:
    """All distinct step sequences that reach `target`, rendered as answer expressions (deduplicated)."""
    seen: dict[str, None] = {}
    for path in solution_paths(nums, target):
        seen.setdefault(render_solution(nums, path))
    return list(seen)
