"""Alembic environment of the trace store.

`db.migrate` passes an open connection in `config.attributes["connection"]`. From the `alembic`
command line (`alembic -c db/alembic.ini -x url=sqlite:///traces.db upgrade head`) the URL comes
from `-x url=...` or `sqlalchemy.url`.
"""
from __future__ import annotations

from alembic import context
from sqlalchemy import text

from db.engine import StoreError, make_engine
from db.models import Base

# Any fixed number: workers that open one empty PostgreSQL store at once take turns creating it.
_PG_MIGRATION_LOCK = 7_164_002

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise StoreError("no store URL: pass `-x url=...` to alembic or use `journeyforge db upgrade --store.url=...`")
    return url


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds tables in later revisions.
        render_as_batch=connection.dialect.name == "sqlite",
        # db.engine makes SQLite DDL transactional (explicit BEGIN), so upgrades are all or nothing.
        transactional_ddl=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})"))
        context.run_migrations()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
elif config.attributes.get("connection") is not None:
    _run(config.attributes["connection"])
else:
    engine = make_engine(_url())
    try:
        with engine.connect() as connection:
            _run(connection)
            connection.commit()
    finally:
        engine.dispose()
