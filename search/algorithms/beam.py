"""Step-level beam search: expand every beam node, keep the best `beam_width` live children."""
from __future__ import annotations

from dataclasses import dataclass

from search.algorithms.base import Algorithm, check_positive_ints, expandable, node_value
from search.tree import SearchNode, SearchTree


@dataclass
class BeamSettings:
    """Beam search's own option (`search.beam_width`; best-first BFS reads it too)."""

    beam_width: int = 2
    """Beam search: nodes kept per depth."""

    def check(self) -> None:
        """ValueError naming the option unless the width is an integer >= 1."""
        check_positive_ints(self, "beam_width")


class BeamSearch(Algorithm):
    settings_class = BeamSettings
    mix_width = True

    def _select(self, tree: SearchTree) -> list[SearchNode]:
        beam = tree.algo.get("beam")
        if beam is None:  # first wave, or resumed: restart from the deepest live layer
            live = [n for n in tree.nodes if expandable(n, self.s)]
            if not live:
                return []
            depth = max(n.depth for n in live)
            beam = self._best([n for n in live if n.depth == depth])
        return [n for n in beam if expandable(n, self.s)]

    def _best(self, nodes: list[SearchNode]) -> list[SearchNode]:
        # Label value first; the policy's own confidence breaks ties.
        ranked = sorted(nodes, key=lambda n: (node_value(n, self.s), n.logprob or 0.0, -n.seq), reverse=True)
        return ranked[: self.s.beam_width]

    def on_expanded(self, tree: SearchTree, node: SearchNode, children: list[SearchNode]) -> None:
        super().on_expanded(tree, node, children)
        pool = tree.algo.setdefault("pool", {})
        for c in children:  # a merged duplicate sample appears more than once
            if expandable(c, self.s):
                pool[id(c)] = c

    def end_wave(self, tree: SearchTree) -> None:
        if "pool" in tree.algo:  # only trees expanded in this wave move their beam
            tree.algo["beam"] = self._best(list(tree.algo.pop("pool").values()))
