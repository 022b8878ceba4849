"""The task's reading of a stored tree's steps, and the trajectory dict every linearizer returns.

The tree itself is read through `db.stored_tree.StoredTree` (children, paths, solutions); what needs
the task lives here: a node's line as a trajectory shows it, whether a solution's answer verifies, and
the rendered trajectory row that `trajectories` stores.
"""
from __future__ import annotations

from typing import Any

from db.stored_tree import StoredTree
from search.tasks.base import THINK_CLOSE, THINK_OPEN, Problem, Task


def step_line(tree: StoredTree, n: int, task: Task) -> str:
    """The line the model wrote at `n` as a trajectory shows it: without surrounding whitespace and
    cut at the first frame marker (`Task.quote`: a step that ran on into `</think>` never closes the
    trace's reasoning early)."""
    line = task.quote(tree.node(n).get("text"))
    if not line:
        raise ValueError(f"tree {tree.tree_id!r}: node {n} has no `text` besides frame markers; a step needs its line")
    return line


def has_line(tree: StoredTree, n: int, task: Task) -> bool:
    """Whether node `n` has a line to show (`step_line` would not raise): a sampled empty line or a
    step of nothing but frame markers has none."""
    return bool(task.quote(tree.node(n).get("text")))


def verified_answer(tree: StoredTree, task: Task, problem: Problem, solution: int) -> str | None:
    """The task's final answer for the path to `solution`, or None when the verifier rejects it."""
    states = [tree.node(n).get("state") for n in tree.path(solution)]
    if any(s is None for s in states):
        raise ValueError(f"tree {tree.tree_id!r}: a node on the path to solution {solution} has no `state`")
    answer = task.final_answer(problem, states)
    return answer if task.verify(problem, answer) else None


def trajectory(
    tree: StoredTree,
    task: Task,
    problem: Problem,
    *,
    kind: str,
    idx: int,
    lines: list[str],
    node_ids: list[int],
    answer: str | None,
    n_steps: int,
    n_backtracks: int,
) -> dict[str, Any]:
    """One trajectory dict in the shape every linearizer returns (and `trajectories` stores).

    `answer` None (a failed search's stream) closes the reasoning with no answer after it."""
    if answer is None:
        text = f"{THINK_OPEN}\n{task.join_steps(lines)}\n{THINK_CLOSE}"
    else:
        text = task.render_completion(lines, answer)
    return {
        "tree_id": tree.tree_id,
        "kind": kind,
        "idx": idx,
        "text": text,
        "lines": list(lines),
        "node_ids": list(node_ids),
        "answer": answer,
        "n_steps": n_steps,
        "n_backtracks": n_backtracks,
        "is_correct": answer is not None and bool(task.verify(problem, answer)),
        "messages": [
            {"role": "user", "content": task.instructions(problem)},
            {"role": "assistant", "content": text},
        ],
    }


__all__ = ["has_line", "step_line", "trajectory", "verified_answer"]
