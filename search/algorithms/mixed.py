"""The mixed strategy: one registered algorithm per tree (Stream of Search mixed BFS of several beam
sizes and DFS across problems). Any algorithm of the registry can be mixed: `Mixed` is handed the
registry when it is made (search/algorithms/__init__.py make_algorithm), so a new algorithm needs no
second list here."""
from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from search.algorithms.base import Algorithm, SharedSearchSettings
from search.algorithms.frontier import FrontierSettings
from search.tree import SearchNode, SearchTree


@dataclass
class MixedSettings(FrontierSettings):
    """The mixed strategy's own options (`search.mix`, `search.mix_seed`), over BFS's and DFS's."""

    mix: list[str] = field(default_factory=list)
    """With `algorithm=mixed`: the strategies drawn per tree (by a hash of the problem's key and
    `mix_seed`), each a registered algorithm, or `<algorithm>:<beam_width>` for one that reads the
    width (bfs, beam), e.g. [bfs:1, bfs:3, dfs] (Stream of Search mixed BFS of several beam sizes and
    DFS across problems)."""
    mix_seed: int = 0
    """Seed of the per-tree draw of `mix`."""


def parse_mix(entries: list[str], algorithms: Mapping[str, type[Algorithm]]) -> list[tuple[str, int | None]]:
    """`search.mix` as (algorithm, beam width or None); ValueError naming the bad entry."""
    mixable = [name for name, cls in algorithms.items() if not issubclass(cls, Mixed)]
    widths = [name for name in mixable if algorithms[name].mix_width]
    out = []
    for entry in entries:
        name, _, width = str(entry).partition(":")
        if name not in mixable or (width and (name not in widths or not width.isdigit() or int(width) < 1)):
            raise ValueError(f"search.mix: {entry!r} is not a strategy; use one of {', '.join(mixable)}, or "
                             f"{' or '.join(f'{n}:<beam width >= 1>' for n in widths)}")
        out.append((name, int(width) if width else None))
    if not out:
        raise ValueError("search.mix is empty: with search.algorithm=mixed list strategies, e.g. search.mix=[bfs:1,bfs:3,dfs]")
    return out


class Mixed(Algorithm):
    """One of `search.mix` per tree, drawn by a hash of the problem's key and `mix_seed` (stable
    across waves, workers and resumes), with the shared settings otherwise."""

    settings_class = MixedSettings

    def __init__(self, settings: SharedSearchSettings, algorithms: Mapping[str, type[Algorithm]]):
        super().__init__(settings)
        self.strategies: list[Algorithm] = []
        for name, width in parse_mix(settings.mix, algorithms):
            sub = dataclasses.replace(settings, algorithm=name, beam_width=width or settings.beam_width)
            self.strategies.append(algorithms[name].create(sub, algorithms))

    @classmethod
    def create(cls, settings: SharedSearchSettings, algorithms: Mapping[str, type[Algorithm]]) -> Algorithm:
        return cls(settings, algorithms)

    def bind(self, task) -> None:
        super().bind(task)
        for algo in self.strategies:
            algo.bind(task)

    def strategy(self, tree: SearchTree) -> Algorithm:
        """The strategy that grows `tree`."""
        key = getattr(tree.problem, "key", tree.tree_id)
        return self.strategies[zlib.crc32(f"{self.s.mix_seed}|{key}".encode()) % len(self.strategies)]

    # The tree's own strategy does every step of it: which leaves, how many samples, how values back up.
    def _select(self, tree: SearchTree) -> list[SearchNode]:
        return self.strategy(tree)._select(tree)

    def samples(self, tree: SearchTree, node: SearchNode) -> int:
        return self.strategy(tree).samples(tree, node)

    def on_expanded(self, tree: SearchTree, node: SearchNode, children: list[SearchNode]) -> None:
        self.strategy(tree).on_expanded(tree, node, children)

    def end_wave(self, tree: SearchTree) -> None:
        self.strategy(tree).end_wave(tree)
