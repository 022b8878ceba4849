"""Options of the explore stage (`ExploreSettings`, Hydra node `explore`) and what a run reports
(`ExploreSummary`); the explorer itself is search/explorer.py."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from search.bounds import MAX_SEQUENCE_TOKENS, check_int, check_number
from search.sampling import SamplingSettings

# explore.<option> -> its most. Trees at once: 1,000,000 is 400x rStar-Math's waves (2,500 trees) and
# each active tree holds its nodes in memory. Seconds: a day; a lease or a poll longer than that is a
# slip (and Python's sleep overflows near 2**63 ns, about 292 years).
EXPLORE_MAXIMA = {"max_active_trees": 1_000_000, "lease_seconds": 86_400.0, "poll_seconds": 86_400.0,
                  "gather_seconds": 86_400.0}


@dataclass
class ExploreSettings(SamplingSettings):
    """Sampling and scheduling options of the explore stage (Hydra node `explore`). The sampling fields
    and their check come from search/sampling.py; `top_p` applies to the steps and to the rollouts."""

    max_active_trees: int = 64
    """Trees grown together; all their expansions of a wave share one batched `generate` call."""
    max_tokens: int = 16
    """Token cap of one step (a step is one line, about 8 tokens)."""
    temperature: float = 0.8
    """Sampling temperature of steps: small models write far fewer legal steps at 1.0."""
    seed: int = 0
    """Seed of the per-request sampling seeds (the run's `seed` in the Hydra config)."""
    lease_seconds: float = 120.0
    """A tree whose worker stops renewing its lease is reclaimed by other workers after this."""
    poll_seconds: float = 2.0
    """Wait between claims while other workers hold the remaining trees."""
    worker: str | None = None
    """This worker's id in `trees.claimed_by`; null: "<host>:<pid>"."""
    worker_index: int | None = None
    """This worker's index among several started at once on one run: a sweep over it makes one
    Hydra job (one process; one task under SLURM) per value, e.g. `journeyforge explore -m
    store=postgres store.url=... explore.worker_index=0,1,2,3 hydra/launcher=submitit_slurm` (README,
    "Many workers"). Workers share the run's trees through leases whatever their index; it only
    makes the jobs distinct and names the worker in its log. null: a single worker."""
    max_waves: int | None = None
    """Stop after this many waves (tests, benchmarks); null: run until every tree is done."""
    overlap_writes: bool = True
    """Write each wave's transaction on a background thread while the next wave generates, taking
    the store off the engine's critical path (benchmarks/explore_scale.py: 26 s of a 590 s wave at
    2,500 trees x 16 rollouts on SQLite). The next wave waits for it only before it builds its own
    rows (they name the new nodes' ids), so the trees are the same as with false. A crash still
    loses at most the waves in flight (the one being written and the one generating), never a
    committed one: the kill -9, Ctrl-C and three-worker tests run both ways. false: each wave is
    written before the next one starts (one thread)."""
    continuous: bool = False
    """Waves that do not wait for stragglers (backends that take requests continuously: openai,
    simulated, vllm): a tree's next expansion is sent as soon as its last one came back, and whatever has
    come back is absorbed and written together (one transaction). Trees are the same as with waves
    where the backend is deterministic: every request's seed comes from (seed, tree, node)."""
    gather_seconds: float = 0.0
    """explore.continuous: after the first expansion comes back, wait this long for more before
    writing, for fewer and larger transactions."""
    progress: bool = True
    """Show a progress bar."""

    def __post_init__(self) -> None:
        check_int("explore.max_active_trees", self.max_active_trees, 1, EXPLORE_MAXIMA["max_active_trees"])
        self.check_sampling("explore.")
        check_int("explore.max_tokens", self.max_tokens, 1, MAX_SEQUENCE_TOKENS)
        if self.worker_index is not None and (isinstance(self.worker_index, bool) or self.worker_index < 0):
            raise ValueError(f"explore.worker_index must be an integer >= 0 or null, got {self.worker_index!r}")
        if self.max_waves is not None and self.max_waves < 1:
            raise ValueError(f"explore.max_waves must be >= 1 or null, got {self.max_waves!r}")
        if self.gather_seconds < 0:
            raise ValueError(f"explore.gather_seconds must be >= 0, got {self.gather_seconds!r}")
        for name in ("lease_seconds", "poll_seconds"):
            if getattr(self, name) <= 0:
                raise ValueError(f"explore.{name} must be > 0 seconds, got {getattr(self, name)!r}")
        for name in ("lease_seconds", "poll_seconds", "gather_seconds"):
            check_number(f"explore.{name}", getattr(self, name), 0, EXPLORE_MAXIMA[name], "seconds")

@dataclass
class ExploreSummary:
    trees: int = 0
    trees_done: int = 0
    trees_failed: int = 0          # refused: a prompt that does not fit the policy's context
    solved: int = 0
    nodes: int = 0
    waves: int = 0
    labels: Counter = field(default_factory=Counter)
    generated_tokens: int = 0
    rollouts: int = 0              # Monte-Carlo completions drawn (search.value=rollout)
    rollout_tokens: int = 0
    seconds: float = 0.0
    policy_seconds: float = 0.0
    store_seconds: float = 0.0
    store_wait_seconds: float = 0.0  # of store_seconds, what the explorer waited (overlap_writes)

    def as_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in ("trees", "trees_done", "trees_failed", "solved", "nodes", "waves",
                                            "generated_tokens", "rollouts", "rollout_tokens", "seconds",
                                            "policy_seconds", "store_seconds")}
        d["labels"] = dict(self.labels)
        return d
