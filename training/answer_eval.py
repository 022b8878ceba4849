"""Evaluation of base and tuned models on held-out problems: greedy accuracy, maj@k and pass@k.

Every model answers through a `Policy` backend (the same code path the explorer uses) and every
answer is scored by the task's own verifier. Store-free: the eval stage writes the rows.
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Callable, Sequence

from tqdm import tqdm

from search.policies.base import Completion, GenerationRequest, Policy
from search.tasks.base import Problem, Task
from training.sft import read_sft_record

# How a model is prompted. The base model needs the task's few-shot examples to answer in the frame;
# tuned models get exactly the prompt they were trained on.
PROMPT_STYLES = ("fewshot", "prompt_completion", "messages")

PolicyFactory = Callable[[str, "str | None"], Policy]


def hf_policy_factory(model: str, adapter: str | None) -> Policy:
    """The default backend: transformers on CPU, with the LoRA adapter applied when given."""
    from search.policies.hf import HFPolicy

    return HFPolicy(model, adapter=adapter)


def prompt_style(model: str, adapter: str | None, override: str | None = None) -> str:
    """Which prompt a model gets: the override, else the training format recorded by `train_sft` in the
    adapter (or full model) directory, else "fewshot" (an untuned model)."""
    if override is not None:
        if override not in PROMPT_STYLES:
            raise ValueError(f"prompt style must be one of {PROMPT_STYLES}, got {override!r}")
        return override
    for directory in (adapter, model):
        record = read_sft_record(directory) if directory else None
        if record is not None:
            return record["settings"]["format"]
    if adapter is not None:
        raise ValueError(
            f"adapter {adapter} has no training record (journeyforge_sft.json): pass the prompt style as the "
            f"fourth element of the model tuple, one of {PROMPT_STYLES}"
        )
    return "fewshot"


def build_prompt(task: Task, problem: Problem, style: str, policy: Policy) -> str:
    """The text the model continues for `problem` in prompt `style`."""
    if style == "fewshot":
        return task.prompt(problem, "fewshot")
    if style == "prompt_completion":
        return task.question(problem)
    if style == "messages":
        return policy.render_chat([{"role": "user", "content": task.instructions(problem)}])
    raise ValueError(f"prompt style must be one of {PROMPT_STYLES}, got {style!r}")


def check_student_prompts(label: str, model: str, policy: Policy, problems: Sequence[Problem],
                          prompts: Sequence[str]) -> None:
    """StudentError when a from-scratch student (`train.scratch`) cannot encode a problem's prompt: its
    vocabulary was made from its training texts, and an unknown piece would be read as `[UNK]`."""
    record = read_sft_record(model)
    tokenizer = getattr(policy, "tokenizer", None)
    if not (record and record["settings"].get("scratch")) or tokenizer is None:
        return
    from training.student import StudentError, unencodable

    for problem, text in zip(problems, prompts):
        piece = unencodable(tokenizer, text)
        if piece is not None:
            raise StudentError(f"model {label!r} ({model}) cannot encode the prompt of problem {problem.key}: "
                               f"{piece!r} is not in its tokenizer's vocabulary (it was made from its training texts)")


def score(task: Task, problem: Problem, completion: Completion) -> tuple[str, str | None, bool]:
    """(prediction text, extracted answer, verified) for one completion."""
    prediction = task.close_answer(completion.text, completion.finish_reason)
    answer = task.extract_answer(prediction)
    return prediction, answer, answer is not None and task.verify(problem, answer)


def majority_answer(answers: Sequence[str | None], same: Callable[[str, str], bool] | None = None) -> str | None:
    """The most frequent extracted answer, answers grouped by `same` (the task's equivalence;
    default: equal without spaces); ties go to the earliest group; None if none parsed."""
    same = same or (lambda a, b: "".join(a.split()) == "".join(b.split()))
    groups: list[list[str]] = []
    for a in answers:
        if a is None:
            continue
        for group in groups:
            if same(group[0], a):
                group.append(a)
                break
        else:
            groups.append([a])
    if not groups:
        return None
    return max(groups, key=len)[0]  # max keeps the first of equal-sized groups


def unpack_model(spec: Sequence[Any]) -> tuple[str, str, str | None, str | None]:
    """(label, model, adapter, style override) from a 3- or 4-tuple."""
    if len(spec) not in (3, 4):
        raise ValueError(f"a model to evaluate is (label, model, adapter[, prompt style]), got {spec!r}")
    label, model, adapter = spec[0], spec[1], spec[2]
    return label, model, adapter, spec[3] if len(spec) == 4 else None


def evaluate_models(
    models: Sequence[Sequence[Any]],
    problems: Sequence[Problem],
    task: Task,
    policy_factory: PolicyFactory | None = None,
    max_tokens: int = 160,
    samples: int = 1,
    temperature: float = 1.0,
    top_p: float = 1.0,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Answer every problem with every model and verify the answers.

    `models` holds `(label, model, adapter | None[, prompt style])`; `policy_factory(model, adapter)`
    builds the backend (default: `HFPolicy`). One row per model and problem: `model, problem_id`
    (the problem's key), `prediction` (greedy text), `answer` (extracted), `is_correct`, `n_tokens`,
    `prompt_style`; with `samples > 1` also `samples`, `n_correct_samples`, `maj_correct`, `pass_correct`
    from temperature sampling (k = samples), and `sample_rows` (each sample's prediction, answer,
    is_correct, n_tokens: the `eval_samples` rows).
    """
    if max_tokens < 1:
        raise ValueError(f"eval.max_tokens must be >= 1, got {max_tokens}")
    if samples < 1:
        raise ValueError(f"eval.samples must be >= 1, got {samples}")
    factory = policy_factory or hf_policy_factory
    rows: list[dict[str, Any]] = []
    for spec in tqdm(models, desc="evaluate", unit="model"):
        label, model, adapter, override = unpack_model(spec)
        style = prompt_style(model, adapter, override)
        policy = factory(model, adapter)
        try:
            prompts = [build_prompt(task, p, style, policy) for p in problems]
            check_student_prompts(label, model, policy, problems, prompts)
            greedy = policy.generate([
                GenerationRequest(prompt=text, n=1, max_tokens=max_tokens, stop=tuple(task.answer_stop),
                                  temperature=0.0, seed=seed)
                for text in prompts
            ])
            sampled = None
            if samples > 1:
                sampled = policy.generate([
                    GenerationRequest(prompt=text, n=samples, max_tokens=max_tokens, stop=tuple(task.answer_stop),
                                      temperature=temperature, top_p=top_p, seed=seed + i)
                    for i, text in enumerate(prompts)
                ])
        finally:
            policy.close()
        for i, problem in enumerate(problems):
            completion = greedy[i][0]
            prediction, answer, correct = score(task, problem, completion)
            row = {
                "model": label,
                "problem_id": problem.key,
                "prediction": prediction,
                "answer": answer,
                "is_correct": bool(correct),
                "n_tokens": len(completion.token_ids),
                "prompt_style": style,
            }
            if sampled is not None:
                scored = [score(task, problem, c) for c in sampled[i]]
                voted = majority_answer([a for _, a, _ in scored], task.same_answer)
                row.update({
                    "sample_rows": [{"prediction": text, "answer": a, "is_correct": bool(ok),
                                     "n_tokens": len(c.token_ids)} for (text, a, ok), c in zip(scored, sampled[i])],
                    "samples": samples,
                    "n_correct_samples": sum(ok for *_, ok in scored),
                    "maj_correct": voted is not None and bool(task.verify(problem, voted)),
                    "pass_correct": any(ok for *_, ok in scored),
                })
            rows.append(row)
    return rows


