"""Opening a trace store only to read it: `db check`, `db current`, `view`, `experiment.report_only`.

A reading command must leave the store exactly as it found it: no new file for a mistyped path, no
`PRAGMA journal_mode=WAL` (which rewrites a file's header: a zero-byte file would become a SQLite
database), and no `-wal`/`-shm` files left beside it. SQLite opens the file with `mode=ro`; a store
with no `-wal` (and no `-journal`) beside it (no process has it open, every write is in the main file)
is also opened `immutable=1`, because a read-only connection to a WAL database otherwise creates
`-wal` and `-shm` and, being read-only, cannot remove them. When a `-wal` exists a writer may be at
work, so the store is read through it (those files exist already: nothing is created). PostgreSQL sessions are
read-only transactions: a statement that tried to write would fail.
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event

from db.engine import StoreError, mask_url, parse_url
from db.settings import BUSY_TIMEOUT


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite store URL (None for PostgreSQL); StoreError for an in-memory or URI one,
    which a reading command has nothing to read in."""
    parsed = parse_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        raise StoreError(f"store.url={mask_url(parsed)} names no store file to read")
    return Path(database).expanduser().resolve()


def make_read_only_engine(url: str, busy_timeout: float = BUSY_TIMEOUT) -> Engine:
    """An engine that can only read the store at `url`; StoreError (one line) when its SQLite file
    does not exist, so that reading a mistyped path never creates an empty store."""
    path = sqlite_path(url)
    if path is None:
        return create_engine(parse_url(url), pool_pre_ping=True,
                             connect_args={"options": "-c default_transaction_read_only=on"})
    if not path.is_file():
        raise StoreError(f"no trace store at {path} (store.url={mask_url(url)}): the file does not exist; "
                         "fix store.url, or run `journeyforge explore` to make the store first")
    # A hot rollback journal (a store some other tool wrote without WAL) must be read too.
    immutable = "" if any(Path(f"{path}{s}").exists() for s in ("-wal", "-journal")) else "&immutable=1"
    engine = create_engine(f"sqlite:///file:{quote(str(path))}?mode=ro{immutable}&uri=true")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")  # a writer's checkpoint, briefly
        cursor.close()

    return engine


__all__ = ["make_read_only_engine", "sqlite_path"]
