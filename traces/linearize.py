"""The trajectory kinds and their dispatch: turn one stored tree into trajectories of a given kind.

`KINDS` is the one registry of trajectory kinds: the linearize stage's `linearize.kinds`, the
experiment's arm kinds (journeyforge/experiment_settings.py) and the command line's help all read it.
A new kind is its module (a linearizer and its config dataclass), one `TrajectoryKind` entry here and
its YAML file (docs/extending.md).

Every linearizer takes `(G, task, cfg)` (the tree as a `networkx.DiGraph`, the task, the kind's
config dataclass or a mapping) and returns trajectory dicts; every trajectory ends with a
verified answer, and a tree without one yields nothing.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from typing import Any, Callable

import networkx as nx

from search.tasks.base import Task
from traces.dfs import DFSConfig, linearize_dfs
from traces.dropped import DroppedConfig, linearize_dropped
from traces.journey import JourneyConfig, Tokenizer, journey_with_reason, linearize_journey
from traces.shortcut import ShortcutConfig, linearize_shortcut
from traces.stream import StreamConfig, linearize_stream

NO_SOLUTION = "no verified solution in the tree"


@dataclass(frozen=True)
class TrajectoryKind:
    """One kind of trajectory: how a tree becomes its trajectories, and that linearizer's options."""

    name: str
    linearize: Callable[..., list[dict[str, Any]]]
    """`(G, task, cfg) -> trajectories`."""
    config: type
    """The linearizer's options (a dataclass; `linearize.<name>` in the Hydra config)."""
    help: str = ""
    """One line for the command line's help and the experiment's arm kinds."""
    with_reason: Callable[..., tuple[list[dict[str, Any]], str | None]] | None = None
    """`(G, task, cfg, tokenizer=) -> (trajectories, why there are none)` when the kind can say more
    than NO_SOLUTION, and counts tokens for a budget."""
    needs: str = ""
    """The capability a task must declare to be linearized this way (a boolean attribute of
    search/tasks/base.py Task, e.g. `stream_grammar`); empty: every task."""


KINDS: dict[str, TrajectoryKind] = {
    "shortcut": TrajectoryKind("shortcut", linearize_shortcut, ShortcutConfig,
                               "the correct root-to-solution path only"),
    "journey": TrajectoryKind("journey", linearize_journey, JourneyConfig,
                              "the correct path plus explored mistakes, reflections and returns (O1-Journey)",
                              with_reason=journey_with_reason),
    "stream": TrajectoryKind("stream", linearize_stream, StreamConfig,
                             "the whole search in visit order (Stream of Search)", needs="stream_grammar"),
    "dfs": TrajectoryKind("dfs", linearize_dfs, DFSConfig,
                          "the steps a depth-first search tried, each failure closed by its reason and undo lines"),
    "dropped": TrajectoryKind("dropped", linearize_dropped, DroppedConfig,
                              "the dfs trace with each abandoned try removed with probability drop (Dualformer)"),
}


class _KindField(MutableMapping):
    """A name -> one field of its `KINDS` entry view, kept for callers that patch a linearizer
    (`LINEARIZERS["stream"] = wrapped`, as tests/conftest.py does): writing replaces that field of
    the registry entry, so the registry stays the only place a kind is named."""

    def __init__(self, field_name: str):
        self._field = field_name

    def __getitem__(self, name: str) -> Any:
        return getattr(KINDS[name], self._field)

    def __setitem__(self, name: str, value: Any) -> None:
        if name not in KINDS:
            raise KeyError(f"{name!r} is not a trajectory kind: add a TrajectoryKind to traces.linearize.KINDS")
        KINDS[name] = dataclasses.replace(KINDS[name], **{self._field: value})

    def __delitem__(self, name: str) -> None:
        raise TypeError("remove a trajectory kind from traces.linearize.KINDS")

    def __iter__(self) -> Iterator[str]:
        return iter(KINDS)

    def __len__(self) -> int:
        return len(KINDS)


LINEARIZERS: MutableMapping[str, Callable[..., list[dict[str, Any]]]] = _KindField("linearize")
CONFIGS: MutableMapping[str, type] = _KindField("config")


def kind_names() -> list[str]:
    """Every registered trajectory kind, in registry order."""
    return list(KINDS)


def sft_kinds() -> list[str]:
    """The kinds a model can be tuned on by SFT (an experiment arm of that kind): every trajectory kind."""
    return kind_names()


def kind_config(kind: str) -> type:
    """The options dataclass of `kind`; ValueError naming the known kinds otherwise."""
    if kind not in KINDS:
        raise ValueError(f"unknown linearizer kind {kind!r}; choose one of {sorted(KINDS)}")
    return KINDS[kind].config


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
    if kind not in KINDS:
        raise ValueError(f"unknown linearizer kind {kind!r}; choose one of {sorted(KINDS)}")
    entry = KINDS[kind]
    if entry.with_reason is not None:
        return entry.with_reason(G, task, cfg, tokenizer=tokenizer)
    out = entry.linearize(G, task, cfg)
    return out, (None if out else NO_SOLUTION)
