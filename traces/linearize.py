"""Dispatch: turn one stored tree into trajectories of a given kind.

Every linearizer takes `(G, task, cfg)` (the tree as a `networkx.DiGraph`, the task, the kind's
config dataclass or a mapping) and returns trajectory dicts; every trajectory ends with a
verified answer, and a tree without one yields nothing.
"""
from __future__ import annotations

from typing import Any, Callable

import networkx as nx

from search.tasks.base import Task
from traces.journey import JourneyConfig, Tokenizer, journey_with_reason, linearize_journey
from traces.shortcut import ShortcutConfig, linearize_shortcut
from traces.stream import StreamConfig, linearize_stream

LINEARIZERS: dict[str, Callable[..., list[dict[str, Any]]]] = {
    "shortcut": linearize_shortcut,
    "journey": linearize_journey,
    "stream": linearize_stream,
}

CONFIGS: dict[str, type] = {"shortcut": ShortcutConfig, "journey": JourneyConfig, "stream": StreamConfig}

NO_SOLUTION = "no verified solution in the tree"


def linearize_tree(
    G: nx.DiGraph,
    task: Task,
    kind: str,
    cfg: Any = None,
    *,
    tokenizer: Tokenizer | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Trajectories of `kind` for one tree, and the reason when there are none (else None).

    `tokenizer` counts tokens for the journey's `max_tokens` budget (default: whitespace split).
    """
    if kind not in LINEARIZERS:
        raise ValueError(f"unknown linearizer kind {kind!r}; choose one of {sorted(LINEARIZERS)}")
    if kind == "journey":
        return journey_with_reason(G, task, cfg, tokenizer=tokenizer)
    out = LINEARIZERS[kind](G, task, cfg)
    return out, (None if out else NO_SOLUTION)
