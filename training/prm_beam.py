"""Step-level beam search with a step scorer at evaluation: the PRM picks which partial answers grow.

Hugging Face's search-and-learn beam search (Snell et al. 2024, "Scaling LLM test-time compute"): with
a budget of N and a beam width M, each problem first samples N one-step starts; the PRM scores every
partial answer (its last step's score, as search-and-learn aggregates) and the best N/M are kept; each
kept beam is then continued M times by one step, so every round scores N candidates; a candidate that
holds a final answer is finished, and the search of a problem ends when N/M beams have finished, no
beam is left, or the step or token limit is reached. The answer is the finished beam the PRM scores
highest (the best partial one when none finished). Nothing here reads the gold answer: the verifier
only grades the pick afterwards. All problems' beams go to the policy in one batched call per round.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from search.policies.base import GenerationRequest, Policy
from search.tasks.base import Problem, Task


@dataclass
class _Beam:
    text: str = ""            # the completion so far (steps joined by the task's delimiter)
    tokens: int = 0           # tokens this beam's own steps took
    score: float = 0.0        # the PRM's score of its last step
    done: bool = False


@dataclass
class _Search:
    problem: Problem
    prompt: str
    active: list[_Beam] = field(default_factory=list)
    finished: list[_Beam] = field(default_factory=list)
    tokens: int = 0           # every generated token of this problem's search (the compute axis)


def _score(score_fn, task: Task, searches: Sequence[_Search], beams: Sequence[tuple[int, _Beam]]) -> None:
    """Set each beam's score: one batched call of the scorer over (question, steps so far)."""
    from training.scaling import aggregate

    paths = []
    for i, beam in beams:
        steps, tail = task.completion_steps(beam.text)
        paths.append({"prompt": task.question(searches[i].problem),
                      "completions": [task.quote(s) for s in steps] + ([task.quote(tail)] if tail else [])})
    for (_, beam), scores in zip(beams, score_fn(paths)):
        beam.score = aggregate(scores, "last")


def scorer_function(scorer_dir: str, max_length: int = 1024) -> Callable[[list[dict]], list[list[float | None]]]:
    """paths -> step scores with the trained scorer in `scorer_dir` (batched forward passes)."""
    from search.prm_scorer import load_scorer, score_paths

    model, tokenizer = load_scorer(scorer_dir)
    return lambda paths: score_paths(model, tokenizer, paths, max_length)


def beam_search(policy: Policy, score_fn, task: Task, problems: Sequence[Problem], prompts: Sequence[str], n: int,
                width: int = 4, max_steps: int = 40, step_tokens: int = 64, max_tokens: int = 512,
                temperature: float = 0.8, top_p: float = 1.0, seed: int = 0) -> list[dict[str, Any]]:
    """Beam search of budget `n` (beam width `width`) for every problem, the partial answers ranked by
    `score_fn` (a list of {"prompt", "completions"} paths -> their step scores, as
    `search.prm_scorer.score_paths` gives them); one dict per problem:
    `prediction` (the picked completion, closed), `answer`, `is_correct`, `tokens` (all generated),
    `finished` (beams that reached an answer)."""
    if n < 1 or width < 1:
        raise ValueError(f"beam search needs n >= 1 and width >= 1, got n={n}, width={width}")
    width = min(width, n)
    keep = max(1, n // width)
    searches = [_Search(p, prompt) for p, prompt in zip(problems, prompts)]
    stop = tuple(dict.fromkeys((*task.stop, *task.answer_stop)))
    delimiter = task.stop[0] if task.stop else "\n"
    for step in range(max_steps):
        # Round 0 samples n starts per problem; later rounds continue each kept beam `width` times.
        parents = [(i, beam) for i, s in enumerate(searches)
                   for beam in (s.active if step else [_Beam()])]
        if not parents:
            break
        fan = n if step == 0 else width
        outs = policy.generate([GenerationRequest(
            prompt=searches[i].prompt + beam.text, n=fan, max_tokens=step_tokens, stop=stop,
            temperature=temperature, top_p=top_p, seed=seed + 7919 * step + j)
            for j, (i, beam) in enumerate(parents)])
        children: list[tuple[int, _Beam]] = []
        for (i, parent), completions in zip(parents, outs):
            for c in completions:
                searches[i].tokens += len(c.token_ids)
                text = parent.text + c.text
                grown = _Beam(text=text, tokens=parent.tokens + len(c.token_ids))
                # A beam is finished when it holds an answer, stopped on the answer's own stop string
                # or EOS without a step delimiter to continue from, or spent its tokens.
                closed = task.close_answer(text, c.finish_reason)
                if task.extract_answer(closed) is not None or grown.tokens >= max_tokens \
                        or (c.finish_reason == "stop" and not c.text and step > 0):
                    grown.text, grown.done = closed, True
                else:
                    grown.text = text + delimiter
                children.append((i, grown))
        if not children:
            break
        _score(score_fn, task, searches, children)
        for s in searches:
            s.active = []
        for i, beam in children:
            (searches[i].finished if beam.done else searches[i].active).append(beam)
        for s in searches:
            s.active = sorted(s.active, key=lambda b: -b.score)[:keep] if len(s.finished) < keep else []
    out = []
    for s in searches:
        pool = s.finished or s.active
        best = max(pool, key=lambda b: b.score) if pool else _Beam()
        prediction = best.text if best.done else task.close_answer(best.text, "length")
        answer = task.extract_answer(prediction)
        out.append({"problem_id": s.problem.key, "prediction": prediction, "answer": answer,
                    "is_correct": answer is not None and bool(task.verify(s.problem, answer)),
                    "tokens": s.tokens, "finished": len(s.finished)})
    return out


def beam_results(models: Sequence[Sequence[Any]], factory, task: Task, problems: Sequence[Problem],
                 ns: Sequence[int], scorer_dir: str, ev) -> list[dict[str, Any]]:
    """`beam_search` of every model at every N, as `training.scaling.scaling_results` rows (strategy
    `prm_beam`): per-problem correctness and the mean generated tokens per problem."""
    from training.answer_eval import build_prompt, prompt_style, unpack_model

    score_fn = scorer_function(scorer_dir)
    out = []
    for spec in models:
        label, model, adapter, override = unpack_model(spec)
        policy = factory(model, adapter)
        try:
            style = prompt_style(model, adapter, override)
            prompts = [build_prompt(task, p, style, policy) for p in problems]
            for n in ns:
                found = beam_search(policy, score_fn, task, problems, prompts, n, width=ev.prm_beam_width,
                                    max_steps=ev.prm_beam_steps, step_tokens=ev.prm_beam_step_tokens,
                                    max_tokens=ev.max_tokens, temperature=ev.temperature, top_p=ev.top_p,
                                    seed=ev.seed)
                out.append({"model": label, "n": n, "strategy": "prm_beam",
                            "correct": [r["is_correct"] for r in found],
                            "tokens": sum(r["tokens"] for r in found) / max(len(found), 1)})
        finally:
            policy.close()
    return out
