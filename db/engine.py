"""Opening a trace store URL: one SQLAlchemy engine per store, SQLite tuned for one writer.

`db.store` and `db.migrate` both open stores through `make_engine`, so the SQLite pragmas and the
transaction mode are the same whether the schema is being migrated or nodes are being written.
"""
from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from db.finite_json import finite_json
from db.settings import BUSY_TIMEOUT

# JSON columns are written compactly (token ids and states are most of a node's bytes), with NaN and
# Infinity as null: PostgreSQL's json refuses them (db/finite_json.py).
compact_json = finite_json

# Connection option that picks the SQLite BEGIN mode of a transaction (see `make_engine`).
SQLITE_BEGIN = "journeyforge_sqlite_begin"


_SECRET_PARAM = re.compile(r"pass|pwd|secret|token|key", re.I)


class StoreError(RuntimeError):
    """A trace store that cannot be opened, has the wrong schema, or was given bad rows."""


def mask_url(url: str | URL) -> str:
    """The URL as text with any password, and any credential-looking query parameter
    (`?sslpassword=...`, `?password=...`), replaced by `***`: safe for error messages and logs."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "<unparsable URL>"
    secret = {k: "***" for k in parsed.query if _SECRET_PARAM.search(k)}
    return parsed.update_query_dict(secret).render_as_string(hide_password=True).replace("%2A%2A%2A", "***")


def parse_url(url: str | URL) -> URL:
    """`url` as a SQLAlchemy URL; raises StoreError naming the (masked) URL when it is not one."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(
            f"trace store URL {url!r} is not a database URL ({exc}); expected e.g. "
            "'sqlite:///traces.db' or 'postgresql+psycopg://user@host:5432/db'"
        ) from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise StoreError(
            f"trace store URL {mask_url(parsed)} uses backend {parsed.get_backend_name()!r}; "
            "journeyforge supports sqlite and postgresql (postgresql+psycopg://...)"
        )
    return parsed


def how_to_fix(url: URL) -> str:
    """What to check when `url` cannot be opened, in words, for error messages."""
    if url.get_backend_name() == "sqlite":
        return "check that the file's directory exists and is writable, and that the file is a SQLite database"
    return (
        f"check that PostgreSQL is running on {url.host or 'localhost'}:{url.port or 5432}, that user "
        f"{url.username!r} may log in (password, pg_hba.conf), and that database {url.database!r} exists"
    )


def make_engine(url: str | URL, busy_timeout: float = BUSY_TIMEOUT, create: bool = True) -> Engine:
    """An engine for `url`; SQLite gets WAL, foreign keys, a busy timeout and IMMEDIATE write transactions.

    SQLite: the stdlib driver's own transaction handling is switched off so that SQLAlchemy emits
    BEGIN itself, which also makes DDL transactional (a migration is all or nothing).
    Connections opened with the execution option `{SQLITE_BEGIN: "IMMEDIATE"}` take the write
    lock up front: a deferred transaction that reads and then writes can fail with SQLITE_BUSY
    without waiting, which the busy timeout does not cover. Other connections (ad hoc reads with
    `engine.connect()`) begin DEFERRED and never block writers.
    `busy_timeout` (seconds) bounds how long a SQLite connection waits for another process's write
    lock before the store says who holds it. With `create=False` a SQLite file that does not exist is
    an error instead of a new empty store (read-only commands: a mistyped path must not make one).
    """
    parsed = parse_url(url)
    try:
        if parsed.get_backend_name() == "sqlite":
            database = parsed.database or ""
            if database and database != ":memory:" and not database.startswith("file:"):
                if not create and not Path(database).is_file():
                    raise StoreError(
                        f"no trace store at {database} (store.url={mask_url(parsed)}): the file does not exist; "
                        "fix store.url, or run `journeyforge explore` to make the store first"
                    )
                try:
                    Path(database).parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise StoreError(
                        f"cannot open trace store {mask_url(parsed)}: {exc}; {how_to_fix(parsed)}"
                    ) from None
            engine = create_engine(parsed, json_serializer=compact_json)
            _tune_sqlite(engine, busy_timeout)
            return engine
        return create_engine(parsed, json_serializer=compact_json, pool_pre_ping=True)
    except NoSuchModuleError as exc:
        raise StoreError(f"cannot open trace store {mask_url(parsed)}: {exc}; install the driver") from None


