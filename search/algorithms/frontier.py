"""Search over the step tree by its frontier: breadth-first, depth-first, and a per-tree mix.

Without `best_first` these are uninformed (BFS whole layers, DFS a stack). With it they order by
the policy's score of each step, which is how Stream of Search's generator (Gandhi et al. 2024,
its BFS and DFS scripts) orders its symbolic searches by a heuristic: BFS pops the
`beam_width` best open nodes per round, DFS always continues the best child of the deepest node.
"""
from __future__ import annotations

import dataclasses
import zlib
from dataclasses import dataclass, field

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


@dataclass
class MixedSettings(FrontierSettings):
    """The mixed strategy's own options (`search.mix`, `search.mix_seed`), over BFS's and DFS's."""

    mix: list[str] = field(default_factory=list)
    """With `algorithm=mixed`: the strategies drawn per tree (by a hash of the problem's key and
    `mix_seed`), each `bfs`, `dfs` or `bfs:<beam_width>`, e.g. [bfs:1, bfs:3, dfs] (Stream of Search
    mixed BFS of several beam sizes and DFS across problems)."""
    mix_seed: int = 0
    """Seed of the per-tree draw of `mix`."""


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


_KINDS = {"bfs": BFS, "dfs": DFS}


def parse_mix(entries: list[str]) -> list[tuple[str, int | None]]:
    """`search.mix` as (algorithm, beam width or None); ValueError naming the bad entry."""
    out = []
    for entry in entries:
        name, _, width = str(entry).partition(":")
        if name not in _KINDS or (width and (name != "bfs" or not width.isdigit() or int(width) < 1)):
            raise ValueError(f"search.mix: {entry!r} is not a strategy; use bfs, dfs or bfs:<beam width >= 1>")
        out.append((name, int(width) if width else None))
    if not out:
        raise ValueError("search.mix is empty: with search.algorithm=mixed list strategies, e.g. search.mix=[bfs:1,bfs:3,dfs]")
    return out


class Mixed(Algorithm):
    """One of `search.mix` per tree, drawn by a hash of the problem's key and `mix_seed` (stable
    across waves, workers and resumes), with the shared settings otherwise."""

    settings_class = MixedSettings

    def __init__(self, settings):
        super().__init__(settings)
        self.strategies: list[Algorithm] = []
        for name, width in parse_mix(settings.mix):
            sub = dataclasses.replace(settings, algorithm=name, beam_width=width or settings.beam_width)
            self.strategies.append(_KINDS[name](sub))

    def bind(self, task) -> None:
        super().bind(task)
        for algo in self.strategies:
            algo.bind(task)

    def strategy(self, tree: SearchTree) -> Algorithm:
        """The strategy that grows `tree`."""
        key = getattr(tree.problem, "key", tree.tree_id)
        return self.strategies[zlib.crc32(f"{self.s.mix_seed}|{key}".encode()) % len(self.strategies)]

    def _select(self, tree: SearchTree) -> list[SearchNode]:
        return self.strategy(tree)._select(tree)

    def samples(self, tree: SearchTree, node: SearchNode) -> int:
        return self.strategy(tree).samples(tree, node)
