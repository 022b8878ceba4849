"""The search-algorithm interface: which leaves to expand, and how to back values up.

An algorithm never calls the model (LLM Reasoners' `SearchAlgorithm` separation): the explorer asks
every tree of a wave for its leaves, sends all of them to the policy at once, then hands the new
children back to the algorithm.
"""
from __future__ import annotations

import sys
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from search.bounds import MAX_SEQUENCE_TOKENS, check_int
from search.tasks.base import INVALID
from search.tree import SearchNode, SearchTree


@dataclass
class SharedSearchSettings:
    """Options every algorithm reads: the tree's budget and how many samples an expansion draws.
    `conf/search/<algorithm>.yaml` holds only what an algorithm changes; each algorithm's own options
    are a dataclass beside it (`Algorithm.settings_class`), and search/algorithms/__init__.py joins
    them all into `SearchSettings`, the Hydra group `search`."""

    algorithm: str = "mcts"
    """Which algorithm grows the trees: one of search/algorithms/__init__.py ALGORITHMS (mcts | beam |
    best_of_n | bfs | dfs | mixed, one of `mix` per tree)."""
    k: int = 4
    """Samples (children) drawn per expansion."""
    max_expansions: int = 16
    """Expansions (MCTS simulations) per tree; the tree is finished after this many."""
    max_nodes: int = 64
    """Stop growing a tree once it has this many nodes."""
    max_depth: int = 8
    """Never expand a node at this depth or deeper."""
    stop_on_solution: bool = False
    """Stop a tree at its first solution (journeys want the wrong branches explored after it)."""
    expansions_per_wave: int = 1
    """Leaves expanded per tree per wave (MCTS keeps them apart with virtual loss when > 1)."""

    def check(self) -> None:
        """ValueError naming `search.<option>` for a value no algorithm can use."""
        check_positive_ints(self, "k", "max_expansions", "max_nodes", "max_depth", "expansions_per_wave")
        check_positive_ints(self, *(name for name in ESTIMATOR_COUNTS if hasattr(self, name)))


# search.<option> -> its most: far above any published search (rStar-Math: 16 children, 32 rollouts, depth
# 16; Stream of Search: ~10,000 nodes), low enough that a slip (an extra zero, 1e9) is refused at config
# time instead of growing trees for days. A tree's nodes live in memory while it grows: 10M of them is
# gigabytes for one tree.
# Rollouts per node: Math-Shepherd's N is 8, rStar-Math's 16-32; each is a whole completion per node.
SEARCH_MAXIMA = {"k": 1_024, "max_expansions": 1_000_000, "max_nodes": 10_000_000, "max_depth": 10_000,
                 "expansions_per_wave": 1_024, "beam_width": 1_024, "n_chains": 10_000, "max_children": 10_000,
                 "rollouts": 1_024, "rollout_max_tokens": MAX_SEQUENCE_TOKENS, "prm_batch_size": 65_536}
# The value estimators' counts (search/values.py), bounded here where the joined SearchSettings holds them.
ESTIMATOR_COUNTS = ("rollouts", "rollout_max_tokens", "prm_batch_size")


def check_positive_ints(settings: Any, *names: str) -> None:
    """ValueError naming `search.<name>` unless each option is an integer in [1, SEARCH_MAXIMA[name]]."""
    for name in names:
        check_int(f"search.{name}", getattr(settings, name), 1, SEARCH_MAXIMA.get(name, sys.maxsize))


def node_value(node: SearchNode, settings: SharedSearchSettings) -> float:
    """Verifier reward at terminals, the Monte-Carlo estimate where rollouts gave one (the MCTS
    simulation step of Math-Shepherd / ASTRO), otherwise the step label's value."""
    if node.terminal and node.reward is not None and node.label != INVALID:
        return float(node.reward)
    if node.mc_value is not None:
        return float(node.mc_value)
    if node.prm_score is not None:
        return float(node.prm_score)
    return float(settings.label_values.get(node.label, 0.0))


def backup(node: SearchNode, value: float) -> None:
    """Add one visit with `value` to `node` and each ancestor."""
    n: SearchNode | None = node
    while n is not None:
        n.visits += 1
        n.value_sum += value
        n.dirty = True
        n = n.parent


def _has_state(state) -> bool:
    return state is not None


def expandable(node: SearchNode, settings: SharedSearchSettings) -> bool:
    return not node.terminal and not node.expanded and node.depth < settings.max_depth


class Algorithm(ABC):
    """Chooses leaves per wave; evaluates and backs up the children the policy produced.

    `settings_class` is the dataclass of the options this algorithm owns beyond the shared ones (LLM
    Reasoners' `MCTS.__init__(w_exp, ...)`); `settings` is the whole `search` group, which holds them.
    It is typed here by its shared base: the joined class (search/algorithms/__init__.py
    SearchSettings) is built from every algorithm's options, so naming it here, even for type
    checking only, would be an import cycle.
    """

    settings_class: type | None = None
    mix_width: bool = False
    """Whether `search.mix` may give this algorithm its own `beam_width` (`<name>:<width>`)."""

    def __init__(self, settings: SharedSearchSettings):
        self.s = settings
        self.can_continue = _has_state

    @classmethod
    def create(cls, settings: SharedSearchSettings, algorithms: Mapping[str, type[Algorithm]]) -> Algorithm:
        """The algorithm for `settings`; `algorithms` is the registry, for one that combines others."""
        return cls(settings)

    def bind(self, task) -> None:
        """Learn from the task whether a state can still be continued (`Task.can_continue`); the
        explorer calls this once. Algorithms still never call the model."""
        self.can_continue = task.can_continue

    def budget_left(self, tree: SearchTree) -> bool:
        if tree.expansions >= self.s.max_expansions or len(tree.nodes) >= self.s.max_nodes:
            return False
        return not (self.s.stop_on_solution and tree.solved)

    def select(self, tree: SearchTree) -> list[SearchNode]:
        """Leaves to expand in this wave; an empty list means the tree is finished."""
        if not self.budget_left(tree):
            return []
        return self._select(tree)

    @abstractmethod
    def _select(self, tree: SearchTree) -> list[SearchNode]:
        ...

    def samples(self, tree: SearchTree, node: SearchNode) -> int:
        """How many children to sample for `node`."""
        return self.s.k

    def on_expanded(self, tree: SearchTree, node: SearchNode, children: list[SearchNode]) -> None:
        """Evaluate the sampled children and back their values up.

        `children` has one entry per completion: a sample merged into an existing sibling appears
        again, and counts as one more visit of it.
        """
        node.expanded = True
        node.times_expanded += 1
        node.dirty = True
        tree.expansions += 1
        for child in children:
            backup(child, node_value(child, self.s))

    def end_wave(self, tree: SearchTree) -> None:
        """Called once per tree after all of its expansions in a wave were applied."""
