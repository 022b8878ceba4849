"""Settings of the evolve stage (Hydra group `evolve`): self-evolution rounds against one store.

Round 0 explores with the configured policy; round k >= 1 with round k-1's tuned model (rStar-Math's
rounds, Stream of Search's STaR rounds on its own searches). Every round linearizes, exports, trains
and evaluates on the same held-out problems; its runs are named `<name>/round-<k>` and record their
lineage in `runs` (round, parent run, model and its sha256).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PROBLEM_CHOICES = ("all", "unsolved", "new")


@dataclass
class EvolveSettings:
    """The evolve stage: rounds 0..rounds-1, each explore -> linearize -> export -> train (-> rl) -> eval."""

    rounds: int = 2
    """Rounds to run (0..rounds-1). Raising it later resumes: finished rounds are not redone."""
    problems: str = "all"
    """Training problems each round grows: `all` (every training problem of the task, every round),
    `unsolved` (those no earlier round solved; round 0 grows all), or `new` (the training problems cut
    into `rounds` equal consecutive parts, round k grows part k: size task.n_train for every round)."""
    kind: str | None = None
    """The trained kind (shortcut | journey | stream) whose model grows the next round; null: the first
    of the kinds `train` tunes."""
    rl: bool = False
    """After SFT, GRPO (the rl stage, from that kind's model) and the GRPO model grows the next round
    (ASTRO's SFT-then-RL): an adapter over a LoRA start, the whole student for train.scratch."""
    prm: bool = False
    """Train a step scorer per round (the prm stage) and value the next round's nodes with it
    (`search.value=prm`), as rStar-Math's rounds do with their reward model."""
    policy: dict[str, Any] = field(default_factory=dict)
    """Options over the policy of rounds >= 1 (e.g. {device: cuda, batch_size: 128}). Its backend is
    round 0's when that backend loads a model (hf, vllm), else hf."""
    dir: str = "outputs/evolve"
    """Folder of the rounds' datasets and models (`round-<k>/`) and of report.md and its plot."""

    def validate(self) -> None:
        if isinstance(self.rounds, bool) or not isinstance(self.rounds, int) or self.rounds < 1:
            raise ValueError(f"evolve.rounds must be an integer >= 1, got {self.rounds!r}")
        if self.problems not in PROBLEM_CHOICES:
            raise ValueError(f"evolve.problems={self.problems!r}: choose one of {', '.join(PROBLEM_CHOICES)}")
        if not self.dir:
            raise ValueError("evolve.dir must be a folder, got an empty string")
