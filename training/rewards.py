"""Verifiable rewards for RL (GRPO), built from a task's own answer extraction and verifier.

DeepSeek-R1's recipe rewards two things, both checked by rules, never by a model: accuracy (the
final answer passes a deterministic verifier) and format (the reasoning sits inside
`<think>...</think>` and one final answer follows). TinyZero's reward folds both into one
number: 1 for a right answer, 0.1 for a well-formed wrong one, 0 otherwise.

Every reward here is a plain callable with TRL's reward-function signature
(`reward(prompts, completions, **dataset_columns) -> list[float]`), so users who run TRL themselves
import them:

    from search.tasks import make_task
    from training.rewards import reward_functions

    task = make_task({"name": "math"})  # any registered task
    trainer = GRPOTrainer(model, reward_funcs=reward_functions(task), train_dataset=load_from_disk(".../rl")["train"], ...)

The dataset needs the columns journeyforge exports in its `rl` configuration: `payload` (the
problem's fields as JSON), `answer` (the gold answer) and `problem` (its key). Completions are
untrusted model text: nothing is evaluated, every check is linear in the text, and the verifiers
bound their own time (math-verify runs in worker processes with a hard time limit).
"""
from __future__ import annotations

import json
from typing import Any, Callable, Mapping, Sequence

from search.tasks.base import THINK_CLOSE, THINK_OPEN, Problem, Task

SCHEMES = ("sum", "tinyzero")
# TinyZero's Countdown reward (Pan et al. 2025, after DeepSeek-R1): a right answer 1.0, a well-formed
# wrong one 0.1, anything else 0.
TINYZERO_RIGHT, TINYZERO_FORMAT = 1.0, 0.1


def completion_text(completion: Any) -> str:
    """The text of one TRL completion: a string (standard format) or a list of chat messages
    (conversational format: the assistant turns' contents joined)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Mapping):
        return str(completion.get("content") or "")
    if isinstance(completion, Sequence):
        return "".join(completion_text(m) for m in completion)
    return ""


def prompt_text(prompt: Any) -> str:
    """The text of one TRL prompt (a string, or chat messages: their contents joined)."""
    return completion_text(prompt)


def answer_span(task: Task, text: str) -> str:
    """`text` up to and including the first of the task's answer stop strings (what evaluation sees:
    its generation stops there), or all of it. TRL's transformers generation cannot stop at a string,
    so a few-shot completion may run on into an invented next problem; that part is not scored."""
    cut = len(text)
    for stop in task.answer_stop:
        at = text.find(stop) if stop else -1
        if at >= 0:
            cut = min(cut, at + len(stop))
    return text[:cut]


def framed(text: str, prompt: str = "") -> str:
    """The completion with the `<think>` its prompt already opened put back in front (few-shot and
    `question` prompts end with `<think>\\n`, so the model writes only the rest of the frame)."""
    if THINK_OPEN not in text and prompt.rstrip().endswith(THINK_OPEN):
        return f"{THINK_OPEN}\n{text}"
    return text


def count_answers(task: Task, text: str, limit: int = 2) -> int:
    """How many final answers `text` states, up to `limit`: the last one is read, cut off, and the rest
    read again. An empty answer frame counts as none."""
    n = 0
    while n < limit:
        answer = task.extract_answer(text)
        if not answer or not answer.strip():
            break
        n += 1
        at = text.rfind(answer)
        if at < 0:
            break
        text = text[:at]
        if task.extract_answer(text) is None:
            # Cutting inside a frame can leave an opened one (`... \boxed{`) that hides an earlier
            # answer from a reader that rejects unclosed frames: drop the last word too.
            cut = max(text.rstrip().rfind(c) for c in " \n\t")
            text = text[:cut] if cut >= 0 else ""
    return n


def has_format(task: Task, completion: str, prompt: str = "") -> bool:
    """Whether a completion has the trajectory frame: one `<think>` at the start, reasoning inside, one
    `</think>`, then exactly one final answer the task can read (`Task.extract_answer`)."""
    text = framed(answer_span(task, completion), prompt).lstrip()
    if not text.startswith(THINK_OPEN):
        return False
    body = text[len(THINK_OPEN):]
    if THINK_OPEN in body or body.count(THINK_CLOSE) != 1:
        return False
    think, tail = body.split(THINK_CLOSE)
    return bool(think.strip()) and count_answers(task, tail) == 1


def problems_from_columns(n: int, payload: Sequence[Any] | None, answer: Sequence[Any] | None,
                          problem: Sequence[Any] | None = None) -> list[Problem]:
    """The `Problem` of each of `n` completions from the exported columns (`payload` as JSON text or a
    dict, `answer`, `problem` key). A missing column is a ValueError naming it."""
    if payload is None:
        raise ValueError("the reward needs the dataset column 'payload' (the problem's fields as JSON); "
                         "use journeyforge's exported `rl` configuration or add the column")
    if len(payload) != n:
        raise ValueError(f"column 'payload' has {len(payload)} values for {n} completions")
    answers = list(answer) if answer is not None else [None] * n
    keys = list(problem) if problem is not None else [str(i) for i in range(n)]
    out = []
    for key, fields, gold in zip(keys, payload, answers):
        fields = json.loads(fields) if isinstance(fields, str) else dict(fields or {})
        out.append(Problem(key=str(key), payload=fields, answer=gold))
    return out


class TaskReward:
    """Base of the rewards below: holds the task, reads completions and problems, returns floats."""

    __name__ = "task_reward"

    def __init__(self, task: Task) -> None:
        self.task = task

    def scores(self, prompts: Sequence[str], texts: Sequence[str], problems: Sequence[Problem]) -> list[float]:
        raise NotImplementedError

    def __call__(self, prompts: Sequence[Any] | None = None, completions: Sequence[Any] | None = None,
                 payload: Sequence[Any] | None = None, answer: Sequence[Any] | None = None,
                 problem: Sequence[Any] | None = None, **kwargs: Any) -> list[float]:
        completions = list(completions or [])
        texts = [completion_text(c) for c in completions]
        prompts = [prompt_text(p) for p in (prompts or [""] * len(texts))]
        problems = problems_from_columns(len(texts), payload, answer, problem)
        scores = self.scores(prompts, texts, problems)
        log_metric: Callable[[str, float], None] | None = kwargs.get("log_metric")
        if log_metric is not None and scores:
            self.log(log_metric, prompts, texts, problems, scores)
        return scores

    def log(self, log_metric, prompts, texts, problems, scores) -> None:
        """Extra per-step metrics (TRL averages them per logging step); none by default."""

    def correct(self, texts: Sequence[str], problems: Sequence[Problem]) -> list[bool]:
        """The verifier's verdict on the answer each completion states (batched: `Task.verify_many`)."""
        answers = [self.task.extract_answer(answer_span(self.task, t)) for t in texts]
        return [bool(ok) for ok in self.task.verify_many(list(zip(problems, answers)))]


