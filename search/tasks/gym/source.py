"""Problems from a reasoning-gym procedural dataset: seeded draws, a train/test split by a hash of the
question, JSON-safe payloads, and a check that the dataset scores its own answers 1.0 from them.

The split hash is of the question alone (not the seed or config), so a question is held out in every run
that draws it and no problem is ever both a train and a test problem; a question drawn twice is kept once.
"""
from __future__ import annotations

import hashlib
import math
from typing import Any

from search.tasks.base import Problem
from search.tasks.gym.settings import GymConfig
from search.tasks.gym.scoring import score_many

# Draws before giving up on n_train + n_test distinct questions: a generator with few distinct questions
# (a tiny maze, `n_queens` with n=4) is one line that says so, not an endless loop.
DRAW_FACTOR, DRAW_EXTRA = 4, 200
GOLD_SECONDS = 30.0   # the first score in a worker builds the dataset (word lists, ...): more time than a model answer


def normalize(question: str) -> str:
    """A question with runs of whitespace made one space: the text the split and duplicates compare."""
    return " ".join(question.split())


def held_out(dataset: str, question: str, test_fraction: float) -> bool:
    """Whether `question` belongs to the test split, by a hash of the dataset name and the question."""
    digest = hashlib.sha256(f"gym-split:{dataset}:{normalize(question)}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2 ** 64 < test_fraction


def problem_key(question: str) -> str:
    """The natural key of a question: the first 16 hex digits of its sha256."""
    return hashlib.sha256(normalize(question).encode()).hexdigest()[:16]


def json_safe(value: Any) -> Any:
    """`value` as JSON can hold it: tuples and sets as lists, numpy scalars as numbers, keys as text,
    anything else as its text (whether scoring survives this is checked on the gold answers)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((json_safe(v) for v in value), key=repr)
    if hasattr(value, "item") and callable(value.item):   # numpy scalars
        try:
            return json_safe(value.item())
        except (TypeError, ValueError):
            pass
    if hasattr(value, "tolist"):                            # numpy arrays
        return json_safe(value.tolist())
    return str(value)


def make_dataset(cfg: GymConfig, seed: int, size: int):
    """The configured reasoning-gym dataset (its options were checked with the settings)."""
    from reasoning_gym import create_dataset

    try:
        return create_dataset(cfg.dataset, seed=seed, size=size, **cfg.dataset_config)
    except Exception as err:  # noqa: BLE001 - a dataset that cannot be built here (a missing data file, ...)
        raise ValueError(f"task.dataset={cfg.dataset} cannot be built with task.dataset_config={cfg.dataset_config}: "
                         f"{type(err).__name__}: {' '.join(str(err).split())}") from None


def payload(cfg: GymConfig, entry: dict[str, Any]) -> dict[str, Any]:
    """A problem's payload: the entry's question, answer and metadata, and the dataset and config that score it."""
    answer = entry.get("answer")
    return {"question": str(entry["question"]), "answer": None if answer is None else str(answer),
            "metadata": json_safe(entry.get("metadata") or {}), "dataset": cfg.dataset,
            "dataset_config": json_safe(cfg.dataset_config)}


def draw(cfg: GymConfig, dataset_name: str) -> list[Problem]:
    """`n_train` train and `n_test` test problems of distinct questions, in draw order."""
    limit = DRAW_FACTOR * math.ceil(max(cfg.n_train / (1 - cfg.test_fraction), cfg.n_test / cfg.test_fraction)) + DRAW_EXTRA
    ds = make_dataset(cfg, cfg.seed, limit)
    wanted = {"train": cfg.n_train, "test": cfg.n_test}
    got: dict[str, list[Problem]] = {"train": [], "test": []}
    seen: set[str] = set()
    for idx in range(limit):
        if all(len(got[s]) >= wanted[s] for s in got):
            break
        try:
            entry = ds[idx]
        except Exception as err:  # noqa: BLE001 - a generator's own failure, in one line
            raise ValueError(f"task.dataset={cfg.dataset} failed to generate problem {idx} with task.dataset_config="
                             f"{cfg.dataset_config}: {type(err).__name__}: {' '.join(str(err).split())}") from None
        question = normalize(str(entry["question"]))
        if question in seen:
            continue
        seen.add(question)
        split = "test" if held_out(cfg.dataset, question, cfg.test_fraction) else "train"
        if len(got[split]) < wanted[split]:
            fields = payload(cfg, entry)
            got[split].append(Problem(key=problem_key(question), payload=fields, answer=fields["answer"], split=split,
                                      dataset=dataset_name))
    if any(len(got[s]) < wanted[s] for s in got):
        raise ValueError(f"task.dataset={cfg.dataset} gave {len(seen)} distinct questions in {limit} draws "
                         f"({len(got['train'])} train, {len(got['test'])} held out), fewer than task.n_train={cfg.n_train} "
                         f"and task.n_test={cfg.n_test}: lower them or widen task.dataset_config")
    return got["train"] + got["test"]


def check_gold(cfg: GymConfig, problems: list[Problem]) -> None:
    """ValueError when the dataset does not score a problem's own answer 1.0 from its stored payload
    (metadata that JSON cannot carry, a scorer the worker's guards refuse): its scores would mean nothing."""
    items = [(p.payload, p.answer) for p in problems if p.answer is not None]
    scores = score_many(items, GOLD_SECONDS, None)
    for (pay, answer), value in zip(items, scores):
        if value < 1.0:
            raise ValueError(f"task.dataset={cfg.dataset}: its score_answer gives the stored answer of problem "
                             f"{problem_key(pay['question'])} {value:g}, not 1.0, so its scores cannot be trusted "
                             "from stored problems; choose another dataset")


def load_gym_problems(cfg: GymConfig, dataset_name: str) -> list[Problem]:
    """Train then test problems of the configured dataset, checked to score their own answers 1.0."""
    problems = draw(cfg, dataset_name)
    check_gold(cfg, problems)
    return problems
