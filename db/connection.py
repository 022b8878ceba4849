"""The engine part of `TraceStore`: opening a store URL, checking (or creating) its schema, and the
read and write transactions every other part of the store runs its statements in."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import Connection, Table, inspect
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, IntegrityError

from db.engine import SQLITE_BEGIN, StoreError, explain_error, how_to_fix, make_engine, mask_url
from db.migrate import current_revision, head, known_revisions, upgrade_engine
from db.read_only import make_read_only_engine
from db.settings import BUSY_TIMEOUT

# PostgreSQL advisory lock key held while a store's schema is checked or created ("jfschema").
_SCHEMA_LOCK = 0x6A66736368656D61


class StoreConnection:
    """An open trace store: its engine, a checked schema, and `_read`/`_write` transactions.

    The other parts of `TraceStore` (db/store.py) extend this class and reach the database only
    through `_read`, `_write` and `_insert_ignore`.
    """

    def __init__(self, url: str, create: bool = True, busy_timeout: float = BUSY_TIMEOUT, read_only: bool = False):
        """Open (and if empty and `create`, create) the store at `url`; raises StoreError when that is
        impossible. `create=False` is for commands that only read what earlier stages wrote: a missing
        SQLite file or an empty database is an error, never a new store. `read_only=True` (implies
        `create=False`) is for commands that write nothing at all (view, reports): the store is opened
        as db/read_only.py says, so that not a byte of it changes, and every write raises StoreError.
        `busy_timeout`: seconds a SQLite write waits for another process's lock."""
        self.url = url
        self.read_only = read_only
        self.create = create and not read_only
        self.busy_timeout = busy_timeout
        # Attempts at finished runs (db/runs.py start_run): run id -> the row values its success writes.
        self._attempts: dict[int, dict] = {}
        self.engine = (make_read_only_engine(url, busy_timeout) if read_only
                       else make_engine(url, busy_timeout=busy_timeout, create=create))
        self.dialect = self.engine.dialect.name
        try:
            self._ensure_schema()
        except DBAPIError as exc:
            self.engine.dispose()
            raise StoreError(
                explain_error(exc, url, busy_timeout)
                or f"cannot open trace store {mask_url(url)}: {exc.orig}; {how_to_fix(self.engine.url)}"
            ) from None
        except BaseException:
            self.engine.dispose()
            raise

    def __repr__(self) -> str:
        return f"{type(self).__name__}({mask_url(self.url)!r})"

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Close every pooled connection; the store object is unusable afterwards."""
        self.engine.dispose()

    # -- schema ---------------------------------------------------------------------------------

    def _ensure_schema(self) -> None:
        if self.dialect != "postgresql" or self.read_only:  # a reader creates nothing: no lock needed
            self._check_or_create_schema()
            return
        # Workers started together by a launcher sweep all open an empty database at once: one creates
        # the schema while the others wait on this lock, then find it current.
        with self.engine.connect() as lock:
            lock.exec_driver_sql(f"SELECT pg_advisory_lock({_SCHEMA_LOCK})")
            try:
                self._check_or_create_schema()
            finally:
                lock.exec_driver_sql(f"SELECT pg_advisory_unlock({_SCHEMA_LOCK})")
                lock.commit()

    def _check_or_create_schema(self) -> None:
        with self._read() as conn:
            revision = current_revision(conn)
            has_tables = inspect(conn).has_table("nodes")
        if revision is None and not has_tables:
            if not self.create:
                raise StoreError(f"trace store {mask_url(self.url)} is empty (no journeyforge tables): fix store.url, "
                                 "or run `journeyforge explore` to fill it first")
            upgrade_engine(self.engine)
            return
        newest = head()
        if revision == newest:
            return
        where = mask_url(self.url)
        if revision is None:
            raise StoreError(
                f"trace store {where} has journeyforge tables but no schema revision (alembic_version); "
                "it was not created by this version of journeyforge"
            )
        if revision in known_revisions():
            raise StoreError(
                f"trace store {where} has schema revision {revision}, older than this code's {newest}; "
                f"run `journeyforge db upgrade --store.url={where}` (or `python -m db.migrate upgrade URL`)"
            )
        raise StoreError(
            f"trace store {where} has schema revision {revision}, unknown to this code (head {newest}); "
            "it was written by a newer journeyforge: upgrade journeyforge"
        )

    # -- transactions ---------------------------------------------------------------------------

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        # SQLite: a deferred transaction reads a snapshot without taking the write lock.
        with self.engine.connect() as conn:
            yield conn

    @contextmanager
    def _write(self, what: str) -> Iterator[Connection]:
        """One transaction (BEGIN IMMEDIATE on SQLite); constraint violations become StoreError."""
        if self.read_only:
            raise StoreError(f"{what}: trace store {mask_url(self.url)} was opened read-only; this command "
                             "must not write it")
        try:
            with self.engine.connect().execution_options(**{SQLITE_BEGIN: "IMMEDIATE"}) as conn, conn.begin():
                yield conn
        except IntegrityError as exc:
            raise StoreError(f"{what}: the store refused the rows, nothing was written: {exc.orig}") from exc

    def _insert_ignore(self, table: Table, keys: list[str]):
        """INSERT ... ON CONFLICT (keys) DO NOTHING, on either backend."""
        dialect_insert = pg_insert if self.dialect == "postgresql" else sqlite_insert
        return dialect_insert(table).on_conflict_do_nothing(index_elements=keys)
