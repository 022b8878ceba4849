"""Search algorithms and their one registry. Each decides which leaves to expand; none calls the model.

A new algorithm is its module (an `Algorithm` subclass with its options dataclass as
`settings_class`), one `ALGORITHMS` entry here and `conf/search/<name>.yaml` (docs/extending.md).
`SearchSettings`, the Hydra group `search`, is joined from the shared options, every registered
algorithm's options and every value estimator's (search/values.py ESTIMATORS), so each option is
declared once, beside its owner, and stays a flat `search.<option>` override.
"""
from __future__ import annotations

import dataclasses

from search.algorithms.base import Algorithm, SharedSearchSettings
from search.algorithms.beam import BeamSearch
from search.algorithms.best_of_n import BestOfN
from search.algorithms.frontier import BFS, DFS
from search.algorithms.mcts import MCTS
from search.algorithms.mixed import Mixed
from search.values import ESTIMATORS, ValueChoiceSettings

ALGORITHMS: dict[str, type[Algorithm]] = {
    "mcts": MCTS, "beam": BeamSearch, "best_of_n": BestOfN, "bfs": BFS, "dfs": DFS, "mixed": Mixed,
}


def _option_classes() -> tuple[type, ...]:
    """The options dataclasses `SearchSettings` joins, most derived first (a class another one extends
    comes in through it), shared options first in the checks."""
    owners = [SharedSearchSettings, ValueChoiceSettings]
    owners += [cls.settings_class for cls in ALGORITHMS.values() if cls.settings_class is not None]
    owners += [est.settings_class for est in ESTIMATORS.values()]
    unique = list(dict.fromkeys(owners))
    return tuple(c for c in unique if not any(o is not c and issubclass(o, c) for o in unique))


def _check_all(self) -> None:
    # Every owner's own `check`, once each (an inherited one, e.g. beam_width's, runs for its class).
    for klass in reversed(type(self).__mro__):
        check = klass.__dict__.get("check")
        if check is not None:
            check(self)


def _search_settings() -> type:
    cls = dataclasses.make_dataclass("SearchSettings", [], bases=tuple(reversed(_option_classes())),
                                     namespace={"__post_init__": _check_all, "__module__": __name__})
    cls.__doc__ = ("Every option of the Hydra group `search`: the shared ones (search/algorithms/base.py "
                   "SharedSearchSettings), each algorithm's (its module's settings_class) and each value "
                   "estimator's (search/values.py); `__post_init__` runs each owner's check.")
    return cls


SearchSettings = _search_settings()


def make_algorithm(settings: SearchSettings) -> Algorithm:
    """The algorithm named by `settings.algorithm`."""
    try:
        cls = ALGORITHMS[settings.algorithm]
    except KeyError:
        raise ValueError(f"search.algorithm={settings.algorithm!r} is unknown; choose one of "
                         f"{', '.join(ALGORITHMS)}") from None
    return cls.create(settings, ALGORITHMS)  # `mixed` draws from the same registry


__all__ = ["ALGORITHMS", "Algorithm", "SearchSettings", "make_algorithm"]