class AccuracyReward(TaskReward):
    """1.0 when the completion's final answer passes the task's verifier, else 0.0."""

    __name__ = "accuracy"

    def scores(self, prompts, texts, problems) -> list[float]:
        return [1.0 if ok else 0.0 for ok in self.correct(texts, problems)]


class FormatReward(TaskReward):
    """1.0 when the completion has the `<think>...</think>` frame and exactly one final answer, else 0.0."""

    __name__ = "format"

    def scores(self, prompts, texts, problems) -> list[float]:
        return [1.0 if has_format(self.task, t, p) else 0.0 for p, t in zip(prompts, texts)]


class TinyZeroReward(TaskReward):
    """TinyZero's single reward: 1.0 right, 0.1 well-formed but wrong, 0.0 otherwise. Logs `accuracy`
    and `format` beside it, so the curves read the same as with separate rewards."""

    __name__ = "tinyzero"

    def scores(self, prompts, texts, problems) -> list[float]:
        self._right = self.correct(texts, problems)
        self._formed = [has_format(self.task, t, p) for p, t in zip(prompts, texts)]
        return [TINYZERO_RIGHT if ok else TINYZERO_FORMAT if formed else 0.0
                for ok, formed in zip(self._right, self._formed)]

    def log(self, log_metric, prompts, texts, problems, scores) -> None:
        log_metric("accuracy", sum(self._right) / len(self._right))
        log_metric("format", sum(self._formed) / len(self._formed))


def reward_functions(task: Task, scheme: str = "sum", format_weight: float = 0.1) -> tuple[list, list[float]]:
    """The reward functions of `scheme` for TRL's `GRPOTrainer(reward_funcs=...)` and their weights
    (`GRPOConfig(reward_weights=...)`).

    "sum" (DeepSeek-R1): `accuracy` + `format_weight` * `format`, two functions TRL logs separately.
    "tinyzero": one function, 1 / 0.1 / 0 (its `accuracy` and `format` logged as metrics).
    """
    if scheme == "sum":
        return [AccuracyReward(task), FormatReward(task)], [1.0, float(format_weight)]
    if scheme == "tinyzero":
        return [TinyZeroReward(task)], [1.0]
    raise ValueError(f"rl.reward must be one of {SCHEMES}, got {scheme!r}")


def score_text(task: Task, problem: Problem, solution: str, scheme: str = "tinyzero", format_weight: float = 0.1,
               prompt: str = "") -> float:
    """One completion's reward under `scheme` (what a verl `compute_score` returns)."""
    functions, weights = reward_functions(task, scheme, format_weight)
    columns = {"payload": [problem.payload], "answer": [problem.answer], "problem": [problem.key]}
    return float(sum(w * f(prompts=[prompt], completions=[solution], **columns)[0]
                     for f, w in zip(functions, weights)))


def verl_compute_score(task_config: Mapping[str, Any], solution_str: str, ground_truth: Any,
                       extra_info: Mapping[str, Any] | None = None, scheme: str = "tinyzero",
                       format_weight: float = 0.1) -> float:
    """verl's `compute_score` for a journeyforge prompt set: the task built from `task_config`, the
    problem from `extra_info["payload"]` (JSON) and the gold answer `ground_truth`."""
    from search.tasks import make_task

    task = _task_cache(task_config, make_task)
    info = dict(extra_info or {})
    payload = info.get("payload")
    fields = json.loads(payload) if isinstance(payload, str) else dict(payload or {})
    problem = Problem(key=str(info.get("problem", "")), payload=fields,
                      answer=None if ground_truth is None else str(ground_truth))
    try:
        return score_text(task, problem, solution_str if isinstance(solution_str, str) else "", scheme, format_weight)
    except (KeyError, TypeError) as err:
        raise ValueError(f"cannot score a {task.name} answer without the problem's fields: extra_info['payload'] "
                         f"lacks {err}") from None


_TASKS: dict[str, Task] = {}


def _task_cache(config: Mapping[str, Any], make_task) -> Task:
    # verl calls compute_score once per sample: build the task once per configuration.
    key = json.dumps(dict(config), sort_keys=True, default=str)
    if key not in _TASKS:
        _TASKS[key] = make_task(dict(config))
    return _TASKS[key]
