"""Monte Carlo tree search with UCT (Kocsis & Szepesvari 2006), batched into waves.

A node whose children all failed is sampled again (progressive widening, up to `max_children`
samples), so a weak policy gets several tries at a hard step instead of the tree ending early.
No rollouts: a new child's value is the verifier's reward at a terminal and its step label's value
otherwise (oracle labels make rollouts unnecessary for data generation). With several leaves per tree
per wave, a virtual loss keeps selections apart.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from search.algorithms.base import SEARCH_MAXIMA, Algorithm, expandable
from search.bounds import check_int
from search.tree import SearchNode, SearchTree


@dataclass
class MCTSSettings:
    """MCTS's own options (`search.c_uct`, `search.max_children`)."""

    c_uct: float = 1.4
    """UCT exploration constant of MCTS (0: pure exploitation)."""
    max_children: int = 16
    """MCTS samples again from a node whose children all failed (progressive widening) until this
    many samples were drawn from it: small models often need several tries for one legal step
    (0: never re-sample)."""

    def check(self) -> None:
        """ValueError naming the option for a value MCTS cannot use."""
        if self.max_children < 0:
            raise ValueError(f"search.max_children must be >= 0 (0: never re-sample), got {self.max_children!r}")
        check_int("search.max_children", self.max_children, 0, SEARCH_MAXIMA["max_children"])
        if self.c_uct < 0:
            raise ValueError(f"search.c_uct must be >= 0, got {self.c_uct!r}")


class MCTS(Algorithm):
    settings_class = MCTSSettings

    def _uct(self, parent: SearchNode, child: SearchNode, virtual: dict[int, int]) -> float:
        extra = virtual.get(id(child), 0)
        visits = child.visits + extra
        if visits == 0:
            return math.inf
        q = child.value_sum / visits  # virtual visits count as losses (value 0)
        return q + self.s.c_uct * math.sqrt(math.log(max(parent.visits, 1) + 1) / visits)

    def _descend(self, tree: SearchTree, virtual: dict[int, int]) -> SearchNode | None:
        node = tree.root
        while True:
            if expandable(node, self.s):
                return node
            options = [c for c in node.children if not c.exhausted and not c.terminal]
            if not options and self._can_widen(node):
                return node
            if not options:
                # Nothing to expand below: mark it so later descents skip this subtree.
                node.exhausted = True
                if node.parent is None:
                    return None
                node = tree.root
                continue
            node = max(options, key=lambda c: (self._uct(node, c, virtual), -c.seq))

    def _can_widen(self, node: SearchNode) -> bool:
        return (not node.terminal and node.depth < self.s.max_depth
                and sum(c.count for c in node.children) < self.s.max_children)

    def _select(self, tree: SearchTree) -> list[SearchNode]:
        chosen: list[SearchNode] = []
        virtual: dict[int, int] = {}
        for _ in range(self.s.expansions_per_wave):
            if tree.expansions + len(chosen) >= self.s.max_expansions:
                break
            leaf = self._descend(tree, virtual)
            if leaf is None or leaf in chosen:
                break
            chosen.append(leaf)
            for n in leaf.path():
                virtual[id(n)] = virtual.get(id(n), 0) + 1
        return chosen
