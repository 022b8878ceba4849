"""`journeyforge db check [store.url=URL]`: read-only checks of a trace store, one report.

Each check is a function `(conn) -> list[str]` on a read-only SQLAlchemy connection that returns
its report lines (none: nothing to report) and is listed in `CHECKS`, e.g.

    @register
    def my_check(conn) -> list[str]:
        \"\"\"what it looks for (its docstring's first line titles its section)\"\"\"
        return [f"run {name!r}: ..." for name, ... in conn.execute(text("SELECT ..."))]

The store is never written and never created: a SQLite file is opened with `mode=ro` (and no `-wal`
is made: db/read_only.py), a PostgreSQL session is read-only. A store the checks cannot read (not a
database, corrupt pages, no journeyforge tables, a newer schema) is one line, not a report. What a check finds is described with the command that would fix it; nothing
is deleted by this module.
"""
from __future__ import annotations

from typing import Callable

from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import DBAPIError

from db.engine import StoreError, explain_error, mask_url
from db.migrate import check_known, current_revision
from db.read_only import make_read_only_engine, sqlite_path

Check = Callable[[Connection], list[str]]
CHECKS: list[Check] = []


def register(check: Check) -> Check:
    """Add `check` to the checks `journeyforge db check` runs (in registration order)."""
    CHECKS.append(check)
    return check


def open_read_only(url: str) -> Engine:
    """An engine that can only read the store at `url` (db/read_only.py); StoreError (one line) for a
    SQLite file that does not exist, so that checking a mistyped path never creates an empty store."""
    path = sqlite_path(url)
    if path is not None and not path.is_file():
        raise StoreError(f"no trace store at {path} ({mask_url(url)}); nothing to check")
    return make_read_only_engine(url)


def check_readable(conn: Connection, url: str) -> None:
    """StoreError (one line naming the store and what to do) when the checks could not read the store:
    a file that is not a database or has corrupt pages (`sqlite3 FILE .recover`), one without
    journeyforge tables, or a schema newer than this release (upgrade journeyforge)."""
    where = mask_url(url)
    try:
        if conn.dialect.name == "sqlite":
            # quick_check reads every page (O(size), no index cross-check): a corrupt page shows here
            # once, instead of as a "could not run" under every check.
            found = [row[0] for row in conn.exec_driver_sql("PRAGMA quick_check(3)")]
            if found != ["ok"]:
                path = sqlite_path(url)
                raise StoreError(f"trace store {where} is corrupt ({'; '.join(found)}); recover what it holds with "
                                 f"`sqlite3 {path} .recover | sqlite3 recovered.db` and point store.url at recovered.db")
        revision = current_revision(conn)
        has_tables = inspect(conn).has_table("runs")
    except DBAPIError as exc:
        raise StoreError(explain_error(exc, url) or f"cannot read trace store {where}: "
                         f"{' '.join(str(exc.orig).split())[:200]}") from None
    if revision is None and not has_tables:
        raise StoreError(f"trace store {where} holds no journeyforge tables (an empty or foreign database); "
                         "fix store.url")
    check_known(url, revision)


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@register
def mixed_runs(conn: Connection) -> list[str]:
    """explore runs whose trees hold problems of several datasets (a name reused across tasks)"""
    rows = conn.execute(text(
        "SELECT r.id, r.name, p.dataset, COUNT(*) AS trees, "
        "SUM(CASE WHEN t.status = 'done' THEN 1 ELSE 0 END) AS done "
        "FROM runs r JOIN trees t ON t.run_id = r.id JOIN problems p ON p.id = t.problem_id "
        "WHERE r.stage = 'explore' GROUP BY r.id, r.name, p.dataset ORDER BY r.id, p.dataset"
    )).all()
    per_run: dict[tuple[int, str], list[tuple[str, int, int]]] = {}
    for run_id, name, dataset, trees, done in rows:
        per_run.setdefault((run_id, name), []).append((dataset, trees, int(done or 0)))
    configs = _run_tasks(conn)
    # A dataset's task, from any explore run in the store that was grown on it alone.
    task_of = {task["dataset"]: task["name"] for task in configs.values() if task.get("dataset")}
    out = []
    for (run_id, name), parts in per_run.items():
        if len(parts) < 2:
            continue
        task = configs.get(run_id, {})
        own = task.get("dataset")
        inside = ", ".join(f"{d} {n} trees ({k} done)" for d, n, k in parts)
        out.append(f"run {name!r} (explore, id {run_id}) mixes {len(parts)} datasets: {inside}; "
                   f"its stored config says task {task.get('name', '?')} (dataset {own or '?'})")
        for dataset, n, _ in parts:
            if dataset == own:
                continue
            other = task_of.get(dataset)
            out.append(f"  split: grow the {dataset} problems as a run of their own, `journeyforge explore "
                       f"name=<new name> task={other or '<its task>'}`, then drop them from {name!r}")
            first = "PRAGMA foreign_keys=ON; " if conn.dialect.name == "sqlite" else ""
            out.append(f"  drop the {n} {dataset} trees of {name!r} with their nodes, rollouts and trajectories "
                       f"(in {'sqlite3' if first else 'psql'}): {first}DELETE FROM trees WHERE run_id = {run_id} "
                       f"AND problem_id IN (SELECT id FROM problems WHERE dataset = {_quoted(dataset)});")
        out.append(f"  then re-run linearize/export/train/eval with name={name}: rows made from the mixed "
                   f"run are stale")
    return out


