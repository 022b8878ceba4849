"""The search-algorithm interface: which leaves to expand, and how to back values up.

An algorithm never calls the model (LLM Reasoners' `SearchAlgorithm` separation): the explorer asks
every tree of a wave for its leaves, sends all of them to the policy at once, then hands the new
children back to the algorithm.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from search.tasks.base import DEAD_END, INVALID, SOLUTION, VALID
from search.tree import SearchNode, SearchTree


@dataclass
class SearchSettings:
    """Options shared by all algorithms (Hydra group `search`)."""

    algorithm: str = "mcts"          # mcts | beam | best_of_n | bfs | dfs
    k: int = 4                       # samples (children) per expansion
    max_expansions: int = 8          # expansions (MCTS simulations) per tree
    max_nodes: int = 64              # stop growing a tree past this many nodes
    max_depth: int = 8               # never expand below this depth
    stop_on_solution: bool = False   # stop a tree at its first solution (journeys want more)
    expansions_per_wave: int = 1     # leaves per tree per wave (MCTS uses virtual loss for > 1)
    c_uct: float = 1.4               # UCT exploration constant
    # MCTS samples again from a node whose children all failed (progressive widening), until this
    # many samples were drawn from it: small models often need several tries for one legal step.
    max_children: int = 16
    beam_width: int = 2              # beam search
    n_chains: int = 8                # best-of-N: independent samples from the root
    # The value estimator beside the algorithm (search/values.py): `label` (the task's step labels),
    # `rollout` (Monte-Carlo completions, Math-Shepherd / OmegaPRM), or null for the task's default.
    value: str | None = None
    rollouts: int = 8                # M completions sampled from each new non-terminal node
    rollout_max_tokens: int = 256    # token cap of one rollout (it runs to the final answer)
    rollout_temperature: float = 0.8
    # Value of a new node from its label: terminals get the verifier's reward, the rest this table.
    label_values: dict[str, float] = field(default_factory=lambda: {
        VALID: 0.5, INVALID: 0.0, DEAD_END: 0.0, SOLUTION: 1.0})


def node_value(node: SearchNode, settings: SearchSettings) -> float:
    """Verifier reward at terminals, otherwise the step label's value."""
    if node.terminal and node.reward is not None and node.label != INVALID:
        return float(node.reward)
    return float(settings.label_values.get(node.label, 0.0))


def backup(node: SearchNode, value: float) -> None:
    """Add one visit with `value` to `node` and each ancestor."""
    n: SearchNode | None = node
    while n is not None:
        n.visits += 1
        n.value_sum += value
        n.dirty = True
        n = n.parent


def expandable(node: SearchNode, settings: SearchSettings) -> bool:
    return not node.terminal and not node.expanded and node.depth < settings.max_depth


class Algorithm(ABC):
    """Chooses leaves per wave; evaluates and backs up the children the policy produced."""

    def __init__(self, settings: SearchSettings):
        self.s = settings

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
        tree.expansions += 1
        for child in children:
            backup(child, node_value(child, self.s))

    def end_wave(self, tree: SearchTree) -> None:
        """Called once per tree after all of its expansions in a wave were applied."""
