"""Read-only helpers over a stored search tree (the `networkx.DiGraph` of `TraceStore.tree`).

Node keys are node ids; node attributes are the `nodes` columns; `G.graph` holds `tree_id`,
`root` and `problem`. Every linearizer reads the tree through these helpers so that the
conventions (sibling order, what counts as a failure, which solution is "best") live in one place.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, TypeVar

import networkx as nx

from search.tasks.base import MISTAKE_LABELS, SOLUTION, THINK_CLOSE, THINK_OPEN, Problem, Task

_PROBLEM_FIELDS = ("key", "payload")
C = TypeVar("C")


def as_config(cls: type[C], cfg: Any) -> C:
    """`cfg` as the linearizer's config dataclass: None, an instance, or a mapping (dict / Hydra).

    Unknown keys are an error naming the option, so a typo in a sweep does not silently run the
    defaults.
    """
    if cfg is None:
        return cls()
    if isinstance(cfg, cls):
        return cfg
    if not hasattr(cfg, "items"):
        raise TypeError(f"{cls.__name__}: expected a mapping or {cls.__name__}, got {type(cfg).__name__}")
    known = {f.name for f in dataclasses.fields(cls)}
    values = dict(cfg.items())
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown option(s) {unknown}; known: {sorted(known)}")
    return cls(**values)


def tree_id(G: nx.DiGraph) -> Any:
    """The tree id recorded in `G.graph` (None when a hand-built graph has none)."""
    return G.graph.get("tree_id")


def root_of(G: nx.DiGraph) -> int:
    """The root node id from `G.graph["root"]`; a clear error when it is missing or wrong."""
    root = G.graph.get("root")
    if root is None or root not in G:
        raise ValueError(f"tree {tree_id(G)!r}: G.graph['root'] is {root!r}, not a node of the tree")
    return root


def problem_of(G: nx.DiGraph) -> Problem:
    """The tree's problem (`G.graph["problem"]`, a `problems` row as a dict) as a task `Problem`."""
    row = G.graph.get("problem")
    if not isinstance(row, dict):
        raise ValueError(f"tree {tree_id(G)!r}: G.graph['problem'] must be a dict, got {type(row).__name__}")
    missing = [f for f in _PROBLEM_FIELDS if f not in row]
    if missing:
        raise ValueError(f"tree {tree_id(G)!r}: G.graph['problem'] lacks field(s) {missing}")
    return Problem.from_row(row)


def seq_of(G: nx.DiGraph, n: int) -> int:
    """The node's creation order (`seq`); the node id when a hand-built graph has no seq."""
    seq = G.nodes[n].get("seq")
    return n if seq is None else seq


def children(G: nx.DiGraph, n: int) -> list[int]:
    """Children of `n` in creation (`seq`) order."""
    return sorted(G.successors(n), key=lambda c: seq_of(G, c))


def parent_of(G: nx.DiGraph, n: int) -> int | None:
    """The parent of `n`, None at the root."""
    preds = list(G.predecessors(n))
    return preds[0] if preds else None


def path_to(G: nx.DiGraph, n: int) -> list[int]:
    """Node ids from the root down to `n`, both included."""
    root = root_of(G)
    return nx.shortest_path(G, root, n)


def label(G: nx.DiGraph, n: int) -> str:
    """The node's label (`root`, `valid`, `invalid`, `dead_end`, `solution`, `wrong_answer`)."""
    return G.nodes[n].get("label")


def is_failure(G: nx.DiGraph, n: int) -> bool:
    """A mistake the search recorded: an invalid step, a dead end or a wrong final answer."""
    return label(G, n) in MISTAKE_LABELS


def solution_ancestry(G: nx.DiGraph) -> set[int]:
    """Nodes that are a solution or have one below them (computed once per tree)."""
    out: set[int] = set()
    for n in G:
        if label(G, n) == SOLUTION:
            out |= nx.ancestors(G, n) | {n}
    return out


def step_line(G: nx.DiGraph, n: int, task: Task) -> str:
    """The line the model wrote at `n` as a trajectory shows it: without surrounding whitespace and
    cut at the first frame marker (`Task.quote`: a step that ran on into `</think>` never closes the
    trace's reasoning early)."""
    line = task.quote(G.nodes[n].get("text"))
    if not line:
        raise ValueError(f"tree {tree_id(G)!r}: node {n} has no `text` besides frame markers; a step needs its line")
    return line


def has_line(G: nx.DiGraph, n: int, task: Task) -> bool:
    """Whether node `n` has a line to show (`step_line` would not raise): a sampled empty line or a
    step of nothing but frame markers has none."""
    return bool(task.quote(G.nodes[n].get("text")))


def failing_path(
    G: nx.DiGraph,
    start: int,
    prefer: Callable[[int], Any],
    accept: Callable[[int], bool] | None = None,
    solved: set[int] | None = None,
) -> list[int] | None:
    """Nodes from `start` down to the first failure (invalid / dead end) of a wrong branch.

    Descends through valid nodes only, choosing at each level the child that `prefer` ranks
    lowest among those that still lead to an accepted failure. None when the branch shows no such
    failure (an unexpanded valid node proves nothing wrong) or contains a solution (then it is
    not wrong at all). `solved` is `solution_ancestry(G)`, passed in to compute it once.
    """
    solved = solution_ancestry(G) if solved is None else solved
    if start in solved:
        return None
    if is_failure(G, start):
        return [start] if accept is None or accept(start) else None
    options = []
    for c in children(G, start):
        tail = failing_path(G, c, prefer, accept, solved)
        if tail is not None:
            options.append((prefer(c), tail))
    if not options:
        return None
    return [start] + min(options, key=lambda o: o[0])[1]


def solution_nodes(G: nx.DiGraph) -> list[int]:
    """All solution nodes in creation order."""
    return sorted((n for n in G if label(G, n) == SOLUTION), key=lambda n: seq_of(G, n))


def best_solution_order(G: nx.DiGraph) -> list[int]:
    """Solution nodes best first: fewest steps, then highest value, then earliest (`seq`)."""
    def key(n: int):
        attrs = G.nodes[n]
        return (len(path_to(G, n)), -(attrs.get("value") or 0.0), seq_of(G, n))

    return sorted(solution_nodes(G), key=key)


def verified_answer(G: nx.DiGraph, task: Task, problem: Problem, solution: int) -> str | None:
    """The task's final answer for the path to `solution`, or None when the verifier rejects it."""
    states = [G.nodes[n].get("state") for n in path_to(G, solution)]
    if any(s is None for s in states):
        raise ValueError(f"tree {tree_id(G)!r}: a node on the path to solution {solution} has no `state`")
    answer = task.final_answer(problem, states)
    return answer if task.verify(problem, answer) else None


def trajectory(
    G: nx.DiGraph,
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
        "tree_id": tree_id(G),
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


__all__ = [
    "as_config",
    "best_solution_order",
    "children",
    "failing_path",
    "has_line",
    "is_failure",
    "label",
    "parent_of",
    "path_to",
    "problem_of",
    "root_of",
    "seq_of",
    "solution_ancestry",
    "solution_nodes",
    "step_line",
    "trajectory",
    "tree_id",
    "verified_answer",
]
