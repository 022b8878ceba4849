"""Schema migrations of the trace store (Alembic): upgrade a store, read its revision, know the head.

Revision 0001 holds the base tables, 0002 the SQL views and the nodes (tree_id, label) index, 0003
the rollouts table and the Monte-Carlo columns of nodes. Run
`python -m db.migrate upgrade URL` (or `journeyforge db upgrade --store.url=URL`) after updating
journeyforge; `TraceStore` refuses to open a store whose schema is older than the code.
"""
from __future__ import annotations

import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from db.engine import SQLITE_BEGIN, StoreError, explain_error, how_to_fix, make_engine, mask_url
from db.read_only import make_read_only_engine

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

# For messages about a store: its URL with the password masked.
masked = mask_url


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def head() -> str:
    """The newest schema revision this code knows (e.g. "0002")."""
    return ScriptDirectory.from_config(_config()).get_current_head()


def known_revisions() -> set[str]:
    """Every revision id in db/migrations/versions."""
    return {script.revision for script in ScriptDirectory.from_config(_config()).walk_revisions()}


def current_revision(connection: Connection) -> str | None:
    """The revision stamped in the store behind `connection`; None for a store without one."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade_engine(engine: Engine, revision: str = "head") -> None:
    """Upgrade the store behind `engine` to `revision` in one transaction."""
    with engine.connect().execution_options(**{SQLITE_BEGIN: "IMMEDIATE"}) as connection:
        command.upgrade(_config(connection), revision)
        connection.commit()


def upgrade(url: str, revision: str = "head") -> str | None:
    """Upgrade the store at `url` to `revision` (default: the newest) and return its revision then."""
    engine = _open(url)
    try:
        with engine.connect() as connection:
            stored = current_revision(connection)
        check_known(url, stored)  # Alembic would say "Can't locate revision '0099'" with a traceback
        try:
            upgrade_engine(engine, revision)
        except DBAPIError as exc:
            raise StoreError(explain_error(exc, url) or f"upgrading trace store {mask_url(url)} failed: "
                             f"{' '.join(str(exc.orig).split())}") from None
        with engine.connect() as connection:
            return current_revision(connection)
    finally:
        engine.dispose()


def downgrade(url: str, revision: str) -> str | None:
    """Downgrade the store at `url` to `revision` (e.g. "0001"); returns its revision then."""
    engine = _open(url)
    try:
        with engine.connect().execution_options(**{SQLITE_BEGIN: "IMMEDIATE"}) as connection:
            command.downgrade(_config(connection), revision)
            connection.commit()
            return current_revision(connection)
    finally:
        engine.dispose()


def current(url: str) -> str | None:
    """The schema revision of the store at `url` (None when it has none, e.g. an empty file), read
    without writing: a SQLite file that does not exist is a StoreError, never a new empty store."""
    engine = make_read_only_engine(url)
    try:
        with engine.connect() as connection:
            return current_revision(connection)
    except DBAPIError as exc:
        raise StoreError(
            explain_error(exc, url) or f"cannot open trace store {mask_url(url)}: {exc.orig}; {how_to_fix(engine.url)}"
        ) from None
    finally:
        engine.dispose()


def check_known(url: str, revision: str | None) -> None:
    """StoreError (one line) when `revision` is one this release does not know: the store was written
    by a newer journeyforge, and this one must not read or write it."""
    if revision is not None and revision not in known_revisions():
        raise StoreError(f"trace store {mask_url(url)} has schema revision {revision}, newer than this release "
                         f"knows (head {head()}): it was written by a newer journeyforge; upgrade journeyforge")


def _open(url: str) -> Engine:
    engine = make_engine(url)
    try:
        engine.connect().close()
    except DBAPIError as exc:
        engine.dispose()
        raise StoreError(
            explain_error(exc, url) or f"cannot open trace store {mask_url(url)}: {exc.orig}; {how_to_fix(engine.url)}"
        ) from None
    return engine


def main(argv: list[str] | None = None) -> int:
    """`python -m db.migrate upgrade|current URL`."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] not in ("upgrade", "current"):
        print("usage: python -m db.migrate upgrade|current URL", file=sys.stderr)
        return 2
    action, url = args
    revision = upgrade(url) if action == "upgrade" else current(url)
    print(f"{mask_url(url)}: revision {revision or '(none)'} (head {head()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
