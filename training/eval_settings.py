"""Settings of the `eval` stage (Hydra group `eval`): held-out problems answered by the base and tuned
models, with sampling (maj@k / pass@k) and inference-time scaling options.

Defaults are CPU-sized and are the only defaults: `conf/eval/*.yaml` hold only overrides.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from search.bounds import MAX_SEQUENCE_TOKENS, check_ints
from search.sampling import SamplingSettings

# eval.<option> -> (least, most).
# Samples per problem (`samples`, each N of `scaling`, the prm beam's width): 10,000 is the largest k of
# repeated sampling studies (Brown et al. 2024, "Large Language Monkeys"); each one is a whole generation
# per problem, so 1e9 would never end. Held-out problems: 1,000,000 is above any benchmark's test split
# (a larger value only means "all"). Beam rounds: 1,000 steps of one answer is far past any solution.
MAX_SAMPLES = 10_000
EVAL_BOUNDS = {"n_problems": (1, 1_000_000), "max_tokens": (1, MAX_SEQUENCE_TOKENS), "samples": (1, MAX_SAMPLES),
               "prm_beam_width": (1, MAX_SAMPLES), "prm_beam_steps": (1, 1_000),
               "prm_beam_step_tokens": (1, MAX_SEQUENCE_TOKENS)}


@dataclass
class EvalSettings(SamplingSettings):
    """Evaluation of base and tuned models on held-out problems (Hydra group `eval`); the sampling
    fields (maj@k / pass@k: greedy accuracy always uses temperature 0) come from search/sampling.py."""

    n_problems: int = 32
    """Held-out (split=test) problems to answer, the first ones stored."""
    max_tokens: int = 160
    """Cap on generated tokens per answer (generation also stops at the task's answer end)."""
    samples: int = 1
    """Sampled answers per problem for maj@k / pass@k (k = samples); 1 = greedy accuracy only."""
    temperature: float = 0.8
    """Sampling temperature for maj@k / pass@k (greedy accuracy always uses temperature 0)."""
    seed: int = 0
    """Seed of the sampled answers (the run's `seed` in the Hydra config)."""
    include_base: bool = True
    """Evaluate the base model too, not only the tuned adapters."""
    scaling: list[int] = field(default_factory=list)
    """Inference-time scaling, e.g. [1, 4, 16] (each N at most 10,000): each problem is answered with
    max(N) samples (at least `samples`) and, on the first N of them, majority vote, pass@N and, with `prm`, PRM best-of-N and
    PRM-weighted vote are scored (training/scaling.py); a table with intervals and two plots."""
    prm: str | None = None
    """Step scorer (`journeyforge prm`'s directory) that ranks the sampled answers for `scaling`."""
    prm_aggregate: str = "last"
    """An answer's PRM score from its step scores: "last" (search-and-learn's default), "min" or "prod"."""
    prm_beam: bool = True
    """With `prm` and `scaling`: also step-level beam search guided by the PRM at each N
    (training/prm_beam.py, search-and-learn's beam search), one more strategy in the table (`prm_beam`)."""
    prm_beam_width: int = 4
    """Beam width M of `prm_beam`: N/M beams kept per round, each continued M times (search-and-learn: 4)."""
    prm_beam_steps: int = 40
    """Rounds (steps) of `prm_beam` before the best partial answer is taken."""
    prm_beam_step_tokens: int = 64
    """Cap on one step's tokens in `prm_beam` (a beam's whole answer stays under `max_tokens`)."""

    def validate(self) -> None:
        """Raise ValueError naming the option when a setting cannot work."""
        check_ints("eval.", self, EVAL_BOUNDS)
        if self.temperature < 0:
            raise ValueError(f"eval.temperature must be >= 0, got {self.temperature!r}")
        if any(isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_SAMPLES for n in self.scaling):
            raise ValueError(f"eval.scaling must be a list of integers in [1, {MAX_SAMPLES:,}] (samples per problem), "
                             f"got {list(self.scaling)!r}")
        if self.prm_aggregate not in ("last", "min", "prod"):
            raise ValueError(f"eval.prm_aggregate must be one of last, min, prod, got {self.prm_aggregate!r}")
        if self.prm is not None:
            from search.values import check_scorer_dir

            try:
                check_scorer_dir(self.prm)
            except ValueError as err:
                raise ValueError(str(err).replace("search.prm", "eval.prm")) from None
