"""Scores of final answers by the dataset's own `score_answer`, bounded in time: each runs in a worker
process of the math task's checker pool (search/tasks/math/verifier.py) speaking the same protocol, so
a scorer that hangs or eats memory on model text is killed and its answer scores 0. Scores are cached
by (problem, answer)."""
from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import Any, Mapping, Sequence

from search.tasks.math.verifier import shared_pool

WORKER = "search.tasks.gym.worker"
CACHE_SIZE = 100_000
_CACHE: OrderedDict[tuple[str, str], float] = OrderedDict()
_LOCK = threading.Lock()


def spec(payload: Mapping[str, Any]) -> str:
    """What the worker needs to score an answer to this problem: its dataset, that dataset's config and
    the entry (question, answer, metadata), as JSON text."""
    entry = {"question": payload["question"], "answer": payload.get("answer"), "metadata": payload.get("metadata") or {}}
    return json.dumps({"dataset": payload["dataset"], "config": payload.get("dataset_config") or {}, "entry": entry},
                      sort_keys=True)


def score_many(items: Sequence[tuple[Mapping[str, Any], str | None]], timeout: float,
               max_chars: int | None) -> list[float]:
    """The dataset's score (0..1) of each (problem payload, answer); None, empty, and answers over
    `max_chars` characters score 0 without a worker."""
    scores = [0.0] * len(items)
    waiting: dict[tuple[str, str], list[int]] = {}
    with _LOCK:
        for i, (payload, answer) in enumerate(items):
            if not isinstance(answer, str) or not answer.strip() or (max_chars and len(answer) > max_chars):
                continue
            key = (spec(payload), answer)
            if key in _CACHE:
                _CACHE.move_to_end(key)
                scores[i] = _CACHE[key]
            else:
                waiting.setdefault(key, []).append(i)
    if not waiting:
        return scores
    keys = list(waiting)
    verdicts = shared_pool(WORKER).run(keys, timeout)
    with _LOCK:
        for key, verdict in zip(keys, verdicts):
            value = float(verdict) if isinstance(verdict, (int, float)) else 0.0
            for i in waiting[key]:
                scores[i] = value
            _CACHE[key] = value
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    return scores
