"""Expert iteration's data: k sampled answers per training problem from the current student, verified
by the task, the verified ones kept once each (STaR, Zelikman et al. 2022; ReST-EM, Singh et al. 2023;
rejection-sampling fine-tuning, Yuan et al. 2023).

Store-free, as training/answer_eval.py: the answers come from a `Policy` (one batched call per chunk of
problems, every problem's k samples in it) with the prompt the student was trained on, and are
scored by the same `score` the evaluation uses. The evolve stage stores them and builds the dataset.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from tqdm import tqdm

from search.policies.base import GenerationRequest, Policy
from search.sampling import SamplingSettings
from search.tasks.base import MISTAKE_LABELS, THINK_OPEN, Problem, Task
from traces.frames import frame_problem
from training.answer_eval import build_prompt, check_student_prompts, score

# What makes a sampled answer one to learn from: its final answer verified (STaR, ReST-EM), or also
# every step of its reasoning valid by the task's step checker (exact for Countdown), so that a right
# answer reached through a wrong sum does not teach the sum.
KEEP_CHOICES = ("answer", "steps")
# Problems per `generate` call: a progress bar that moves, and a batch big enough to keep the backend
# busy (the hf backend cuts it into `batch_size` sequences itself).
PROBLEMS_PER_CALL = 256


@dataclass
class SampledProblem:
    """One training problem's k answers: each `{prediction, answer, is_correct, n_tokens}`, where
    `is_correct` is what `keep` asks (the answer verified, and with keep=steps every step valid)."""

    problem: Problem
    prompt: str
    samples: list[dict[str, Any]] = field(default_factory=list)

    def kept(self) -> list[str]:
        """The distinct verified answers' texts (whitespace-blind), in sample order."""
        return distinct([s["prediction"] for s in self.samples if s["is_correct"]])


def distinct(texts: Sequence[str]) -> list[str]:
    """`texts` without repeats, two texts being the same when they differ only in whitespace."""
    seen, out = set(), []
    for text in texts:
        norm = " ".join(text.split())
        if norm not in seen:
            seen.add(norm)
            out.append(text)
    return out


def steps_valid(task: Task, problem: Problem, text: str) -> bool:
    """Whether every step of `text`'s reasoning is a legal step of the task from the problem's start
    (no step the checker labels a mistake) and the text is one well-formed trace."""
    answer = task.extract_answer(text)
    if frame_problem(task, text, answer) is not None:
        return False
    steps, _ = task.completion_steps(text.lstrip()[len(THINK_OPEN):])
    state = task.initial_state(problem)
    for line in steps:
        result = task.apply_step(state, line, problem)
        if result.label in MISTAKE_LABELS or result.state is None:
            return False
        state = result.state
    return True


def sample_problems(policy: Policy, task: Task, problems: Sequence[Problem], style: str, k: int,
                    sampling: SamplingSettings, seed: int, keep: str = "answer",
                    label: str = "student", model: str = "") -> list[SampledProblem]:
    """k answers per problem from `policy`, prompted in `style` (the student's training format), each
    verified; with `keep="steps"` an answer counts only when its steps are valid too."""
    if k < 1:
        raise ValueError(f"evolve.samples must be an integer >= 1, got {k!r}")
    if keep not in KEEP_CHOICES:
        raise ValueError(f"evolve.keep={keep!r}: choose one of {', '.join(KEEP_CHOICES)}")
    prompts = [build_prompt(task, p, style, policy) for p in problems]
    check_student_prompts(label, model, policy, problems, prompts)
    out: list[SampledProblem] = []
    bar = tqdm(total=len(problems), desc="sample", unit="problem", mininterval=10)
    for lo in range(0, len(problems), PROBLEMS_PER_CALL):
        chunk = range(lo, min(lo + PROBLEMS_PER_CALL, len(problems)))
        answers = policy.generate([
            GenerationRequest(prompt=prompts[i], n=k, max_tokens=sampling.max_tokens, stop=tuple(task.answer_stop),
                              temperature=sampling.temperature, top_p=sampling.top_p, seed=seed)
            for i in chunk])
        for i, completions in zip(chunk, answers):
            mine = SampledProblem(problems[i], prompts[i])
            for completion in completions:
                prediction, answer, ok = score(task, problems[i], completion)
                ok = bool(ok) and (keep == "answer" or steps_valid(task, problems[i], prediction))
                mine.samples.append({"prediction": prediction, "answer": answer, "is_correct": ok,
                                     "n_tokens": len(completion.token_ids)})
            out.append(mine)
        bar.update(len(chunk))
    bar.close()
    return out


def eval_rows(answered: Sequence[SampledProblem], problem_ids: dict[str, int]) -> list[dict[str, Any]]:
    """`answered` as the `evals` rows eval writes (`TraceStore.replace_evals`): one row per problem, its
    first kept answer (else its first answer) with `is_correct` when any answer was kept, and every
    sampled answer in `samples`. `problem_ids`: problem key -> stored id."""
    rows = []
    for item in answered:
        kept = [s for s in item.samples if s["is_correct"]]
        first = (kept or item.samples)[0]
        rows.append({"problem_id": problem_ids[item.problem.key], "prediction": first["prediction"],
                     "answer": first["answer"], "is_correct": bool(kept), "n_tokens": first["n_tokens"],
                     "samples": item.samples})
    return rows


def sample_stats(answered: Sequence[SampledProblem], k: int, keep: str, seconds: float) -> dict[str, Any]:
    """What a sample run stores in `runs.stats`: problems, answers, verified, solved, distinct kept, tokens."""
    return {"problems": len(answered), "samples_per_problem": k, "keep": keep,
            "samples": sum(len(i.samples) for i in answered),
            "verified": sum(s["is_correct"] for i in answered for s in i.samples),
            "solved": sum(bool(i.kept()) for i in answered), "kept": sum(len(i.kept()) for i in answered),
            "generated_tokens": sum(s["n_tokens"] for i in answered for s in i.samples),
            "seconds": round(seconds, 1)}
