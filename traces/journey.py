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

from db.stored_tree import StoredTree
from search.tasks.base import DEAD_END, INVALID, MISTAKE_LABELS, WRONG_ANSWER, Task
from traces.options import as_config
from traces.problems import problem_of
from traces.reflections import Reflector, check_line, make_reflector
from traces.trajectory import has_line, step_line, trajectory, verified_answer

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

    backtracks: list[float] | None = None
    """Distribution of wrong trials per journey: weights of 0, 1, 2, ... backtracks (`[1, 1, 1]`
    draws 0, 1 or 2 equally; 0 gives the direct solution, ASTRO's mix), capped by the trials the
    tree has and by `max_backtracks`; the trials are then drawn at random positions of the path
    (at most k-1 per node). null: every journey takes as many trials as it can, nearest the root
    first (O1-Journey's constant count, which a small model learns to copy)."""

    per_tree: int = 1
    """Journeys per solved tree, each with its own draw of count and trials (and, when the tree
    has several verified solutions, the next one); identical texts are kept once."""

    checks: float = 0.0
    """Probability of a check line after each correct step but the last (the task's true statement
    that the step is right and the goal still reachable, traces/reflections.py CHECK_TEMPLATES);
    never after a mistaken step. 0: no checks."""

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
        if self.backtracks is not None:
            weights = list(self.backtracks)
            if not weights or any(not isinstance(w, (int, float)) or w < 0 for w in weights) or sum(weights) <= 0:
                raise ValueError(f"JourneyConfig.backtracks={self.backtracks!r}: weights of 0, 1, 2, ... "
                                 "backtracks, non-negative, not all zero (e.g. [1, 1, 1])")
        if self.per_tree < 1:
            raise ValueError(f"JourneyConfig.per_tree={self.per_tree}: must be >= 1")
        if not 0.0 <= self.checks <= 1.0:
            raise ValueError(f"JourneyConfig.checks={self.checks}: a probability in [0, 1]")


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


def _is_failure(tree: StoredTree, n: int) -> bool:
    """A mistake the search recorded: an invalid step, a dead end or a wrong final answer."""
    return tree.label(n) in MISTAKE_LABELS


def _failing_path(tree: StoredTree, start: int, prefer: Callable[[int], Any],
                  accept: Callable[[int], bool] | None, solved: set[int]) -> list[int] | None:
    """Nodes from `start` down to the first failure (invalid / dead end) of a wrong branch.

    Descends through valid nodes only, choosing at each level the child that `prefer` ranks
    lowest among those that still lead to an accepted failure. None when the branch shows no such
    failure (an unexpanded valid node proves nothing wrong) or contains a solution (then it is
    not wrong at all). `solved` is `tree.solved_nodes()`.
    """
    if start in solved:
        return None
    if _is_failure(tree, start):
        return [start] if accept is None or accept(start) else None
    options = []
    for c in tree.children(start):
        tail = _failing_path(tree, c, prefer, accept, solved)
        if tail is not None:
            options.append((prefer(c), tail))
    if not options:
        return None
    return [start] + min(options, key=lambda o: o[0])[1]


def _logprob_rank(tree: StoredTree, n: int) -> tuple[float, int]:
    lp = tree.node(n).get("logprob")
    return (-lp if lp is not None else math.inf, tree.seq(n))


def _wrong_trials(tree: StoredTree, node: int, on_path: set[int], solved: set[int],
                  cfg: JourneyConfig, task: Task) -> list[list[int]]:
    """Each wrong child of `node` with the path to its failure, in the select mode's order."""
    accept = None
    if cfg.select == "invalid":
        accept = lambda n: tree.label(n) == INVALID  # noqa: E731
    elif cfg.select == "dead_end":
        accept = lambda n: tree.label(n) == DEAD_END  # noqa: E731
    elif cfg.select == "wrong_answer":
        accept = lambda n: tree.label(n) == WRONG_ANSWER  # noqa: E731
    if cfg.select == "plausible":
        prefer = lambda n: _logprob_rank(tree, n)  # noqa: E731
    else:
        prefer = lambda n: tree.seq(n)  # noqa: E731

    trials = []
    for c in tree.children(node):
        if c in on_path:
            continue
        if cfg.follow == "step":
            if _is_failure(tree, c) and (accept is None or accept(c)):
                trials.append([c])
        else:
            path = _failing_path(tree, c, prefer, accept, solved)
            if path is not None:
                trials.append(path)
    # A sampled empty line (the model wrote only a newline, or only `</think>`) is an invalid step
    # with nothing to show: a trial through it would be a blank line followed by a reflection.
    trials = [t for t in trials if all(has_line(tree, n, task) for n in t)]
    if cfg.select == "plausible":
        trials.sort(key=lambda t: _logprob_rank(tree, t[0]))
    if cfg.distinct_endings:
        seen: set[str] = set()
        kept = []
        for t in trials:
            answer = (task.extract_answer(tree.node(t[-1]).get("text") or "")  # as stated, markers or not
                      if tree.label(t[-1]) == WRONG_ANSWER else None)
            key = " ".join(answer.split()) if answer else None
            if key is not None and key in seen:
                continue
            if key is not None:
                seen.add(key)
            kept.append(t)
        trials = kept
    return trials


