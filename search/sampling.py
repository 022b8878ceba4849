"""How a model samples, declared once (TRL's `_BaseConfig` idea): every settings class that makes a
model generate inherits these fields and their one check, and states only its own defaults.

`Sampling` is the distribution tokens are drawn from (temperature, nucleus mass); `SamplingSettings`
adds the token cap of one generation. A group that names its cap otherwise (GRPO's
`max_completion_length`, TRL's name) inherits `Sampling` alone, so that no option is added to it.
The fields are keyword-only: a subclass's own fields keep their positions in its constructor.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(kw_only=True)
class Sampling:
    """Temperature and nucleus sampling of generated tokens."""

    temperature: float = 1.0
    """Sampling temperature; 0 is greedy decoding."""
    top_p: float = 1.0
    """Nucleus sampling: draw from the smallest set of tokens whose probability reaches this mass."""

    def check_sampling(self, where: str, *, greedy: bool = True) -> None:
        """ValueError naming `<where><option>` (`where` is e.g. "explore." or "request 3: ") for a
        value no backend can sample with; `greedy=False` also refuses temperature 0."""
        if greedy and self.temperature < 0:
            raise ValueError(f"{where}temperature must be >= 0, got {self.temperature!r}")
        if not greedy and self.temperature <= 0:
            # GRPO compares several samples of one prompt: greedy decoding makes them all the same.
            raise ValueError(f"{where}temperature must be > 0 (GRPO samples), got {self.temperature!r}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"{where}top_p must be in (0, 1], got {self.top_p!r}")


@dataclass(kw_only=True)
class SamplingSettings(Sampling):
    """Temperature, nucleus sampling and the token cap of one generation."""

    max_tokens: int = 32
    """Cap on the tokens generated for one request (always bounded)."""

    def check_sampling(self, where: str, *, greedy: bool = True) -> None:
        """As `Sampling.check_sampling`, and `max_tokens` must be an integer >= 1."""
        value = self.max_tokens
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{where}max_tokens must be an integer >= 1, got {value!r}")
        super().check_sampling(where, greedy=greedy)
