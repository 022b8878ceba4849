"""What an export leaves out before it writes anything: training problems found in held-out or benchmark
sets (traces/decontamination.py), and trajectories that repeat another of the same problem and kind.

The references are built once per export: the bundled benchmarks and the user's files at config time
(`benchmark_references`, so that a bad file is one line before anything is written), the store's
held-out problems and the export's own test split at export time (`problem_references`).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from search.tasks.base import Problem, Task
from traces.decontamination import HELD_OUT, Match, Reference, ReferenceIndex, read_references


def bundled_benchmarks() -> dict[str, str]:
    """The benchmark files journeyforge ships (GSM8K's test split, MATH-500), by name."""
    from search.tasks.math.loaders import BUNDLED, DATA_DIR

    return {"gsm8k_test": str(DATA_DIR / BUNDLED["gsm8k_test"]), "math500": str(DATA_DIR / BUNDLED["math500"])}


def _canonical_of_record(task: Task):
    def canonical(record: dict) -> str | None:
        try:   # a row of another task's file, or a field of the wrong type: no canonical form
            return task.canonical_form(Problem(key="", payload=dict(record)))
        except (TypeError, ValueError, KeyError, AttributeError):
            return None
    return canonical


def benchmark_references(task: Task, bundled: Sequence[str], files: Sequence[str]) -> list[Reference]:
    """The problems of the bundled benchmarks named in `bundled` and of the user's `files`; a file that
    does not exist, cannot be read or holds no problem is one BenchmarkFileError, an unknown bundled
    name one ValueError (both name the option)."""
    known = bundled_benchmarks()
    refs: list[Reference] = []
    for name in bundled:
        if name not in known:
            raise ValueError(f"export.decontaminate_benchmarks: unknown benchmark {name!r}; "
                             f"the bundled ones are {', '.join(known)}")
        refs.extend(read_references(known[name], source=name))
    for path in files:
        refs.extend(read_references(path, _canonical_of_record(task)))
    return refs


def problem_references(task: Task, problems: Iterable[Problem]) -> list[Reference]:
    """Held-out problems as references: their question text and canonical form."""
    return [Reference(HELD_OUT, p.key, task.question(p), task.canonical_form(p)) for p in problems]


@dataclass
class Contamination:
    """The training problems an export found in held-out or benchmark sets, and what it did with them."""

    matches: dict[str, Match] = field(default_factory=dict)      # training problem key -> what it matched
    problem_ids: dict[str, int] = field(default_factory=dict)    # key -> problems.id, where known
    removed: bool = True                                          # left out of every training split
    at_load: list[dict[str, Any]] = field(default_factory=list)   # held-out problems given as training rows
    references: dict[str, int] = field(default_factory=dict)     # reference problems per source
    ngram: int = 0

    def summary(self) -> dict[str, Any]:
        """The counts of export.json and the card: problems by source, how many were left out."""
        by_source = Counter(m.source for m in self.matches.values())
        by_source[HELD_OUT] += len(self.at_load)
        by_source = +by_source
        total = len(self.matches) + len(self.at_load)
        return {"problems": total, "by_source": dict(sorted(by_source.items())),
                "removed": total if self.removed else len(self.at_load),
                "found_at_export": len(self.matches), "found_at_load": len(self.at_load),
                "references": dict(self.references), "ngram": self.ngram,
                "matches": [{"problem": key, "source": m.source, "matched": m.matched, "how": m.how}
                            for key, m in sorted(self.matches.items())]}

    def rows(self) -> list[dict[str, Any]]:
        """The `contamination` table's rows (problems with a known id)."""
        return [{"problem_id": self.problem_ids[key], "source": m.source, "matched": m.matched, "how": m.how,
                 "removed": self.removed} for key, m in sorted(self.matches.items()) if key in self.problem_ids]


def find_training_contamination(task: Task, training: Mapping[str, Problem], references: Sequence[Reference],
                                ngram: int) -> dict[str, Match]:
    """{key: match} of the `training` problems (by key) that match one of `references`."""
    index = ReferenceIndex(references, ngram)
    found: dict[str, Match] = {}
    for key, problem in training.items():
        canonical = task.canonical_form(problem)
        hit = index.match("" if canonical is not None else task.question(problem), canonical)
        if hit is not None and not (hit.source == HELD_OUT and hit.matched == key):
            found[key] = hit
    return found


def drop_repeated_trajectories(rows: list[Mapping[str, Any]], key_of: Mapping[Any, str]) -> tuple[list, dict[str, int]]:
    """`rows` without trajectories whose text an earlier row of the same problem and kind already has
    (the first is kept), and how many were dropped per kind. `key_of` maps a tree id to its problem key
    (two trees of one problem, from two runs or workers, repeat each other's trajectories)."""
    seen: set[tuple[str, str, str]] = set()
    kept, dropped = [], Counter()
    for row in rows:
        identity = (key_of.get(row["tree_id"], str(row["tree_id"])), row["kind"], row.get("text") or "")
        if identity in seen:
            dropped[row["kind"]] += 1
            continue
        seen.add(identity)
        kept.append(row)
    return kept, dict(sorted(dropped.items()))


__all__ = ["Contamination", "benchmark_references", "bundled_benchmarks", "drop_repeated_trajectories",
           "find_training_contamination", "problem_references"]
