"""Uninformed search over the step tree: breadth-first (whole layers) and depth-first."""
from __future__ import annotations

from search.algorithms.base import Algorithm, expandable
from search.tree import SearchNode, SearchTree


class BFS(Algorithm):
    def _select(self, tree: SearchTree) -> list[SearchNode]:
        live = [n for n in tree.nodes if expandable(n, self.s)]
        if not live:
            return []
        depth = min(n.depth for n in live)
        room = self.s.max_expansions - tree.expansions
        return [n for n in live if n.depth == depth][: max(room, 0)]


class DFS(Algorithm):
    def _select(self, tree: SearchTree) -> list[SearchNode]:
        live = [n for n in tree.nodes if expandable(n, self.s)]
        # Deepest first; among equals the most recently created (a stack).
        live.sort(key=lambda n: (n.depth, n.seq), reverse=True)
        return live[: self.s.expansions_per_wave]
