"""Generated tokens/s of the `hf` policy with and without the shared-prefix KV cache.

Runs the real default model (SmolLM2-135M-Instruct) on the same few-shot Countdown requests both
ways (one warm-up call each, not timed) and prints each throughput and `ratio=<with/without>`.
Also checks that greedy outputs are identical both ways.

    .venv/bin/python benchmarks/hf_prefix_cache.py --prompts 16 --n 8 --max-tokens 16
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_BF16")  # AMX kernels crash on some CPUs
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from search.policies.base import GenerationRequest  # noqa: E402
from search.policies.hf import HFPolicy  # noqa: E402

# The frame of the Countdown few-shot prompt (question, <think> steps, <answer>): ~250 tokens.
HEADER = """Numbers: 7, 3, 12
Target: 33
<think>
7 * 3 = 21. Left: 12, 21
21 + 12 = 33. Left: 33
</think>
<answer>7 * 3 + 12</answer>

Numbers: 24, 6, 9, 2
Target: 38
<think>
24 / 6 = 4. Left: 9, 2, 4
9 * 4 = 36. Left: 2, 36
36 + 2 = 38. Left: 38
</think>
<answer>9 * (24 / 6) + 2</answer>

Numbers: 15, 8, 3, 5
Target: 56
<think>
15 - 5 = 10. Left: 8, 3, 10
10 - 3 = 7. Left: 8, 7
8 * 7 = 56. Left: 56
</think>
<answer>8 * (15 - 5 - 3)</answer>

Numbers: 21, 4, 11, 6
Target: 56
<think>
21 + 11 = 32. Left: 4, 6, 32
6 * 4 = 24. Left: 32, 24
32 + 24 = 56. Left: 56
</think>
<answer>21 + 11 + 6 * 4</answer>

"""


def requests(prompts: int, n: int, max_tokens: int, temperature: float) -> list[GenerationRequest]:
    """`prompts` distinct Countdown problems after the shared header, each sampled `n` times."""
    rng = random.Random(0)
    out = []
    for i in range(prompts):
        nums = ", ".join(str(rng.randint(1, 25)) for _ in range(4))
        prompt = f"{HEADER}Numbers: {nums}\nTarget: {rng.randint(10, 100)}\n<think>\n"
        out.append(GenerationRequest(prompt=prompt, n=n, max_tokens=max_tokens, stop=("\n",),
                                     temperature=temperature, seed=i))
    return out


def throughput(policy: HFPolicy, reqs: list[GenerationRequest]) -> tuple[float, float, int]:
    """(generated tokens/s, seconds, generated tokens) of one timed call after a warm-up call."""
    policy.generate(reqs[:1])
    start = time.perf_counter()
    outs = policy.generate(reqs)
    seconds = time.perf_counter() - start
    tokens = sum(len(c.token_ids) for cs in outs for c in cs)
    return tokens / seconds, seconds, tokens


def main() -> None:
    """Parse options, run both ways, print the numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--model", default="smollm2-135m")
    args = parser.parse_args()

    reqs = requests(args.prompts, args.n, args.max_tokens, args.temperature)
    results, greedy = {}, {}
    for cached in (True, False):
        policy = HFPolicy(args.model, batch_size=args.batch_size, prefix_cache=cached)
        prompt_len = len(policy.encode(reqs[0].prompt))
        rate, seconds, tokens = throughput(policy, reqs)
        results[cached] = rate
        label = "with_cache" if cached else "without_cache"
        print(f"{label}: {tokens} generated tokens in {seconds:.2f}s = {rate:.1f} tok/s "
              f"(prompt ~{prompt_len} tokens, {args.prompts} prompts x {args.n} samples)")
        greedy_reqs = [GenerationRequest(prompt=r.prompt, max_tokens=args.max_tokens, stop=("\n",), temperature=0)
                       for r in reqs[:4]]
        greedy[cached] = [c[0].token_ids for c in policy.generate(greedy_reqs)]
    print(f"greedy_identical={greedy[True] == greedy[False]}")
    print(f"ratio={results[True] / results[False]:.2f}")


if __name__ == "__main__":
    main()