def accuracy_table(rows: Sequence[dict[str, Any]]) -> str:
    """One line per model: problems, correct, greedy accuracy (%), mean generated tokens, and maj@k /
    pass@k (%) when the rows carry sampled results."""
    by_model: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_model.setdefault(row["model"], []).append(row)
    ks = sorted({row["samples"] for row in rows if "samples" in row})
    header = ["model", "problems", "correct", "accuracy%", "mean_tokens"]
    for k in ks:
        header += [f"maj@{k}%", f"pass@{k}%"]
    lines = [header]
    for label, group in by_model.items():
        n = len(group)
        correct = sum(bool(r["is_correct"]) for r in group)
        line = [label, str(n), str(correct), f"{100.0 * correct / n:.1f}",
                f"{sum(r['n_tokens'] for r in group) / n:.1f}"]
        for k in ks:
            with_k = [r for r in group if r.get("samples") == k]
            if with_k:
                line += [f"{100.0 * sum(bool(r['maj_correct']) for r in with_k) / len(with_k):.1f}",
                         f"{100.0 * sum(bool(r['pass_correct']) for r in with_k) / len(with_k):.1f}"]
            else:
                line += ["-", "-"]
        lines.append(line)
    widths = [max(len(line[c]) for line in lines) for c in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) if c == 0 else cell.rjust(w) for c, (cell, w) in enumerate(zip(line, widths)))
        for line in lines
    )


# Payload fields that MATH-style problems carry and results are broken down by (MATH-500: level 1-5,
# seven subjects), as in the papers' tables.
BREAKDOWN_FIELDS = ("level", "subject")


def breakdown_tables(rows: Sequence[dict[str, Any]], problems: Sequence[Problem]) -> dict[str, str]:
    """Greedy accuracy per model and value of each `BREAKDOWN_FIELDS` field the problems carry:
    {field: table text}. Rows name their problem by key (`problem_id`) or store id (`problem_key`)."""
    out: dict[str, str] = {}
    for field in BREAKDOWN_FIELDS:
        values = {p.key: p.payload.get(field) for p in problems if p.payload.get(field) is not None}
        if not values:
            continue
        models = sorted({r["model"] for r in rows})
        groups = sorted({str(v) for v in values.values()})
        lines = [[field, *[f"{m} %" for m in models], "n"]]
        for g in groups:
            keys = {k for k, v in values.items() if str(v) == g}
            line, n = [g], len(keys)
            for m in models:
                mine = [r for r in rows if r["model"] == m and r.get("problem_key", r["problem_id"]) in keys]
                line.append(f"{100.0 * sum(bool(r['is_correct']) for r in mine) / max(len(mine), 1):.1f}")
            lines.append(line + [str(n)])
        widths = [max(len(line[c]) for line in lines) for c in range(len(lines[0]))]
        out[field] = "\n".join("  ".join(cell.ljust(w) if c == 0 else cell.rjust(w)
                                          for c, (cell, w) in enumerate(zip(line, widths))) for line in lines)
    return out
