"""The linearize stage's settings (Hydra group `linearize`): which trajectory kinds, and each kind's
options as its linearizer's own config dataclass; built once and handed to the stage typed."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from traces.journey import JourneyConfig
from traces.llm_reflection import RewriteConfig
from traces.shortcut import ShortcutConfig
from traces.stream import StreamConfig


@dataclass
class LinearizeSettings:
    """The linearize stage (Hydra group `linearize`): which trajectory kinds, and each kind's options."""

    kinds: list[str] = field(default_factory=lambda: ["shortcut", "journey", "stream"])
    """Trajectory kinds to write: shortcut | journey | stream (traces/linearize.py)."""
    train_kinds: list[str] | None = None
    """Kinds `train` and `eval` tune by default (`train.kinds` overrides); null: every kind above."""
    matched: bool = True
    """With several kinds: keep only trees for which every kind produced a trajectory, so that the
    datasets of a comparison cover the same problems."""
    shortcut: ShortcutConfig = field(default_factory=ShortcutConfig)
    """Options of the shortcut linearizer (traces/shortcut.py ShortcutConfig)."""
    journey: JourneyConfig = field(default_factory=lambda: JourneyConfig(backtracks=[1.0, 1.0, 1.0], checks=0.5))
    """Options of the journey linearizer (traces/journey.py JourneyConfig). The pipeline's recipe mixes
    0, 1 and 2 backtracks per journey and puts a check line after half the correct steps: in the
    committed CPU study (docs/results/experiment-cpu/, 3 seeds) it scored 5.5 points above O1-Journey's
    constant count (`backtracks=null checks=0`, the linearizer's own default), which the model learns
    to copy into every answer."""
    stream: StreamConfig = field(default_factory=StreamConfig)
    """Options of the stream linearizer (traces/stream.py StreamConfig)."""
    rewrite: dict[str, Any] = field(default_factory=lambda: {
        "backend": "hf", **{f.name: f.default for f in dataclasses.fields(RewriteConfig)}})
    """Used only with `journey.reflection=llm`: the rewrite model as a policy config (backend + its
    options, as in conf/policy/) plus the generation options of traces/llm_reflection.py
    RewriteConfig (temperature, top_p, max_tokens, instruction; their defaults are its defaults)."""

    def kind_options(self, kind: str) -> Any:
        """The options of `kind`'s linearizer (`linearize.<kind>`), None for a kind with none here."""
        value = getattr(self, kind, None)
        return value if dataclasses.is_dataclass(value) else None


__all__ = ["LinearizeSettings"]
