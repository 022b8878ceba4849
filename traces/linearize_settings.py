"""The linearize stage's settings (Hydra group `linearize`): which trajectory kinds, and each kind's
options as its linearizer's own config dataclass; built once and handed to the stage typed."""
from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field
from typing import Any, Callable

from search.bounds import MAX_SEQUENCE_TOKENS, check_int
from traces.journey import JourneyConfig
from traces.linearize import KINDS
from traces.llm_reflection import RewriteConfig

# linearize.journey.<option> -> (least, most). Journeys per tree and wrong trials per journey: 1,000 is far
# past any recipe (O1-Journey and the presets use 1-3), and each is a whole trajectory; children tried per
# node: search.k's bound, since a node never has more; tokens: the longest context of the common models.
JOURNEY_BOUNDS = {"k": (2, 1_024), "max_backtracks": (1, 1_000), "per_tree": (1, 1_000),
                  "max_tokens": (1, MAX_SEQUENCE_TOKENS)}


# Where the linearize stage starts from other options than a linearizer's own defaults, and why.
RECIPES: dict[str, tuple[Callable[[], Any], str]] = {
    "journey": (lambda: JourneyConfig(backtracks=[1.0, 1.0, 1.0], checks=0.5),
                "The pipeline's recipe mixes 0, 1 and 2 backtracks per journey and puts a check line after half "
                "the correct steps: in the committed CPU study (docs/results/experiment-cpu/, 3 seeds) it "
                "scored 5.5 points above O1-Journey's constant count (`backtracks=null checks=0`, the "
                "linearizer's own default), which the model learns to copy into every answer."),
}


@dataclass
class _KindChoice:
    kinds: list[str] = field(default_factory=lambda: ["shortcut", "journey", "stream"])
    """Trajectory kinds to write: any of traces/linearize.py KINDS (shortcut | journey | stream | ...)."""
    train_kinds: list[str] | None = None
    """Kinds `train` and `eval` tune by default (`train.kinds` overrides); null: every kind above."""
    matched: bool = True
    """With several kinds: keep only trees for which every kind produced a trajectory, so that the
    datasets of a comparison cover the same problems."""


def _kind_field(name: str) -> tuple[str, type, Any]:
    kind = KINDS[name]
    factory, recipe = RECIPES.get(name, (kind.config, ""))
    where = f"{inspect.getmodule(kind.config).__name__.replace('.', '/')}.py {kind.config.__name__}"
    text = f"Options of the {name} linearizer ({where}): {kind.help}. {recipe}".strip()
    return name, kind.config, field(default_factory=factory, metadata={"help": text})


# One `linearize.<kind>` field per registered kind, its linearizer's own options dataclass (a new kind
# adds its options here through its registry entry alone); the overrides users type stay
# `linearize.journey.k=3` and so on.
_KindOptions = dataclasses.make_dataclass("_KindOptions", [_kind_field(name) for name in KINDS],
                                          bases=(_KindChoice,), namespace={"__module__": __name__})


@dataclass
class LinearizeSettings(_KindOptions):
    """The linearize stage (Hydra group `linearize`): which trajectory kinds, and each kind's options
    (`linearize.<kind>`, one field per traces/linearize.py KINDS entry)."""

    rewrite: dict[str, Any] = field(default_factory=lambda: {
        "backend": "hf", **{f.name: f.default for f in dataclasses.fields(RewriteConfig)}})
    """Used only with `journey.reflection=llm`: the rewrite model as a policy config (backend + its
    options, as in conf/policy/) plus the generation options of traces/llm_reflection.py
    RewriteConfig (temperature, top_p, max_tokens, instruction; their defaults are its defaults)."""

    def __post_init__(self) -> None:
        """ValueError naming `linearize.<kind>.<option>` for a count past its bound (slips such as 1e9)."""
        for name, (least, most) in JOURNEY_BOUNDS.items():
            value = getattr(self.journey, name, None)
            if value is not None:
                check_int(f"linearize.journey.{name}", value, least, most)
        if isinstance(self.rewrite, dict) and self.rewrite.get("max_tokens") is not None:
            check_int("linearize.rewrite.max_tokens", self.rewrite["max_tokens"], 1, MAX_SEQUENCE_TOKENS)

    def kind_options(self, kind: str) -> Any:
        """The options of `kind`'s linearizer (`linearize.<kind>`), None for a kind with none here."""
        value = getattr(self, kind, None)
        return value if dataclasses.is_dataclass(value) else None


__all__ = ["LinearizeSettings"]