def _tune_sqlite(engine: Engine, busy_timeout: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" event below emits BEGIN
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
        cursor.execute("PRAGMA foreign_keys=ON")  # off by default in SQLite
        # Wait for another process's write lock instead of failing at once; `explain_error` then says who
        # holds it.
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        # In WAL mode NORMAL cannot corrupt the file; a power cut may lose the last waves, which
        # a resumed run redoes. FULL costs an fsync per wave.
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Nodes of ~1000 trees grow at once, so every wave touches index pages all over the
        # (tree_id, ...) indexes: the 2 MB default page cache turns that into reads from the
        # OS. A 64 MiB cache plus memory-mapped reads keep a million-node store ~4x faster.
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.execute("PRAGMA mmap_size=268435456")
        # Checkpoint the WAL every 256 MiB rather than every 4 MiB: fewer, larger copies back into the
        # file, and fewer of the two fsyncs each checkpoint makes (half of a wave's commit time at
        # 64 MiB). Measured, store_scale.py at 200,000 nodes: 4 -> 64 MiB 24k -> 31k nodes/s (an older
        # box), 64 -> 256 MiB 49k -> 55k (2-core Intel Xeon). A running store's -wal file may reach
        # that size; SQLite removes it when the last connection closes.
        cursor.execute("PRAGMA wal_autocheckpoint=65536")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        mode = connection.get_execution_options().get(SQLITE_BEGIN, "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


def explain_error(exc: BaseException, url: str | URL, busy_timeout: float | None = None) -> str | None:
    """One line for a database error that is about the store itself (corrupt, locked, read-only,
    full), naming the store and what to do; None for any other error."""
    text = " ".join(str(getattr(exc, "orig", None) or exc).split())
    where = mask_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        parsed = None
    path = parsed.database if parsed is not None and parsed.get_backend_name() == "sqlite" else None
    if "malformed" in text or "file is not a database" in text:
        fix = (f"recover what it holds with `sqlite3 {path} .recover | sqlite3 recovered.db` and point store.url "
               "at recovered.db" if path else "restore it from a backup")
        return f"trace store {where} is corrupt ({text}); nothing more was written to it; {fix}"
    if "database is locked" in text or "database table is locked" in text:
        waited = f" for {busy_timeout:g} s" if busy_timeout is not None else ""
        holders = sqlite_holders(path) if path else []
        who = (f"held by {'; '.join(holders)}" if holders else "held by another process")
        return (f"trace store {where} stayed locked by another writer{waited} ({who}); wait for it to finish, or "
                "raise store.busy_timeout (seconds)")
    if "readonly database" in text or "read-only" in text:
        return f"trace store {where} is read-only ({text}); copy it somewhere writable or fix its permissions"
    if "disk is full" in text or "No space left" in text:
        return f"trace store {where}: the disk is full ({text}); free space, then re-run to resume"
    return None


def sqlite_holders(path: str) -> list[str]:
    """Other processes that have the SQLite file (or its -wal/-shm) open, as 'pid N (command)':
    SQLite itself cannot say who holds its lock, /proc can say who has the file open (Linux only)."""
    import os

    try:
        targets = {os.path.realpath(path + suffix) for suffix in ("", "-wal", "-shm")}
        pids = [p for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()]
    except OSError:
        return []
    found = []
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
            if not any(os.path.realpath(f"/proc/{pid}/fd/{fd}") in targets for fd in fds):
                continue
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                command = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        found.append(f"pid {pid} ({' '.join(command.split())[:80]})")
    return found[:3]
