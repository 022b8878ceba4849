"""Few-shot vs chat prompts for the math task with the bundled SmolLM2-135M-Instruct.

Samples whole completions (reasoning, `</think>`, answer) for the GSM8K test problems that are
shortest (question plus gold solution, `task.select=shortest`), in each prompt style, and prints
per style the fraction of samples whose final answer math-verify accepts and the fraction with any
extractable final answer. The better style is the math task's default `prompt_format` (numbers in
search/tasks/math/prompts.py). About 5 to 10 minutes on two CPU cores.

    .venv/bin/python benchmarks/math_prompts.py --problems 8 --samples 4 --max-tokens 200
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_BF16")  # AMX kernels crash on some CPUs
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from search.policies.base import GenerationRequest  # noqa: E402
from search.policies.hf import HFPolicy  # noqa: E402
from search.tasks import make_task  # noqa: E402


def measure(policy: HFPolicy, style: str, args: argparse.Namespace) -> dict[str, float]:
    """Correct and answered fractions of `args.samples` completions per problem in prompt `style`."""
    counts = {"n_train": args.problems if args.split == "train" else 0,
              "n_test": args.problems if args.split == "test" else 0}
    task = make_task({"name": "math", "prompt_format": style, "select": "shortest", **counts})
    problems = [p for p in task.load_problems() if p.split == args.split]
    render_chat = policy.render_chat if style == "chat" else None
    requests = [GenerationRequest(prompt=task.prompt(p, render_chat=render_chat), n=args.samples,
                                  max_tokens=args.max_tokens, stop=tuple(task.answer_stop),
                                  temperature=args.temperature, seed=args.seed * 1000 + i)
                for i, p in enumerate(problems)]
    start = time.perf_counter()
    outputs = policy.generate(requests)
    seconds = time.perf_counter() - start
    texts = [(p, task.close_answer(c.text, c.finish_reason)) for p, cs in zip(problems, outputs) for c in cs]
    answers = [task.extract_answer(t) for _, t in texts]
    verdicts = task.verify_many([(p, a) for (p, _), a in zip(texts, answers)])
    if args.show:
        for (p, text), a, ok in zip(texts, answers, verdicts):
            print(f"--- {style} {p.key} gold={p.answer} answer={a!r} ok={ok}\n{text}")
    n = len(texts)
    return {"correct": sum(verdicts) / n, "answered": sum(a is not None for a in answers) / n,
            "n": n, "n_correct": sum(verdicts), "n_answered": sum(a is not None for a in answers), "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--problems", type=int, default=8)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=200)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--styles", default="fewshot,chat")
    parser.add_argument("--split", default="test", choices=("test", "train"),
                        help="test: the measurement behind the default; train: the problems a CPU demo explores")
    parser.add_argument("--show", action="store_true", help="print every completion")
    args = parser.parse_args()
    policy = HFPolicy(seed=args.seed)
    for style in args.styles.split(","):
        r = measure(policy, style, args)
        print(f"{style:8s} correct={r['correct']:.3f} ({r['n_correct']}/{r['n']})  "
              f"answered={r['answered']:.3f} ({r['n_answered']}/{r['n']})  {r['seconds']:.0f}s", flush=True)


if __name__ == "__main__":
    main()
