"""The row writes of `TraceStore` outside a search wave: problems, trees and their status, and the
trajectories and evals that later stages replace as a whole per (run, tree, kind) or (run, model)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, delete, insert, select, update

from db.connection import StoreConnection
from db.engine import StoreError
from db.rows import check_choice, check_fields, chunks, problem_row
from db.tables import (
    EVAL_DEFAULTS,
    EVAL_FIELDS,
    EVAL_SAMPLE_FIELDS,
    EVAL_SAMPLES,
    EVALS,
    PROBLEMS,
    TRAJECTORIES,
    TRAJECTORY_DEFAULTS,
    TRAJECTORY_FIELDS,
    TREE_STATUSES,
    TREES,
)


class WritesMixin(StoreConnection):
    """Idempotent inserts of problems and trees; whole-set replacement of trajectories and evals."""

    def add_problems(self, rows: Sequence[dict]) -> list[int]:
        """Store problems (dataset, key, payload, split="train", answer=None); ids in input order.

        Idempotent: a (dataset, key) already stored keeps its id and its row is left as it is.
        """
        clean = [problem_row(i, row) for i, row in enumerate(rows)]
        if not clean:
            return []
        ids: dict[tuple[str, str], int] = {}
        with self._write("add_problems") as conn:
            conn.execute(self._insert_ignore(PROBLEMS, ["dataset", "key"]), clean)
            by_dataset: dict[str, list[str]] = {}
            for row in clean:
                by_dataset.setdefault(row["dataset"], []).append(row["key"])
            for dataset, keys in by_dataset.items():
                for chunk in chunks(list(dict.fromkeys(keys))):
                    query = select(PROBLEMS.c.id, PROBLEMS.c.key).where(
                        PROBLEMS.c.dataset == dataset, PROBLEMS.c.key.in_(chunk)
                    )
                    ids.update({(dataset, key): id_ for id_, key in conn.execute(query)})
        return [ids[(row["dataset"], row["key"])] for row in clean]

    def create_trees(self, run_id: int, problem_ids: Sequence[int]) -> list[int]:
        """One pending tree per problem in run `run_id`; idempotent; tree ids in input order."""
        if not problem_ids:
            return []
        ids: dict[int, int] = {}
        with self._write(f"create_trees(run {run_id})") as conn:
            conn.execute(
                self._insert_ignore(TREES, ["run_id", "problem_id"]),
                [{"run_id": run_id, "problem_id": p, "status": "pending", "stats": {}} for p in problem_ids],
            )
            for chunk in chunks(list(dict.fromkeys(problem_ids))):
                query = select(TREES.c.id, TREES.c.problem_id).where(
                    TREES.c.run_id == run_id, TREES.c.problem_id.in_(chunk)
                )
                ids.update({problem_id: id_ for id_, problem_id in conn.execute(query)})
        return [ids[p] for p in problem_ids]

    def set_tree_status(self, tree_id: int, status: str, stats: dict | None = None) -> None:
        """Set a tree's status (pending | running | done | failed) and, when given, its stats."""
        check_choice("set_tree_status", "status", status, TREE_STATUSES)
        values: dict[str, Any] = {"status": status}
        if stats is not None:
            values["stats"] = stats
        with self._write(f"set_tree_status({tree_id})") as conn:
            if conn.execute(update(TREES).where(TREES.c.id == tree_id).values(**values)).rowcount != 1:
                raise StoreError(f"set_tree_status: no tree with id {tree_id}")

    def replace_trajectories(self, run_id: int, tree_id: int, kind: str, rows: Sequence[dict]) -> list[int]:
        """Replace the `kind` trajectories of (run_id, tree_id) by `rows`, in one transaction; ids in order.

        Rows: Trajectory columns except id/run_id/tree_id/kind (given ones must match the
        arguments); `idx` defaults to the row's position.
        """
        return self.replace_run_trajectories(run_id, [(tree_id, kind, rows)])[0]

    def replace_run_trajectories(self, run_id: int, parts: Sequence[tuple[int, str, Sequence[dict]]]) -> list[list[int]]:
        """`replace_trajectories` for every (tree_id, kind, rows) of `parts`, all in ONE transaction (a
        linearize run's whole output: a failure part way leaves the run's rows as they were); ids in order."""
        checked = [(tree_id, kind, self._trajectory_rows(run_id, tree_id, kind, rows)) for tree_id, kind, rows in parts]
        out = []
        with self._write(f"replace_trajectories(run {run_id}, {len(parts)} trees and kinds)") as conn:
            for tree_id, kind, clean in checked:
                conn.execute(delete(TRAJECTORIES).where(and_(
                    TRAJECTORIES.c.run_id == run_id, TRAJECTORIES.c.tree_id == tree_id, TRAJECTORIES.c.kind == kind)))
                if not clean:
                    out.append([])
                    continue
                result = conn.execute(insert(TRAJECTORIES).returning(TRAJECTORIES.c.id, TRAJECTORIES.c.idx), clean)
                by_idx = {idx: id_ for id_, idx in result}
                out.append([by_idx[row["idx"]] for row in clean])
        return out

    @staticmethod
    def _trajectory_rows(run_id: int, tree_id: int, kind: str, rows: Sequence[dict]) -> list[dict]:
        fixed = {"run_id": run_id, "tree_id": tree_id, "kind": kind}
        clean = []
        for i, row in enumerate(rows):
            for key, expected in fixed.items():
                if key in row and row[key] != expected:
                    raise StoreError(f"replace_trajectories: row {i} has {key}={row[key]!r}, but the call is for {key}={expected!r}")
            body = {k: v for k, v in row.items() if k not in fixed}
            check_fields("replace_trajectories", i, body, TRAJECTORY_FIELDS, ("text",))
            clean.append({**TRAJECTORY_DEFAULTS, "idx": i, **body, **fixed})
        return clean

    def replace_evals(self, run_id: int, model: str, rows: Sequence[dict]) -> list[int]:
        """Replace model `model`'s evals in run `run_id` by `rows` (problem_id, prediction, answer,
        is_correct, n_tokens, optional `samples`: a list of sampled answers with prediction, answer,
        is_correct, n_tokens, stored in `eval_samples`), in one transaction; ids in input order."""
        clean, samples = [], []
        for i, row in enumerate(rows):
            check_fields("replace_evals", i, row, EVAL_FIELDS | {"run_id", "model"}, ("problem_id", "prediction"))
            row = dict(row)
            mine = list(row.pop("samples", None) or [])
            for j, sample in enumerate(mine):
                check_fields(f"replace_evals row {i} sample", j, sample, EVAL_SAMPLE_FIELDS, ("prediction",))
            samples.append(mine)
            clean.append({**EVAL_DEFAULTS, **row, "run_id": run_id, "model": model})
        with self._write(f"replace_evals(run {run_id}, {model!r})") as conn:
            old = select(EVALS.c.id).where(EVALS.c.run_id == run_id, EVALS.c.model == model)
            # Explicit: SQLite enforces ON DELETE CASCADE only with its foreign_keys pragma on.
            conn.execute(delete(EVAL_SAMPLES).where(EVAL_SAMPLES.c.eval_id.in_(old)))
            conn.execute(delete(EVALS).where(EVALS.c.run_id == run_id, EVALS.c.model == model))
            if not clean:
                return []
            result = conn.execute(insert(EVALS).returning(EVALS.c.id, EVALS.c.problem_id), clean)
            by_problem = {problem_id: id_ for id_, problem_id in result}
            sample_rows = [{"prediction": "", "answer": None, "is_correct": False, "n_tokens": 0, **sample,
                            "eval_id": by_problem[row["problem_id"]], "idx": j}
                           for row, mine in zip(clean, samples) for j, sample in enumerate(mine)]
            if sample_rows:
                conn.execute(insert(EVAL_SAMPLES), sample_rows)
        return [by_problem[row["problem_id"]] for row in clean]
