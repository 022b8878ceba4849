"""Inference-time scaling at evaluation: N sampled answers per problem, and the ways to pick one.

On the same samples (the first N of each problem's draws, which are i.i.d., so the first N are a
sample of N): majority vote (self-consistency), best-of-N by the step scorer (the answer whose PRM
score is highest), PRM-weighted majority (each distinct answer scores the sum of its answers' PRM
scores), and pass@N (any correct: the ceiling), as Hugging Face's search-and-learn compares them.
An answer's PRM score aggregates its step scores: `last` (search-and-learn's default), `min` or `prod`.
Step-level beam search with the PRM (`prm_beam`) draws its own answers: training/prm_beam.py.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

from search.tasks.base import Problem, Task

STRATEGIES = ("majority", "prm_best", "prm_weighted", "pass")
AGGREGATES = ("last", "min", "prod")


def aggregate(step_scores: Sequence[float | None], how: str = "last") -> float:
    """One score per answer from its step scores (None where a step was not scored: left out); 0.0
    for an answer with no scored step (nothing says it is good)."""
    scores = [s for s in step_scores if s is not None]
    if not scores:
        return 0.0
    if how == "last":
        return scores[-1]
    if how == "min":
        return min(scores)
    if how == "prod":
        return math.prod(scores)
    raise ValueError(f"eval.prm_aggregate must be one of {AGGREGATES}, got {how!r}")


def score_samples(scorer_dir: str, task: Task, problems: dict[str, Problem], rows: Sequence[dict[str, Any]],
                  how: str = "last", max_length: int = 1024) -> list[list[float]]:
    """The PRM score of every sampled answer of every row (`sample_rows`), in one batched pass per 16
    answers: the question, then the answer's steps (before `</think>`, then its final answer line)."""
    from search.prm_scorer import load_scorer, score_paths
    from training.sampled_steps import answer_steps

    model, tokenizer = load_scorer(scorer_dir)
    paths, shape = [], []
    for row in rows:
        problem = problems[row["problem_id"]]
        samples = row.get("sample_rows") or []
        shape.append(len(samples))
        for s in samples:
            paths.append({"prompt": task.question(problem), "completions": answer_steps(task, s["prediction"])})
    flat = iter(aggregate(p, how) for p in score_paths(model, tokenizer, paths, max_length))
    return [[next(flat) for _ in range(n)] for n in shape]


def _pick_weighted(answers: Sequence[str | None], weights: Sequence[float],
                   same: Callable[[str, str], bool]) -> str | None:
    groups: list[tuple[str, float]] = []
    for a, w in zip(answers, weights):
        if a is None:
            continue
        for i, (first, total) in enumerate(groups):
            if same(first, a):
                groups[i] = (first, total + w)
                break
        else:
            groups.append((a, w))
    return max(groups, key=lambda g: g[1])[0] if groups else None


def strategy_correct(task: Task, problem: Problem, samples: Sequence[dict[str, Any]], scores: Sequence[float] | None,
                     n: int) -> dict[str, bool]:
    """Whether each strategy's pick among the first `n` samples is correct (the PRM ones only with scores)."""
    from training.answer_eval import majority_answer

    first = list(samples[:n])
    answers = [s["answer"] for s in first]
    voted = majority_answer(answers, task.same_answer)
    out = {"majority": voted is not None and bool(task.verify(problem, voted)),
           "pass": any(bool(s["is_correct"]) for s in first)}
    if scores is not None:
        mine = list(scores[:n])
        best = max(range(len(first)), key=lambda i: (mine[i], -i)) if first else None
        out["prm_best"] = best is not None and bool(first[best]["is_correct"])
        weighted = _pick_weighted(answers, mine, task.same_answer)
        out["prm_weighted"] = weighted is not None and bool(task.verify(problem, weighted))
    return out


def scaling_results(task: Task, problems: dict[str, Problem], rows: Sequence[dict[str, Any]],
                    ns: Sequence[int], scores: Sequence[Sequence[float]] | None = None) -> list[dict[str, Any]]:
    """Per model, N and strategy: the per-problem correctness (for intervals) and the mean tokens the
    N answers took per problem (the compute axis of the plot)."""
    out = []
    by_model: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        by_model.setdefault(row["model"], []).append(i)
    for model, idx in by_model.items():
        for n in ns:
            marks: dict[str, list[bool]] = {}
            tokens = []
            for i in idx:
                samples = rows[i].get("sample_rows") or []
                got = strategy_correct(task, problems[rows[i]["problem_id"]], samples,
                                       scores[i] if scores is not None else None, n)
                for name, ok in got.items():
                    marks.setdefault(name, []).append(ok)
                tokens.append(sum(s["n_tokens"] for s in samples[:n]))
            for name in STRATEGIES:
                if name in marks:
                    out.append({"model": model, "n": n, "strategy": name, "correct": marks[name],
                                "tokens": sum(tokens) / max(len(tokens), 1)})
    return out


def plot_scaling(results: Sequence[dict[str, Any]], path) -> None:
    """Accuracy against N and against generated tokens per problem, one line per model and strategy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    lines: dict[tuple[str, str], list[dict]] = {}
    for r in results:
        lines.setdefault((r["model"], r["strategy"]), []).append(r)
    for (model, strategy), pts in sorted(lines.items()):
        pts = sorted(pts, key=lambda p: p["n"])
        acc = [100.0 * sum(p["correct"]) / max(len(p["correct"]), 1) for p in pts]
        label = f"{model}: {strategy}".replace("$", r"\$")
        axes[0].plot([p["n"] for p in pts], acc, marker="o", label=label)
        axes[1].plot([p["tokens"] for p in pts], acc, marker="o", label=label)
    for ax, xlabel in zip(axes, ("N (answers per problem)", "generated tokens per problem")):
        ax.set_xscale("log", base=2 if ax is axes[0] else 10)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("accuracy %")
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