def _choose(tree: StoredTree, trials: list[list[int]], n: int, cfg: JourneyConfig, rng: random.Random) -> list[list[int]]:
    if cfg.select == "random":
        picked = rng.sample(trials, min(n, len(trials)))
        return sorted(picked, key=lambda t: tree.seq(t[0]))
    return trials[:n]


def _render(tree: StoredTree, task: Task, path: list[int], trials: list[_Trial],
            checks: dict[int, str] | None = None) -> tuple[list[str], list[int], list[str]]:
    """Lines, node ids in order, and each line's role: step | mistake | reflection | check."""
    lines: list[str] = []
    node_ids: list[int] = []
    roles: list[str] = []
    checks = checks or {}
    for i, nxt in enumerate(path[1:]):
        for t in (t for t in trials if t.at == i):
            lines += [step_line(tree, n, task) for n in t.nodes]
            roles += ["mistake"] * len(t.nodes)
            node_ids += t.nodes
            lines += [t.reflection, t.back]
            roles += ["reflection", "reflection"]
        lines.append(step_line(tree, nxt, task))
        roles.append("step")
        node_ids.append(nxt)
        if nxt in checks:
            lines.append(checks[nxt])
            roles.append("check")
    return lines, node_ids, roles


def line_spans(text: str, lines: list[str], roles: list[str]) -> list[dict[str, Any]]:
    """Character spans of `text` per role but `step`, merged where the same role continues: what
    `train.mask_mistakes` masks. Lines are found in order, so a repeated line maps to its own place."""
    spans: list[dict[str, Any]] = []
    cursor = 0
    for line, role in zip(lines, roles):
        at = text.find(line, cursor) if line else -1
        if at < 0:
            continue
        cursor = at + len(line)
        if role == "step":
            continue
        if spans and spans[-1]["role"] == role and not text[spans[-1]["end"]:at].strip():
            spans[-1]["end"] = cursor
        else:
            spans.append({"role": role, "start": at, "end": cursor})
    return spans


def _all_trials(tree: StoredTree, path: list[int], task: Task, cfg: JourneyConfig,
                rng: random.Random) -> list[list[tuple[int, list[int]]]]:
    """Per correct-path node (but the last), the wrong trials it offers: up to k-1 (at, nodes)."""
    on_path, solved = set(path), tree.solved_nodes()
    out = []
    for i, node in enumerate(path[:-1]):
        options = _wrong_trials(tree, node, on_path, solved, cfg, task)
        out.append([(i, nodes) for nodes in _choose(tree, options, cfg.k - 1, cfg, rng)])
    return out


def _draw_count(weights: list[float], rng: random.Random) -> int:
    return rng.choices(range(len(weights)), weights=weights)[0]


