"""Damaged and foreign stores, and reading commands: `db check` on a file that is not a database, one
with corrupt pages, an empty one or one with a newer schema ends in one line naming the file and what
to do (exit status != 0), and the reading commands (`db check`, `db current`, `view`,
`experiment.report_only`) never create a file, a `-wal` or a byte of change. Real processes."""
from __future__ import annotations

import shutil
import sqlite3

import pytest

from tests.explore_processes import explore_overrides, journeyforge, run_to_end
from tests.failed_commands import beside, fails


@pytest.fixture(scope="module")
def grown(tmp_path_factory):
    """A small finished scripted Countdown store, closed (no `-wal` beside it): its path."""
    root = tmp_path_factory.mktemp("grown")
    db = root / "traces.db"
    run_to_end(journeyforge("explore", *explore_overrides("r", f"sqlite:///{db}", root / "work", latency=0.0,
                                                          n_train=6)))
    assert beside(db) == ["traces.db"]
    return db


def _damaged(grown, tmp_path, damage: str):
    """A copy of the grown store with `damage` done to it: (path, words the line must hold)."""
    path = tmp_path / "store.db"
    if damage == "not a database":
        path.write_text("these are my notes, not a database\n" * 200)
        return path, ["is corrupt (file is not a database)", f"sqlite3 {path} .recover"]
    if damage == "empty file":
        path.write_bytes(b"")
        return path, ["holds no journeyforge tables", "fix store.url"]
    shutil.copyfile(grown, path)
    if damage == "newer schema":
        with sqlite3.connect(path) as conn:
            conn.execute("UPDATE alembic_version SET version_num = '0099'")
        conn.close()
        return path, ["schema revision 0099, newer than this release", "upgrade journeyforge"]
    with sqlite3.connect(path) as conn:
        page, count = (conn.execute(f"PRAGMA {p}").fetchone()[0] for p in ("page_size", "page_count"))
    conn.close()
    with path.open("r+b") as f:  # garbage over the header of every page but the first (the schema's)
        for n in range(1, count):
            f.seek(n * page)
            f.write(b"\xff" * 16)
    return path, ["is corrupt (database disk image is malformed)", f"sqlite3 {path} .recover"]


@pytest.mark.parametrize("damage", ["not a database", "corrupt pages", "empty file", "newer schema"])
def test_db_check_names_a_damaged_store_and_what_to_do_in_one_line(grown, tmp_path, damage):
    path, words = _damaged(grown, tmp_path, damage)
    before = path.read_bytes()
    line = fails("db", "check", f"store.url=sqlite:///{path}")
    assert line.startswith(f"journeyforge db check: trace store sqlite:///{path} ")
    for word in words:
        assert word in line
    assert "could not run" not in line
    assert path.read_bytes() == before and beside(path) == ["store.db"]


@pytest.mark.parametrize("damage", ["empty file", "newer schema", "not a database"])
def test_reading_stages_leave_a_damaged_store_as_it_was(grown, tmp_path, damage):
    path, _ = _damaged(grown, tmp_path, damage)
    before = path.read_bytes()
    common = [f"store.url=sqlite:///{path}", "name=r", f"workdir={tmp_path / 'work'}", "policy=scripted"]
    for stage, extra in (("view", []), ("experiment", ["experiment.report_only=true"])):
        line = fails(stage, *common, *extra)
        assert line.startswith(f"journeyforge {stage}: trace store sqlite:///{path} ")
        assert path.read_bytes() == before and beside(path) == ["store.db"]   # no WAL header, no -wal file


def test_a_writing_stage_refuses_a_store_of_a_newer_release(grown, tmp_path):
    path, _ = _damaged(grown, tmp_path, "newer schema")
    before = path.read_bytes()
    line = fails("linearize", f"store.url=sqlite:///{path}", "name=r", f"workdir={tmp_path / 'work'}")
    assert "schema revision 0099" in line and "upgrade journeyforge" in line
    assert path.read_bytes() == before


def test_db_current_on_a_mistyped_path_creates_nothing(tmp_path):
    missing = tmp_path / "typo" / "none.db"
    line = fails("db", "current", f"store.url=sqlite:///{missing}")
    assert line == (f"journeyforge db current: no trace store at {missing} (store.url=sqlite:///{missing}): "
                    "the file does not exist; fix store.url, or run `journeyforge explore` to make the store first")
    assert list(tmp_path.iterdir()) == []


def test_reading_commands_leave_a_good_store_byte_identical(grown, tmp_path):
    before = grown.read_bytes()
    for command in (["db", "check"], ["db", "current"]):
        run_to_end(journeyforge(*command, f"store.url=sqlite:///{grown}"))
    run_to_end(journeyforge("view", "name=r", f"store.url=sqlite:///{grown}", f"workdir={tmp_path}"), timeout=300)
    assert (tmp_path / "view" / "index.html").exists()
    assert grown.read_bytes() == before and beside(grown) == ["traces.db"]