@register
def contaminated_problems(conn: Connection) -> list[str]:
    """training problems an export found in held-out or benchmark sets (decontamination)"""
    if not inspect(conn).has_table("contamination"):   # a store older than revision 0007: none recorded
        return []
    rows = conn.execute(text(
        "SELECT export_run_id, name, source, COUNT(*) AS problems, "
        "SUM(CASE WHEN removed THEN 1 ELSE 0 END) AS removed "
        "FROM contaminated_problems GROUP BY export_run_id, name, source ORDER BY export_run_id, source"
    )).all()
    out = []
    for run_id, name, source, problems, removed in rows:
        kept = problems - int(removed or 0)
        what = (f"{kept} kept in the training splits (export.keep_contaminated=true): export again without it "
                "to leave them out" if kept else "all left out of the training splits")
        out.append(f"export run {name!r} (id {run_id}): {problems} training problems matched {source} problems; "
                   f"{what}; list them with SELECT problem, matched, how FROM contaminated_problems WHERE "
                   f"export_run_id = {run_id};")
    return out


def _run_tasks(conn: Connection) -> dict[int, dict]:
    """The stored `task` settings of every explore run (its config's `task` node), by run id."""
    import json

    out = {}
    for run_id, config in conn.execute(text("SELECT id, config FROM runs WHERE stage = 'explore'")):
        if isinstance(config, str):  # SQLite hands JSON back as text on a plain connection
            try:
                config = json.loads(config)
            except ValueError:
                continue
        task = (config or {}).get("task") if isinstance(config, dict) else None
        if isinstance(task, dict):
            out[run_id] = task
    return out


@register
def frame_markers(conn: Connection) -> list[str]:
    """stored model text that holds frame markers (<think>, </think>, answer tags, chat tokens), per run"""
    from collections import Counter

    from search.tasks import task_classes
    from search.tasks.base import THINK_CLOSE, frame_pattern

    def pattern(task: dict):
        try:  # a run of a task this install does not have still gets the generic markers
            return frame_pattern(tuple(task_classes(task.get("name"))[0].answer_markers))
        except (ValueError, ImportError, AttributeError):
            return frame_pattern()

    tasks = _run_tasks(conn)
    out = []
    runs = conn.execute(text("SELECT id, name FROM runs WHERE stage = 'explore' ORDER BY id")).all()
    for run_id, name in runs:
        markers, seen = pattern(tasks.get(run_id, {})), Counter()
        total = conn.execute(text("SELECT COUNT(*) FROM nodes n JOIN trees t ON t.id = n.tree_id "
                                  "WHERE t.run_id = :r AND n.parent_id IS NOT NULL"), {"r": run_id}).scalar()
        held = 0
        for (node_text,) in conn.execute(text(
                "SELECT n.text FROM nodes n JOIN trees t ON t.id = n.tree_id "
                "WHERE t.run_id = :r AND n.text LIKE '%<%'"), {"r": run_id}):
            found = markers.findall(node_text or "")
            held += bool(found)
            seen.update(found)
        if held:
            kinds = ", ".join(f"{m} {n}" for m, n in seen.most_common(6))
            out.append(f"run {name!r} (explore, id {run_id}): {held} of {total} nodes hold frame markers in their "
                       f"text ({kinds}); they keep the text as generated, and trajectories show those steps cut "
                       f"at the first marker (Task.quote)")
    # Trajectories stored before that rule, or by other code: a second `</think>` splits a trace early.
    per_run: Counter = Counter()
    names = {}
    for run_id, name, body in conn.execute(text(
            "SELECT r.id, r.name, tr.text FROM trajectories tr JOIN runs r ON r.id = tr.run_id "
            f"WHERE tr.text LIKE '%{THINK_CLOSE}%{THINK_CLOSE}%' ORDER BY r.id")):
        per_run[run_id] += 1
        names[run_id] = name
    for run_id, n in per_run.items():
        out.append(f"run {names[run_id]!r} (linearize, id {run_id}): {n} trajectories close their reasoning twice; "
                   f"re-run its linearize stage (`journeyforge linearize name=...`) to write them again "
                   f"(the export leaves such rows out)")
    return out


def run_checks(url: str, checks: list[Check] | None = None) -> tuple[list[str], int]:
    """Every check on the store at `url`: (report lines, number of checks that found something)."""
    engine = open_read_only(url)
    lines, found = [f"store {mask_url(url)}: read-only checks"], 0
    try:
        with engine.connect() as conn:
            check_readable(conn, url)
            for check in checks if checks is not None else CHECKS:
                title = (check.__doc__ or check.__name__).strip().splitlines()[0]
                try:
                    report = check(conn)
                except Exception as err:  # noqa: BLE001 - one broken check must not hide the others
                    conn.rollback()
                    report = [f"could not run: {' '.join(str(err).split())[:200]}"]
                found += bool(report)
                lines.append(f"[check] {check.__name__} ({title}): {'found' if report else 'none'}")
                lines += [f"  {line}" for line in report]
    except StoreError:
        raise
    except Exception as err:  # noqa: BLE001 - e.g. a server down
        raise StoreError(f"cannot read trace store {mask_url(url)}: {' '.join(str(err).split())[:200]}") from None
    finally:
        engine.dispose()
    return lines, found
