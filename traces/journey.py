"""Journey trajectories: the correct path plus explored mistakes, reflection and backtracking.

This is the constrained DFS of O1 Replication Journey (Qin et al. 2024, "journey learning"):
walk the correct root-to-solution path; at each correct-path node first try up to K-1 wrong
children (each followed to the step where it fails), close every wrong trial with a reflection
that states what went wrong and a return to the last good state, then take the correct step.
Stream of Search (Gandhi et al. 2024) motivates keeping the failures in the training text.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any, Callable

import networkx as nx

from search.tasks.base import DEAD_END, INVALID, WRONG_ANSWER, Task
from traces.reflections import Reflector, make_reflector
from traces.tree_view import (
    as_config,
    best_solution_order,
    children,
    failing_path,
    is_failure,
    label,
    path_to,
    problem_of,
    seq_of,
    solution_ancestry,
    step_line,
    trajectory,
    tree_id,
    verified_answer,
)

SELECT_MODES = ("random", "plausible", "invalid", "dead_end", "wrong_answer")
FOLLOW_MODES = ("leaf", "step")
Tokenizer = Callable[[str], Any]


@dataclass
class JourneyConfig:
    """Options of the journey linearizer (O1-Journey constrained DFS)."""

    k: int = 2
    """Children tried at each correct-path node, the correct one included: up to k-1 wrong
    trials come before each correct step."""

    max_backtracks: int = 3
    """Most wrong trials in one journey; trials nearer the root are kept first."""

    select: str = "random"
    """Which wrong children become trials: `random` (seeded), `plausible` (highest policy
    logprob of the wrong step first), `invalid` (only branches that fail by an illegal step:
    arithmetic and rule errors), `dead_end` (only branches that fail by a dead end: the oracle's,
    or no successful Monte-Carlo rollout) or `wrong_answer` (only branches that end in a wrong
    final answer)."""

    follow: str = "leaf"
    """`leaf`: follow a wrong child through valid steps down to the step where it fails;
    `step`: show only the wrong child itself (so only children that fail at once qualify)."""

    max_tokens: int | None = None
    """Token budget of the whole completion; wrong trials are dropped, latest first, until it
    fits. The correct path and the answer are never cut: if they alone exceed the budget, or no
    trial fits, the tree yields no journey. Counted with the `tokenizer` callable given to
    `linearize_journey` (default: whitespace split)."""

    seed: int = 0
    """Seeds the rng (per tree) that picks random trials and reflection wordings."""

    distinct_endings: bool = True
    """Trials that end in a stated final answer must each state a different one (ASTRO shows several
    wrong endings with different answers before the correct one); a repeat of an earlier trial's
    wrong answer teaches nothing new and is skipped."""

    reflection: str = "template"
    """How reflections are written: `template` (see traces/reflections.py) or `llm` (a model
    rewrites the template draft; done in one batch by the linearize stage, see
    traces/llm_reflection.py; a single call here with `llm` is an error)."""

    def __post_init__(self) -> None:
        if self.k < 2:
            raise ValueError(f"JourneyConfig.k={self.k}: must be >= 2 (k-1 wrong trials per node)")
        if self.max_backtracks < 1:
            raise ValueError(f"JourneyConfig.max_backtracks={self.max_backtracks}: must be >= 1")
        if self.select not in SELECT_MODES:
            raise ValueError(f"JourneyConfig.select={self.select!r}: choose one of {SELECT_MODES}")
        if self.follow not in FOLLOW_MODES:
            raise ValueError(f"JourneyConfig.follow={self.follow!r}: choose one of {FOLLOW_MODES}")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise ValueError(f"JourneyConfig.max_tokens={self.max_tokens}: must be >= 1 or None")


def count_tokens(tokenizer: Tokenizer | None, text: str) -> int:
    """Tokens in `text`: whitespace split by default, else the callable's count / id list.

    Accepts a function returning an int or a sequence, or a Hugging Face tokenizer (whose call
    returns a mapping with `input_ids`; its len() would count keys, not tokens).
    """
    if tokenizer is None:
        return len(text.split())
    result = tokenizer(text)
    if isinstance(result, int):
        return result
    if hasattr(result, "keys") and "input_ids" in result:
        result = result["input_ids"]
    return len(result)


@dataclass
class _Trial:
    at: int                  # index on the correct path of the node the trial branches from
    nodes: list[int]         # wrong child .. failing node
    reflection: str
    back: str


def _logprob_rank(G: nx.DiGraph, n: int) -> tuple[float, int]:
    lp = G.nodes[n].get("logprob")
    return (-lp if lp is not None else math.inf, seq_of(G, n))


def _wrong_trials(G: nx.DiGraph, node: int, on_path: set[int], solved: set[int],
                  cfg: JourneyConfig, task: Task) -> list[list[int]]:
    """Each wrong child of `node` with the path to its failure, in the select mode's order."""
    accept = None
    if cfg.select == "invalid":
        accept = lambda n: label(G, n) == INVALID  # noqa: E731
    elif cfg.select == "dead_end":
        accept = lambda n: label(G, n) == DEAD_END  # noqa: E731
    elif cfg.select == "wrong_answer":
        accept = lambda n: label(G, n) == WRONG_ANSWER  # noqa: E731
    if cfg.select == "plausible":
        prefer = lambda n: _logprob_rank(G, n)  # noqa: E731
    else:
        prefer = lambda n: seq_of(G, n)  # noqa: E731

    trials = []
    for c in children(G, node):
        if c in on_path:
            continue
        if cfg.follow == "step":
            if is_failure(G, c) and (accept is None or accept(c)):
                trials.append([c])
        else:
            path = failing_path(G, c, prefer, accept, solved)
            if path is not None:
                trials.append(path)
    if cfg.select == "plausible":
        trials.sort(key=lambda t: _logprob_rank(G, t[0]))
    if cfg.distinct_endings:
        seen: set[str] = set()
        kept = []
        for t in trials:
            answer = task.extract_answer(step_line(G, t[-1])) if label(G, t[-1]) == WRONG_ANSWER else None
            key = " ".join(answer.split()) if answer else None
            if key is not None and key in seen:
                continue
            if key is not None:
                seen.add(key)
            kept.append(t)
        trials = kept
    return trials