def _one_journey(tree: StoredTree, task: Task, cfg: JourneyConfig, reflector: Reflector, path: list[int],
                 answer: str, rng: random.Random, tokenizer: Tokenizer | None,
                 idx: int) -> tuple[dict[str, Any] | None, str | None]:
    problem = problem_of(tree)
    slots = _all_trials(tree, path, task, cfg, rng)
    if cfg.backtracks is None:
        chosen: list[tuple[int, list[int]]] = []
        for per_node in slots:  # nearest the root first, as many as allowed
            chosen += per_node[: max(cfg.max_backtracks - len(chosen), 0)]
    else:
        pool = [slot for per_node in slots for slot in per_node]
        want = min(_draw_count(list(cfg.backtracks), rng), cfg.max_backtracks, len(pool))
        chosen = sorted(rng.sample(pool, want), key=lambda s: (s[0], tree.seq(s[1][0])))
    trials = []
    for at, nodes in chosen:
        reflection, back = reflector(dict(tree.node(nodes[-1])), tree.node(path[at]).get("state"), rng)
        trials.append(_Trial(at, nodes, reflection, back))
    if not trials and cfg.backtracks is None:
        return None, f"no wrong trial beside the solution path (select={cfg.select!r}, follow={cfg.follow!r})"
    # Checks follow correct steps only; the last step is the answer's, which needs no check.
    checks = {n: check_line(task, dict(tree.node(n)), rng) for n in path[1:-1]
              if cfg.checks > 0 and rng.random() < cfg.checks}

    lines, node_ids, roles = _render(tree, task, path, trials, checks)
    if cfg.max_tokens is not None:
        while trials and count_tokens(tokenizer, task.render_completion(lines, answer)) > cfg.max_tokens:
            trials.pop()  # the latest trial in the text goes first
            lines, node_ids, roles = _render(tree, task, path, trials, checks)
        if not trials and (cfg.backtracks is None
                           or count_tokens(tokenizer, task.render_completion(lines, answer)) > cfg.max_tokens):
            used = count_tokens(tokenizer, task.render_completion(lines, answer))
            return None, (f"token budget max_tokens={cfg.max_tokens} leaves no room for a wrong trial "
                          f"(the correct path and answer alone take {used})")

    n_steps = sum(len(t.nodes) for t in trials) + len(path) - 1
    traj = trajectory(tree, task, problem, kind="journey", idx=idx, lines=lines, node_ids=node_ids,
                      answer=answer, n_steps=n_steps, n_backtracks=len(trials))
    traj["spans"] = line_spans(traj["text"], lines, roles) or None
    return traj, None


def journey_with_reason(
    G: StoredTree | nx.DiGraph,
    task: Task,
    cfg: JourneyConfig | dict | None = None,
    *,
    tokenizer: Tokenizer | None = None,
    reflector: Reflector | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """The tree's journeys (`per_tree` at most) and why there is none, if so.

    Uses the best verified solution (fewest steps, highest value, earliest); with `per_tree` > 1
    the next journeys cycle through the other verified solutions. `reflector` overrides the
    `cfg.reflection` style (the hook for model-written reflections).
    """
    cfg = as_config(JourneyConfig, cfg)
    reflector = reflector or make_reflector(cfg.reflection, task)
    tree = StoredTree.of(G)
    problem = problem_of(tree)
    solutions: list[tuple[int, str]] = []
    for sol in tree.best_solutions():
        answer = verified_answer(tree, task, problem, sol)
        if answer is not None:
            solutions.append((sol, answer))
            if len(solutions) >= cfg.per_tree:
                break
    if not solutions:
        return [], "no verified solution in the tree"

    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    reason = None
    for j in range(cfg.per_tree):
        # One rng per (tree, journey), seeded by (seed, tree), so a tree's journeys do not depend on
        # which other trees were linearized before it; the first keeps the single-journey seed.
        rng = random.Random(f"{cfg.seed}:{tree.tree_id}" + (f":{j}" if j else ""))
        solution, answer = solutions[j % len(solutions)]
        traj, why = _one_journey(tree, task, cfg, reflector, tree.path(solution), answer, rng, tokenizer, len(out))
        if traj is None:
            reason = reason or why
            continue
        if traj["text"] in seen:
            continue
        seen.add(traj["text"])
        out.append(traj)
    return out, (None if out else reason)


def linearize_journey(
    G: StoredTree | nx.DiGraph,
    task: Task,
    cfg: JourneyConfig | dict | None = None,
    *,
    tokenizer: Tokenizer | None = None,
    reflector: Reflector | None = None,
) -> list[dict[str, Any]]:
    """The tree's journeys, at most `per_tree` (see `journey_with_reason`)."""
    return journey_with_reason(G, task, cfg, tokenizer=tokenizer, reflector=reflector)[0]


__all__ = ["JourneyConfig", "count_tokens", "journey_with_reason", "line_spans", "linearize_journey"]
