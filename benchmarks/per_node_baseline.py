"""The explorer's batched waves against the usual one-request-per-node loop, same work otherwise.

Same model, Countdown problems, MCTS settings and budget, two ways:

(a) per-node loop: trees grown one after another, every expansion ONE blocking request (its `k`
    samples) sent alone and waited for before the next, as OpenR and most search code do it;
(b) explorer: every active tree's expansions of a wave in one batched `generate` call.

Both run through the real explorer (so the search, the store and the budget are identical); (a)
only caps it at one active tree and hands the policy one request at a time. Prints generated
tokens/s of each and `ratio=<explorer / per-node>`.

    .venv/bin/python benchmarks/per_node_baseline.py --backend hf --problems 4
    # against the simulated H100-class engine (policy=simulated: batching is worth what it is on a GPU)
    .venv/bin/python benchmarks/per_node_baseline.py --backend simulated --problems 64
    # against a local vLLM server (CPU: float32, eager mode, KV cache in GiB), prefix caching off, then on:
    VLLM_CPU_KVCACHE_SPACE=2 .venv/bin/python -m vllm.entrypoints.openai.api_server --model DIR \\
        --served-model-name smollm2 --dtype float32 --enforce-eager --no-enable-prefix-caching --port 8000 &
    .venv/bin/python benchmarks/per_node_baseline.py --backend openai --base-url http://127.0.0.1:8000/v1 \\
        --model smollm2 --tokenizer DIR
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from explore_throughput import (Measured, clear_prefix_cache, make_backend,  # noqa: E402
                                run_explorer)
from search.policies.base import GenerationRequest, Policy  # noqa: E402


class OneAtATime:
    """The policy, but every request of a call sent alone and waited for: the per-node loop."""

    def __init__(self, inner: Policy) -> None:
        self.inner = inner

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def generate(self, requests: list[GenerationRequest]):
        """One blocking `generate` per request, in order."""
        return [self.inner.generate([r])[0] for r in requests]


def policy_for(args) -> Policy:
    if args.backend == "openai":
        from search.policies.openai_backend import OpenAIPolicy

        # seeds=False: a vLLM server on CPU dies on batches of seeded requests (the explorer's waves)
        return OpenAIPolicy(args.base_url, args.model, tokenizer=args.tokenizer, timeout=600, seeds=False)
    if args.backend == "simulated":
        from search.policies.simulated import SimulatedPolicy
        from search.tasks import make_task

        # the task run_explorer grows (same config): the engine answers with its scripted steps
        return SimulatedPolicy(make_task({"name": "countdown", "n_train": args.problems, "n_test": 1,
                                          "seed": args.seed}), seed=args.seed)
    return make_backend(args.backend, args.seed)


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, warm up, run the per-node loop and the explorer, print the comparison."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", choices=("hf", "vllm", "openai", "simulated"), default="hf")
    ap.add_argument("--base-url", default="http://127.0.0.1:8000/v1", help="openai: the server")
    ap.add_argument("--model", default="smollm2", help="openai: the served model name")
    ap.add_argument("--tokenizer", default="smollm2-135m", help="openai: tokenizer for token-id prompts")
    ap.add_argument("--problems", type=int, default=4)
    ap.add_argument("--k", type=int, default=4, help="samples per expansion")
    ap.add_argument("--expansions", type=int, default=3, help="MCTS expansions per tree")
    ap.add_argument("--max-tokens", type=int, default=16)
    ap.add_argument("--max-active-trees", type=int, default=64, help="the explorer's trees per wave")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    started = time.perf_counter()
    policy = policy_for(args)
    print(f"backend={args.backend} ready in {time.perf_counter() - started:.1f}s")
    if args.backend != "simulated":   # a model warms up; the simulated engine has nothing to warm
        policy.generate([GenerationRequest(prompt="Numbers: 3, 5, 7\nTarget: 22\n", prompt_token_ids=None, n=2,
                                           max_tokens=4, stop=("\n",))])  # untimed warm-up

    clear_prefix_cache(policy)
    loop_args = argparse.Namespace(**{**vars(args), "max_active_trees": 1})
    per_node, per_node_rec, per_node_summary = run_explorer(OneAtATime(policy), loop_args)
    clear_prefix_cache(policy)
    batched, batched_rec, batched_summary = run_explorer(policy, args)
    policy.close()

    def line(name: str, m: Measured, summary: dict, calls: int) -> str:
        return (f"{name:10}{m.tokens_per_s:9.1f}{m.generated_tokens:9d}{m.seconds:9.2f}{calls:8d}"
                f"{summary['nodes']:7d}{m.hit_rate:11.2f}")

    print(f"{args.problems} problems, MCTS k={args.k}, {args.expansions} expansions per tree, "
          f"{args.max_tokens} tokens per step")
    print(f"{'':10}{'tok/s':>9}{'gen tok':>9}{'seconds':>9}{'calls':>8}{'nodes':>7}{'cache hit':>11}")
    print(line("per-node", per_node, per_node_summary, per_node.calls))
    print(line("explorer", batched, batched_summary, batched.calls))
    ratio = batched.tokens_per_s / per_node.tokens_per_s if per_node.tokens_per_s else 0.0
    print(f"ratio={ratio:.2f}")


if __name__ == "__main__":
    main()