def _choose(G: nx.DiGraph, trials: list[list[int]], n: int, cfg: JourneyConfig, rng: random.Random) -> list[list[int]]:
    if cfg.select == "random":
        picked = rng.sample(trials, min(n, len(trials)))
        return sorted(picked, key=lambda t: seq_of(G, t[0]))
    return trials[:n]


def _render(G: nx.DiGraph, path: list[int], trials: list[_Trial]) -> tuple[list[str], list[int]]:
    lines: list[str] = []
    node_ids: list[int] = []
    for i, nxt in enumerate(path[1:]):
        for t in (t for t in trials if t.at == i):
            lines += [step_line(G, n) for n in t.nodes]
            node_ids += t.nodes
            lines += [t.reflection, t.back]
        lines.append(step_line(G, nxt))
        node_ids.append(nxt)
    return lines, node_ids


def journey_with_reason(
    G: nx.DiGraph,
    task: Task,
    cfg: JourneyConfig | dict | None = None,
    *,
    tokenizer: Tokenizer | None = None,
    reflector: Reflector | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """The tree's journey (a list of at most one trajectory) and why there is none, if so.

    Uses the best verified solution (fewest steps, highest value, earliest). `reflector`
    overrides the `cfg.reflection` style (the hook for model-written reflections).
    """
    cfg = as_config(JourneyConfig, cfg)
    reflector = reflector or make_reflector(cfg.reflection, task)
    problem = problem_of(G)
    answer, solution = None, None
    for sol in best_solution_order(G):
        answer = verified_answer(G, task, problem, sol)
        if answer is not None:
            solution = sol
            break
    if solution is None:
        return [], "no verified solution in the tree"

    # One rng per tree, seeded by (seed, tree), so a tree's journey does not depend on which
    # other trees were linearized before it.
    rng = random.Random(f"{cfg.seed}:{tree_id(G)}")
    path = path_to(G, solution)
    on_path, solved = set(path), solution_ancestry(G)
    trials: list[_Trial] = []
    for i, node in enumerate(path[:-1]):
        room = cfg.max_backtracks - len(trials)
        if room <= 0:
            break
        options = _wrong_trials(G, node, on_path, solved, cfg, task)
        for nodes in _choose(G, options, min(cfg.k - 1, room), cfg, rng):
            reflection, back = reflector(dict(G.nodes[nodes[-1]]), G.nodes[node].get("state"), rng)
            trials.append(_Trial(i, nodes, reflection, back))
    if not trials:
        return [], f"no wrong trial beside the solution path (select={cfg.select!r}, follow={cfg.follow!r})"

    lines, node_ids = _render(G, path, trials)
    if cfg.max_tokens is not None:
        while trials and count_tokens(tokenizer, task.render_completion(lines, answer)) > cfg.max_tokens:
            trials.pop()  # the latest trial in the text goes first
            lines, node_ids = _render(G, path, trials)
        if not trials:
            used = count_tokens(tokenizer, task.render_completion(lines, answer))
            return [], (f"token budget max_tokens={cfg.max_tokens} leaves no room for a wrong trial "
                        f"(the correct path and answer alone take {used})")

    n_steps = sum(len(t.nodes) for t in trials) + len(path) - 1
    traj = trajectory(G, task, problem, kind="journey", idx=0, lines=lines, node_ids=node_ids,
                      answer=answer, n_steps=n_steps, n_backtracks=len(trials))
    return [traj], None


def linearize_journey(
    G: nx.DiGraph,
    task: Task,
    cfg: JourneyConfig | dict | None = None,
    *,
    tokenizer: Tokenizer | None = None,
    reflector: Reflector | None = None,
) -> list[dict[str, Any]]:
    """The tree's journey as a list of at most one trajectory (see `journey_with_reason`)."""
    return journey_with_reason(G, task, cfg, tokenizer=tokenizer, reflector=reflector)[0]


__all__ = ["JourneyConfig", "count_tokens", "journey_with_reason", "linearize_journey"]
