"""Countdown prompt texts: the question, few-shot completions, and chat instructions.

Few-shot examples are written in exactly the frame exported data uses (`question` then
`render_completion`), so a base-style completion prompt, a tuned model and the verifier all
agree on one format. On this machine the 135M default model writes a valid first step far more
often from a plain few-shot completion than from a chat prompt, so few-shot is the default.
"""
from __future__ import annotations

import random
from functools import lru_cache

from search.tasks.base import THINK_OPEN, Problem
from search.tasks.countdown.answer import format_answer
from search.tasks.countdown.generator import is_held_out_target, problem_key
from search.tasks.countdown.solver import Step, after, render_solution, solution_paths, solution_steps
from search.tasks.countdown.steps import format_nums, format_step

N_EXAMPLES = 3
RULES = (
    "Use the numbers to reach the target. Each step takes two of the numbers that are left and "
    "replaces them with their sum, difference, product or quotient. Every result must be a positive "
    "whole number: subtract the smaller number from the larger, and divide only when it divides "
    "exactly. Use every number exactly once; the puzzle is solved when the last number left equals "
    "the target."
)
FORMAT = (
    "Think inside <think> </think>, writing one step per line in the form "
    "`28 - 18 = 10`. Then write the whole calculation as one expression inside "
    "<answer> </answer>, for example <answer>(28 - 18) + 5</answer>."
)
SYSTEM = "You solve Countdown arithmetic puzzles carefully, one step at a time."


def question(nums: list[int], target: int) -> str:
    """`Numbers: 3, 5, 7\\nTarget: 22\\n`."""
    return f"Numbers: {format_nums(nums)}\nTarget: {target}\n"


def step_lines(nums: list[int], steps: list[Step], show_left: bool = False) -> list[str]:
    """The step lines of a step sequence: `a op b = c`, with its `Left:` list when `show_left`.

    Measured with SmolLM2-135M (32 first steps each, temperature 0.7-1.0): with `Left:` lists in
    the examples at most 2 of 32 first steps were legal, mostly because the list it wrote was
    wrong; without them 23 of 32 were. Lists are still parsed and checked when a model writes them.
    """
    lines, current = [], list(nums)
    for step in steps:
        current = after(current, step)
        line = format_step(*step, current)
        lines.append(line if show_left else line.split(". Left:")[0])
    return lines


def render_completion(lines: list[str], answer: str) -> str:
    """`<think>` + one line per step + `</think>` + `<answer>answer</answer>` (as `Task.render_completion`)."""
    body = "\n".join(lines)
    return f"{THINK_OPEN}\n{body}\n</think>\n{format_answer(answer)}"


def worked_example(nums: list[int], target: int, steps: list[Step]) -> str:
    """One solved problem in the exported frame: question, then `<think>` steps and `<answer>`."""
    return question(nums, target) + render_completion(step_lines(nums, steps), render_solution(nums, steps))


# Hand-picked three-number examples (measured with SmolLM2-135M, 32 first steps at temperature
# 0.7: 23 legal with these against 11 with generated ones, which taught it to copy `5 * 1 = 5`).
# Each first step combines the first two listed numbers in order; each operator but / appears.
FIXED_EXAMPLES: dict[int, tuple] = {
    3: (((4, 6, 7), 17, ((4, "+", 6, 10), (7, "+", 10, 17))),
        ((8, 2, 3), 18, ((8, "-", 2, 6), (3, "*", 6, 18))),
        ((5, 3, 6), 21, ((5, "*", 3, 15), (6, "+", 15, 21)))),
}


@lru_cache(maxsize=64)
def example_problems(n_numbers: int, test_fraction: float, max_number: int = 9
                     ) -> tuple[tuple[tuple[int, ...], int, tuple[Step, ...]], ...]:
    """Fixed solved examples with `n_numbers` numbers and train-split targets (never a test target).

    Fixed per size so every prompt of a run shares one prefix (prefix caching). Each example's
    first step combines the first two listed numbers: small models copy that pattern and so write
    far more legal first steps (measured: 23/32 legal vs 10/32 with steps in random order); the
    operators still vary across examples.
    """
    fixed = FIXED_EXAMPLES.get(n_numbers)
    if fixed and not any(is_held_out_target(t, test_fraction) for _, t, _ in fixed):
        return fixed
    rng = random.Random(f"countdown-fewshot-{n_numbers}-{max_number}")
    examples, seen, ops = [], set(), set()
    while len(examples) < N_EXAMPLES + 1:
        nums = [rng.randint(1, max(max_number, 3)) for _ in range(n_numbers)]
        target = rng.randint(10, max(10 * n_numbers, 4 * max(max_number, 3)))
        key = problem_key(nums, target)
        if key in seen or is_held_out_target(target, test_fraction):
            continue
        paths = solution_paths(nums, target) if n_numbers <= 4 else [solution_steps(nums, target) or []]
        paths = [p for p in paths if p and (p[0][0], p[0][2]) == tuple(nums[:2])]
        if not paths:
            continue
        steps = rng.choice(paths)
        # Prefer examples that show an operator not shown yet, so all four appear across the examples.
        new_ops = {op for _, op, _, _ in steps} - ops
        if not new_ops and len(examples) < N_EXAMPLES and rng.random() < 0.8:
            continue
        ops |= {op for _, op, _, _ in steps}
        seen.add(key)
        examples.append((tuple(nums), target, tuple(steps)))
    return tuple(examples)


def fewshot_prompt(problem: Problem, test_fraction: float, max_number: int = 9) -> str:
    """Three worked examples separated by blank lines, then the problem's question and `<think>\\n`."""
    nums, target = problem.payload["nums"], problem.payload["target"]
    key = problem_key(nums, target)
    # One-number problems have no steps to show; they get two-number examples.
    shots = [e for e in example_problems(max(2, len(nums)), test_fraction, max_number) if problem_key(list(e[0]), e[1]) != key]
    blocks = [worked_example(list(n), t, list(s)) for n, t, s in shots[:N_EXAMPLES]]
    return "\n\n".join(blocks) + "\n\n" + question(nums, target) + f"{THINK_OPEN}\n"


def instructions(problem: Problem) -> str:
    """Rules, format and the problem as one user message."""
    return f"{RULES}\n\n{FORMAT}\n\n{question(problem.payload['nums'], problem.payload['target'])}"


def chat_messages(problem: Problem, test_fraction: float, max_number: int = 9) -> list[dict[str, str]]:
    """System and user messages: rules, format, one worked example, then the problem."""
    nums, target, steps = example_problems(max(2, len(problem.payload["nums"])), test_fraction, max_number)[0]
    example = worked_example(list(nums), target, list(steps))
    user = (
        f"{RULES}\n\n{FORMAT}\n\nExample:\n{example}\n\nNow solve this one:\n"
        f"{question(problem.payload['nums'], problem.payload['target'])}"
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]
