"""`journeyforge db upgrade|current|check [store.url=URL]`: Alembic migrations of a trace store, and
read-only checks of its contents (journeyforge/db_check.py)."""
from __future__ import annotations

import sys

from hydra import compose, initialize_config_dir

USAGE = "usage: journeyforge db upgrade|current|check [store=postgres] [store.url=URL]"
ACTIONS = ("upgrade", "current", "check")


def main(argv: list[str]) -> None:
    """Upgrade the configured store to the newest schema, print its revision and the head, or
    check its contents (read-only; exit status 1 when a check found something)."""
    if not argv or argv[0] not in ACTIONS:
        sys.exit(USAGE)
    from journeyforge.overrides import CONF_DIR, check_overrides

    # `--store.url=...` (as the "upgrade your store" message writes it) and `store.url=...` both work.
    overrides = [a.lstrip("-") for a in argv[1:]]
    problem = check_overrides(overrides, validate=False)
    if problem:
        sys.exit(f"journeyforge db {argv[0]}: {problem}")
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        cfg = compose(config_name="config", overrides=overrides)
    from db import migrate
    from db.engine import StoreError, mask_url

    url = cfg.store.url
    if argv[0] == "check":
        _check(url)
        return
    try:
        if argv[0] == "upgrade":
            try:
                before = migrate.current(url)
            except StoreError:  # no file yet (upgrade makes the store), or one upgrade names below
                before = None
            after = migrate.upgrade(url)
            change = "already at head" if before == after else f"upgraded {before or '(empty)'} -> {after}"
            print(f"store {mask_url(url)}: {change} (head {migrate.head()})")
        else:  # read-only: a mistyped path is one line, never a new file
            before = migrate.current(url)
            migrate.check_known(url, before)
            print(f"store {mask_url(url)}: revision {before or '(none)'} (head {migrate.head()})")
    except StoreError as err:
        sys.exit(f"journeyforge db {argv[0]}: {' '.join(str(err).split())}")


def _check(url: str) -> None:
    from db.engine import StoreError
    from journeyforge.db_check import run_checks

    try:
        lines, found = run_checks(url)
    except StoreError as err:
        sys.exit(f"journeyforge db check: {' '.join(str(err).split())}")
    print("\n".join(lines))
    if found:
        sys.exit(1)
