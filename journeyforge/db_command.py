"""`journeyforge db upgrade|current [store.url=URL]`: Alembic migrations of a trace store."""
from __future__ import annotations

import sys

from hydra import compose, initialize_config_dir


def main(argv: list[str]) -> None:
    if not argv or argv[0] not in ("upgrade", "current"):
        sys.exit("usage: journeyforge db upgrade|current [store=postgres] [store.url=URL]")
    from journeyforge.cli import CONF_DIR

    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        cfg = compose(config_name="config", overrides=[a.lstrip("-") for a in argv[1:]])
    from db import migrate

    url = cfg.store.url
    if argv[0] == "upgrade":
        before = migrate.current(url)
        migrate.upgrade(url)
        print(f"store {migrate.masked(url) if hasattr(migrate, 'masked') else url}: {before} -> {migrate.current(url)}")
    else:
        print(f"{migrate.current(url)} (head: {migrate.head()})")
