"""Search over the step tree by its frontier: breadth-first and depth-first (search/algorithms/mixed.py
draws one registered algorithm per tree).

Without `best_first` these are uninformed (BFS whole layers, DFS a stack). With it they order by
the policy's score of each step, which is how Stream of Search's generator (Gandhi et al. 2024,
its BFS and DFS scripts) orders its symbolic searches by a heuristic: BFS pops the
`beam_width` best open nodes per round, DFS always continues the best child of the deepest node.
"""
from __future__ import annotations

from dataclasses import dataclass

from search.algorithms.base import Algorithm
from search.algorithms.beam import BeamSettings
from search.tasks.base import DEAD_END
from search.tree import SearchNode, SearchTree


def _score(node: SearchNode) -> float:
    return node.logprob if node.logprob is not None else 0.0


@dataclass
class FrontierSettings(BeamSettings):
    """BFS's and DFS's own options (`search.best_first`, `search.expand_dead_ends`; best-first BFS
    also reads `beam_width`)."""

    best_first: bool = False
    """BFS and DFS: expand the best-scored open nodes first, by the policy's score of each step (its
    log-probability; the symbolic policy's is the negated heuristic, Stream of Search's order). BFS
    then expands the `beam_width` best open nodes of the tree per wave (Stream of Search's BFS pops
    `beam_size` nodes off one heap), DFS the best child of the deepest node."""
    expand_dead_ends: bool = False
    """BFS and DFS: search on below legal steps the task's oracle marked `dead_end` while the task
    can continue them (Stream of Search's generator has no oracle: its searches walk into dead
    branches and back out, and its streams show that)."""


class _Frontier(Algorithm):
    settings_class = FrontierSettings

    def _open(self, node: SearchNode) -> bool:
        """Not yet expanded and within depth; a dead end only with `expand_dead_ends` and while the
        task can continue its state."""
        if node.expanded or node.depth >= self.s.max_depth:
            return False
        if not node.terminal:
            return True
        return self.s.expand_dead_ends and node.label == DEAD_END and self.can_continue(node.state)

    def _live(self, tree: SearchTree) -> list[SearchNode]:
        return [n for n in tree.nodes if self._open(n)]


class BFS(_Frontier):
    mix_width = True  # best-first BFS expands the `beam_width` best open nodes
    def _select(self, tree: SearchTree) -> list[SearchNode]:
        live = self._live(tree)
        if not live:
            return []
        room = max(self.s.max_expansions - tree.expansions, 0)
        if self.s.best_first:
            # One heap over every open node, best score first (ties: shallower, then older).
            live.sort(key=lambda n: (-_score(n), n.depth, n.seq))
            return live[: min(self.s.beam_width, room)]
        depth = min(n.depth for n in live)
        return [n for n in live if n.depth == depth][:room]


class DFS(_Frontier):
    def _select(self, tree: SearchTree) -> list[SearchNode]:
        live = self._live(tree)
        if self.s.best_first:
            # Deepest first; among its siblings the best-scored, then the oldest.
            live.sort(key=lambda n: (-n.depth, -_score(n), n.seq))
        else:
            # Deepest first; among equals the most recently created (a stack).
            live.sort(key=lambda n: (n.depth, n.seq), reverse=True)
        return live[: self.s.expansions_per_wave]
