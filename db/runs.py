"""The runs part of `TraceStore`: one row per stage run with its config, provenance and lineage."""
from __future__ import annotations

from typing import Any

from sqlalchemy import and_, select, update

from db.connection import StoreConnection
from db.engine import StoreError
from db.models import utcnow
from db.query import rows_where
from db.rows import check_choice, lineage
from db.tables import RUN_STATUSES, RUNS


class RunsMixin(StoreConnection):
    """Start, finish and look up stage runs (`runs` rows); see db/models.py Run for the columns."""

    def start_run(
        self, name: str, stage: str, config: dict, versions: dict | None = None, git_sha: str | None = None,
        *, round: int | None = None, parent_run_id: int | None = None, model: str | None = None,
        model_sha256: str | None = None,
    ) -> int:
        """Get or create the run (name, stage), mark it running with this config; returns its id.

        A run that is already finished (`done`) is not touched: this is a new attempt at it, and its
        row keeps its status, config, stats and provenance until the attempt succeeds, when
        `finish_run(id, "done")` writes them all at once; an attempt that fails (`finish_run(id,
        "failed")`, `fail_run`) leaves the finished row as it was. journeyforge/stages/common.py
        states the rule for the stages.

        The keyword arguments record a self-evolution round's lineage (`set_lineage`); the ones left
        None keep what the run has (NULL for a new run)."""
        if not isinstance(config, dict):
            raise StoreError(f"start_run({name!r}, {stage!r}): config must be a dict, got {type(config).__name__}")
        values = {"status": "running", "config": config, "finished_at": None}
        if versions is not None:
            values["versions"] = versions
        if git_sha is not None:
            values["git_sha"] = git_sha
        values.update(lineage(round=round, parent_run_id=parent_run_id, model=model, model_sha256=model_sha256))
        with self._write(f"start_run({name!r}, {stage!r})") as conn:
            conn.execute(
                self._insert_ignore(RUNS, ["name", "stage"]),
                {"name": name, "stage": stage, "config": config, "versions": versions or {},
                 "git_sha": git_sha, "status": "running", "stats": {}, "created_at": utcnow()},
            )
            where = and_(RUNS.c.name == name, RUNS.c.stage == stage)
            run_id, status = conn.execute(select(RUNS.c.id, RUNS.c.status).where(where)).one()
            if status == "done":
                self._attempts[run_id] = {k: v for k, v in values.items() if k not in ("status", "finished_at")}
                return run_id
            self._attempts.pop(run_id, None)
            conn.execute(update(RUNS).where(where).values(**values))
            return run_id

    def set_lineage(self, run_id: int, *, round: int | None = None, parent_run_id: int | None = None,
                    model: str | None = None, model_sha256: str | None = None) -> None:
        """Record run `run_id`'s place in a self-evolution round (db/models.py Run): its round, the run
        it came from, the model that grew or came out of it and that model's sha256. None keeps a value."""
        values = lineage(round=round, parent_run_id=parent_run_id, model=model, model_sha256=model_sha256)
        if not values:
            return
        with self._write(f"set_lineage({run_id})") as conn:
            if conn.execute(update(RUNS).where(RUNS.c.id == run_id).values(**values)).rowcount != 1:
                raise StoreError(f"set_lineage: no run with id {run_id}")

    def finish_run(self, run_id: int, status: str = "done", stats: dict | None = None) -> None:
        """Mark run `run_id` finished with `status` (done | failed | running), storing `stats` when
        given. For an attempt at a finished run (`start_run`), `done` also writes the attempt's config
        and provenance; `failed` never changes a `done` run (from this store object or another): the
        finished run stays as it was."""
        check_choice("finish_run", "status", status, RUN_STATUSES)
        attempt = self._attempts.pop(run_id, None)
        if attempt is not None and status == "failed":
            return
        values: dict[str, Any] = {**(attempt or {}), "status": status, "finished_at": utcnow()}
        if stats is not None:
            values["stats"] = stats
        with self._write(f"finish_run({run_id})") as conn:
            row = conn.execute(select(RUNS.c.status).where(RUNS.c.id == run_id)).first()
            if row is None:
                raise StoreError(f"finish_run: no run with id {run_id}")
            if status == "failed" and row.status == "done":
                return
            conn.execute(update(RUNS).where(RUNS.c.id == run_id).values(**values))

    def fail_run(self, run_id: int, error: str) -> bool:
        """Mark run `run_id` failed with `error` in its stats if it is still `running` (a stage that
        stopped on an error); True when it was. A finished run is never changed (`start_run`)."""
        with self._write(f"fail_run({run_id})") as conn:
            row = conn.execute(select(RUNS.c.status, RUNS.c.stats).where(RUNS.c.id == run_id)).first()
            if row is None or row.status != "running":
                return False
            stats = {**(row.stats or {}), "error": error}
            conn.execute(update(RUNS).where(RUNS.c.id == run_id)
                         .values(status="failed", stats=stats, finished_at=utcnow()))
            return True

    def get_run(self, name: str, stage: str) -> dict | None:
        """The run (name, stage) as a dict, or None."""
        with self._read() as conn:
            found = rows_where(conn, RUNS, {"name": name, "stage": stage})
        return found[0] if found else None

    def runs(self) -> list[dict]:
        """Every run, oldest first."""
        with self._read() as conn:
            return rows_where(conn, RUNS)
