"""`journeyforge db upgrade|current` as a process: an old store is upgraded with its data intact."""
from __future__ import annotations

import subprocess

from sqlalchemy import text

from db import TraceStore, migrate
from db.engine import make_engine
from tests.explore_processes import ENV, REPO, journeyforge
from tests.store_backends import pg_database, pg_url, store_url  # noqa: F401
from tests.test_migrations import REVISION_1_ROWS


def _db(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(journeyforge("db", *args), cwd=REPO, env=ENV, capture_output=True, text=True, timeout=120)


def test_db_upgrade_brings_a_revision_1_store_with_data_to_head(store_url):
    assert migrate.upgrade(store_url, "0001") == "0001"
    engine = make_engine(store_url)
    with engine.begin() as conn:
        for statement in REVISION_1_ROWS:
            conn.execute(text(statement))
    engine.dispose()

    before = _db("current", f"store.url={store_url}")
    assert before.returncode == 0, before.stderr
    assert before.stdout.strip() == f"store {store_url}: revision 0001 (head {migrate.head()})"

    upgraded = _db("upgrade", f"store.url={store_url}")
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout.strip() == f"store {store_url}: upgraded 0001 -> {migrate.head()} (head {migrate.head()})"

    with TraceStore(store_url) as store:  # opens: the schema is at head now
        assert [n["text"] for n in store.path(2)] == ["", "2 + 2 = 4"]
        assert [n["label"] for n in store.nodes(1)] == ["root", "solution", "dead_end"]
        assert store.solved(1) == [1]
        assert store.trees(1)[0]["problem"]["payload"] == {"target": 4}
        assert [(r["name"], r["stage"]) for r in store.runs()] == [("demo", "explore")]

    after = _db("current", f"--store.url={store_url}")  # the spelling the "upgrade your store" error uses
    assert after.stdout.strip() == f"store {store_url}: revision {migrate.head()} (head {migrate.head()})"
    again = _db("upgrade", f"store.url={store_url}")
    assert again.stdout.strip() == f"store {store_url}: already at head (head {migrate.head()})"


def test_db_command_with_an_unreachable_store_prints_one_line_and_fails():
    url = "postgresql+psycopg://postgres@127.0.0.1:1/journeyforge"
    done = _db("current", f"store.url={url}")
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"journeyforge db current: cannot open trace store {url}: ")


def test_db_command_without_an_action_prints_its_usage():
    done = _db("downgrade")
    assert done.returncode != 0
    assert done.stderr.strip() == "usage: journeyforge db upgrade|current|check [store=postgres] [store.url=URL]"
