"""Settings of the evolve stage (Hydra group `evolve`): self-evolution rounds against one store.

Round 0 explores with the configured policy; round k >= 1 with round k-1's tuned model (rStar-Math's
rounds, Stream of Search's STaR rounds on its own searches). Every round linearizes, exports, trains
and evaluates on the same held-out problems; its runs are named `<name>/round-<k>` and record their
lineage in `runs` (round, parent run, model and its sha256). With `learn_from=samples` a round is expert
iteration instead: round k-1's model answers the training problems k times and its verified answers are
round k's data (`data=accumulate`: with every earlier round's).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from training.expert_samples import KEEP_CHOICES

PROBLEM_CHOICES = ("all", "unsolved", "new")
LEARN_FROM_CHOICES = ("trees", "samples", "both")
DATA_CHOICES = ("round", "accumulate")
INIT_CHOICES = ("base", "continue")
PRM_BASE_CHOICES = ("configured", "round")


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
    """Train a step scorer per round (the prm stage, on the round's trees) and value the next round's
    nodes with it (`search.value=prm`), as rStar-Math's rounds do with their reward model. With
    `eval.scaling` and no `eval.prm`, the round's eval ranks its samples with the round's scorer."""
    prm_base: str = "configured"
    """With `prm`: what each round's step scorer starts from: `configured` (`prm.model`) or `round` (the
    model the round trained, a full model: train=scratch or train.lora=false), as Math-Shepherd starts
    its PRM from the policy. From round 1 on the scorer learns from trees the previous round's student
    grew: a policy-matched scorer in one command."""
    # Typed Any, not dict: Hydra merges `evolve.policy={device: cuda}` into an existing mapping, and its
    # struct mode refuses the new key ("not an option"); over null the mapping is assigned whole.
    policy: Any = None
    """Options over the policy of rounds >= 1, a mapping (e.g. `evolve.policy={device: cuda, batch_size: 128}`,
    or one at a time: `+evolve.policy.device=cuda`); null: none. Its backend is round 0's when that
    backend loads a model (hf, vllm), else hf. Checked against that backend before round 0 runs."""
    dir: str = "outputs/evolve"
    """Folder of the rounds' datasets and models (`round-<k>/`) and of report.md and its plot."""
    learn_from: str = "trees"
    """What round k >= 1 learns from: `trees` (it grows trees with round k-1's model, as above),
    `samples` (expert iteration: STaR, ReST-EM, rejection-sampling fine-tuning: round k-1's model answers
    every training problem of the round `samples` times, sampled as eval samples (eval.temperature,
    eval.top_p, eval.max_tokens), and its verified answers, each kept once, are the round's data) or
    `both`. Round 0 always grows trees: there is no student yet."""
    samples: int = 8
    """Answers sampled per training problem in a round that learns from samples (k)."""
    keep: str = "answer"
    """Which sampled answers are data: `answer` (its final answer verified, in one well-formed trace) or
    `steps` (also every step valid by the task's step checker, where it has an exact one: a right
    answer reached through a wrong intermediate step does not teach that step)."""
    data: str = "round"
    """What the model of round k trains on: `round` (round k's data alone, rStar-Math's and ReST-EM's
    choice) or `accumulate` (the data of rounds 0..k, each example once, tagged with its round:
    rejection-sampling fine-tuning and STaR keep what every round found)."""
    init: str = "base"
    """Where round k's training starts: `base` (a new student from scratch, or a new adapter on
    train.model, as round 0's) or `continue` (round k-1's model, trained further; needs a full model:
    train=scratch or train.lora=false)."""

    def validate(self) -> None:
        if isinstance(self.rounds, bool) or not isinstance(self.rounds, int) or self.rounds < 1:
            raise ValueError(f"evolve.rounds must be an integer >= 1, got {self.rounds!r}")
        if self.problems not in PROBLEM_CHOICES:
            raise ValueError(f"evolve.problems={self.problems!r}: choose one of {', '.join(PROBLEM_CHOICES)}")
        if not self.dir:
            raise ValueError("evolve.dir must be a folder, got an empty string")
        for name, choices in (("learn_from", LEARN_FROM_CHOICES), ("keep", KEEP_CHOICES), ("data", DATA_CHOICES),
                              ("init", INIT_CHOICES)):
            if getattr(self, name) not in choices:
                raise ValueError(f"evolve.{name}={getattr(self, name)!r}: choose one of {', '.join(choices)}")
        if isinstance(self.samples, bool) or not isinstance(self.samples, int) or self.samples < 1:
            raise ValueError(f"evolve.samples must be an integer >= 1 (answers sampled per training problem), "
                             f"got {self.samples!r}")
        if self.prm and self.learn_from == "samples":
            raise ValueError("evolve.prm=true trains each round's step scorer on its trees: a round that learns "
                             "from samples grows none; use evolve.learn_from=both")
        if self.prm_base not in PRM_BASE_CHOICES:
            raise ValueError(f"evolve.prm_base={self.prm_base!r}: choose one of {', '.join(PRM_BASE_CHOICES)}")
        if self.prm_base != "configured" and not self.prm:
            raise ValueError(f"evolve.prm_base={self.prm_base} sets where each round's step scorer starts: it needs "
                             "evolve.prm=true")
        if self.policy is not None and not isinstance(self.policy, dict):
            raise ValueError(f"evolve.policy must be a mapping of policy options, e.g. evolve.policy={{device: cuda}}, "
                             f"got {self.policy!r}")
