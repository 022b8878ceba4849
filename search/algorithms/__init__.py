"""Search algorithms. Each decides which leaves to expand; none calls the model."""
from __future__ import annotations

from search.algorithms.base import Algorithm, SearchSettings
from search.algorithms.beam import BeamSearch
from search.algorithms.best_of_n import BestOfN
from search.algorithms.frontier import BFS, DFS, Mixed
from search.algorithms.mcts import MCTS

ALGORITHMS: dict[str, type[Algorithm]] = {
    "mcts": MCTS, "beam": BeamSearch, "best_of_n": BestOfN, "bfs": BFS, "dfs": DFS, "mixed": Mixed,
}


def make_algorithm(settings: SearchSettings) -> Algorithm:
    """The algorithm named by `settings.algorithm`."""
    try:
        cls = ALGORITHMS[settings.algorithm]
    except KeyError:
        raise ValueError(f"search.algorithm={settings.algorithm!r} is unknown; choose one of "
                         f"{', '.join(ALGORITHMS)}") from None
    return cls(settings)


__all__ = ["ALGORITHMS", "Algorithm", "SearchSettings", "make_algorithm"]
