"""Best-of-N: `n_chains` independent samples from the root, each continued greedily one step per wave.

Every chain draws one sample per wave, so the tree is the union of N sampled solutions; identical
prefixes merge. The verifier then picks the best (any solution leaf).
"""
from __future__ import annotations

from dataclasses import dataclass

from search.algorithms.base import Algorithm, check_positive_ints, expandable
from search.tree import SearchNode, SearchTree


@dataclass
class BestOfNSettings:
    """Best-of-N's own option (`search.n_chains`)."""

    n_chains: int = 8
    """Best-of-N: independent chains sampled from the root."""

    def check(self) -> None:
        """ValueError naming the option unless it is an integer >= 1."""
        check_positive_ints(self, "n_chains")


class BestOfN(Algorithm):
    settings_class = BestOfNSettings

    def _select(self, tree: SearchTree) -> list[SearchNode]:
        chains = tree.algo.get("chains")
        if chains is None:
            if tree.root.expanded:  # resumed: continue from every live leaf
                chains = [n for n in tree.nodes if expandable(n, self.s)]
            else:
                return [tree.root]
        live = [n for n in chains if expandable(n, self.s)]
        # A node shared by several chains is expanded once, with one sample per chain.
        unique: dict[int, SearchNode] = {}
        for n in live:
            unique.setdefault(id(n), n)
        tree.algo["want"] = {id(n): sum(1 for m in live if m is n) for n in unique.values()}
        return list(unique.values())

    def samples(self, tree: SearchTree, node: SearchNode) -> int:
        if node is tree.root and not node.expanded:
            return self.s.n_chains
        return tree.algo.get("want", {}).get(id(node), 1)

    def on_expanded(self, tree: SearchTree, node: SearchNode, children: list[SearchNode]) -> None:
        super().on_expanded(tree, node, children)
        chains = [c for c in tree.algo.get("chains") or [] if c is not node]
        chains.extend(children)
        tree.algo["chains"] = chains
