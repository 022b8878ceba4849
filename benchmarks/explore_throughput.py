"""Generated tokens/s of the explorer through the full stack versus the raw engine, in one process.

Same model, same Countdown problems, two ways:

(b) explorer: MCTS over `--problems` trees through search, a SQLite store in a temp dir and the
    policy, whose every `generate` call is recorded (the exact requests the explorer sent);
(a) raw: ONE batched `generate` of those same recorded requests (prompts, n, max_tokens, stop),
    the best the engine can do with that work.

The prefix cache is emptied before each part so neither inherits the other's cache. Prints tokens/s
of each, batch occupancy (mean sequences per generate call / the most a call could carry), the
prefix-cache hit rate, and last `ratio=<explorer/raw>`.

    .venv/bin/python benchmarks/explore_throughput.py --backend hf --problems 8 --k 4 --expansions 3
    .venv/bin/python benchmarks/explore_throughput.py --backend vllm --problems 8 --k 4 --expansions 3
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_BF16")  # AMX kernels crash on some CPUs
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from db import TraceStore  # noqa: E402
from search.algorithms import SearchSettings, make_algorithm  # noqa: E402
from search.explorer import Explorer, ExploreSettings  # noqa: E402
from search.policies.base import GenerationRequest, Policy, PolicyStats  # noqa: E402
from search.tasks import make_task  # noqa: E402


class RecordingPolicy:
    """The real policy, with every `generate` call's requests kept in order."""

    def __init__(self, inner: Policy) -> None:
        self.inner = inner
        self.calls: list[list[GenerationRequest]] = []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def generate(self, requests):
        """Record the call, then run it on the real policy."""
        self.calls.append(list(requests))
        return self.inner.generate(requests)


@dataclass
class Measured:
    seconds: float
    calls: int
    sequences: int
    prompt_tokens: int
    generated_tokens: int
    cached_tokens: int

    @property
    def tokens_per_s(self) -> float:
        return self.generated_tokens / self.seconds if self.seconds else 0.0

    @property
    def hit_rate(self) -> float:
        return self.cached_tokens / self.prompt_tokens if self.prompt_tokens else 0.0


def _delta(after: PolicyStats, before: PolicyStats, seconds: float) -> Measured:
    return Measured(seconds, after.calls - before.calls, after.sequences - before.sequences,
                    after.prompt_tokens - before.prompt_tokens, after.generated_tokens - before.generated_tokens,
                    after.cached_tokens - before.cached_tokens)


def _snapshot(stats: PolicyStats) -> PolicyStats:
    return PolicyStats(**vars(stats))


def make_backend(backend: str, seed: int) -> Policy:
    """The default model on `backend` (hf or vllm), CPU settings."""
    if backend == "hf":
        from search.policies.hf import HFPolicy

        return HFPolicy(seed=seed)
    if backend == "vllm":
        from search.policies.vllm_backend import VLLMPolicy

        return VLLMPolicy(seed=seed, max_model_len=1024)
    raise SystemExit(f"--backend must be hf or vllm, got {backend!r}")


def clear_prefix_cache(policy: Policy) -> None:
    """Empty the backend's prefix cache so a measurement starts cold."""
    if hasattr(policy, "prefixes"):
        policy.prefixes.clear()
    elif getattr(policy, "llm", None) is not None:
        policy.llm.reset_prefix_cache()


def run_explorer(policy: Policy, args) -> tuple[Measured, RecordingPolicy, dict]:
    """MCTS over `args.problems` Countdown problems through the whole stack; returns what the policy did."""
    task = make_task({"name": "countdown", "n_train": args.problems, "n_test": 1, "seed": args.seed})
    problems = [p for p in task.load_problems() if p.split == "train"][: args.problems]
    with tempfile.TemporaryDirectory() as tmp:
        store = TraceStore(f"sqlite:///{tmp}/bench.db")
        ids = store.add_problems([p.row() for p in problems])
        run_id = store.start_run("bench", "explore", {})
        store.create_trees(run_id, ids)
        algo = make_algorithm(SearchSettings(algorithm="mcts", k=args.k, max_expansions=args.expansions))
        recorder = RecordingPolicy(policy)
        settings = ExploreSettings(max_active_trees=args.max_active_trees, max_tokens=args.max_tokens,
                                   seed=args.seed, progress=False)
        before = _snapshot(policy.stats)
        start = time.perf_counter()
        summary = Explorer(store, task, recorder, algo, settings).run(run_id)
        measured = _delta(policy.stats, before, time.perf_counter() - start)
        store.close()
    return measured, recorder, summary.as_dict()


def run_raw(policy: Policy, calls: list[list[GenerationRequest]]) -> Measured:
    """The explorer's requests, all in one batched `generate` call."""
    requests = [r for call in calls for r in call]
    before = _snapshot(policy.stats)
    start = time.perf_counter()
    policy.generate(requests)
    return _delta(policy.stats, before, time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, warm the engine up, measure both ways and print the comparison."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", choices=("hf", "vllm"), default="hf")
    ap.add_argument("--problems", type=int, default=8)
    ap.add_argument("--k", type=int, default=4, help="samples per expansion")
    ap.add_argument("--expansions", type=int, default=3, help="MCTS expansions per tree")
    ap.add_argument("--max-tokens", type=int, default=24)
    ap.add_argument("--max-active-trees", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    started = time.perf_counter()
    policy = make_backend(args.backend, args.seed)
    print(f"backend={args.backend} model loaded in {time.perf_counter() - started:.1f}s")
    # One untimed call: first-call costs (kernel selection, allocator growth) belong to neither side.
    policy.generate([GenerationRequest(prompt="Numbers: 3, 5, 7\nTarget: 22\n", n=2, max_tokens=4, stop=("\n",))])

    clear_prefix_cache(policy)
    explorer, recorder, summary = run_explorer(policy, args)
    clear_prefix_cache(policy)
    raw = run_raw(policy, recorder.calls)

    capacity = min(args.max_active_trees, args.problems) * args.k   # sequences one wave can carry
    per_call = [sum(r.n for r in call) for call in recorder.calls]
    print(f"explorer: {summary['trees_done']} trees, {summary['nodes']} nodes, {summary['waves']} waves, "
          f"store {summary['store_seconds']:.2f}s, policy {summary['policy_seconds']:.2f}s of {explorer.seconds:.2f}s")
    print(f"{'':10}{'tok/s':>9}{'gen tok':>9}{'seconds':>9}{'calls':>7}{'seq/call':>10}{'occupancy':>11}{'cache hit':>11}")
    for name, m, seqs, cap in (("raw", raw, raw.sequences, raw.sequences),
                               ("explorer", explorer, sum(per_call) / max(len(per_call), 1), capacity)):
        print(f"{name:10}{m.tokens_per_s:9.1f}{m.generated_tokens:9d}{m.seconds:9.2f}{m.calls:7d}"
              f"{seqs:10.1f}{seqs / cap if cap else 0:11.2f}{m.hit_rate:11.2f}")
    policy.close()
    print(f"ratio={explorer.tokens_per_s / raw.tokens_per_s if raw.tokens_per_s else 0:.3f}")


if __name__ == "__main__":
    main()
