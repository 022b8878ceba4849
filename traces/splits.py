"""The train/test split of an export: by problem, stable when problems are added, shared by every
configuration (a test problem never leaks into a train split)."""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

from datasets import Dataset, DatasetDict, Features

from search.tasks.base import Problem


def _unit_hash(key: str, seed: int) -> float:
    digest = hashlib.sha256(f"{seed}\x00{key}".encode()).hexdigest()
    return int(digest[:16], 16) / 16**16


def split_problems(problems: Iterable[Problem], test_fraction: float, seed: int) -> dict[str, str]:
    """Map each problem key to "train" or "test", by a seeded hash of the key.

    Hashing (rather than shuffling) keeps a problem's split stable when problems are added, so
    every configuration and every re-export agrees. Problems stored as held out (`split="test"`)
    always go to test. With `test_fraction > 0` and at least two problems, both splits get at
    least one problem, so a tiny run still has something to evaluate on.
    """
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"export.test_fraction must be in [0, 1), got {test_fraction!r}")
    by_key = {p.key: p for p in problems}
    hashes = {k: _unit_hash(k, seed) for k in by_key}
    split = {
        k: "test" if (p.split == "test" or hashes[k] < test_fraction) else "train"
        for k, p in by_key.items()
    }
    if test_fraction > 0 and len(split) >= 2:
        if "test" not in split.values():
            split[min(split, key=hashes.__getitem__)] = "test"
        if "train" not in split.values():
            movable = [k for k in split if by_key[k].split != "test"]
            if movable:
                split[max(movable, key=hashes.__getitem__)] = "train"
    return split


def dataset_dict(rows: list[dict], splits: Mapping[str, str], features: Features) -> DatasetDict:
    """train/test `DatasetDict` from rows carrying a `problem` key; both splits always present."""
    parts: dict[str, list[dict]] = {"train": [], "test": []}
    for row in rows:
        if row["problem"] not in splits:
            raise KeyError(f"problem {row['problem']!r} (tree {row['tree_id']}) has no train/test split assigned")
        parts[splits[row["problem"]]].append(row)
    # Column-wise construction: `Dataset.from_list([])` loses the schema of an empty split.
    return DatasetDict(
        {
            name: Dataset.from_dict({col: [r[col] for r in part] for col in features}, features=features)
            for name, part in parts.items()
        }
    )


__all__ = ["dataset_dict", "split_problems"]
