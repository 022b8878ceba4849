"""Full disks: a stage whose disk fills up ends in one line, with no traceback printed or logged; the
store passes `PRAGMA integrity_check`, and the same command resumes once there is room. The disk is a
small tmpfs that really fills (needs root: skipped otherwise). Real processes."""
from __future__ import annotations

import sqlite3

from tests.explore_processes import explore_overrides, journeyforge, query, run_to_end
from tests.failed_commands import fails, files, remount, tmpfs


def test_explore_on_a_full_disk_ends_in_one_line_and_resumes(tmp_path):
    with tmpfs(tmp_path / "disk", "size=600k") as disk:
        url = f"sqlite:///{disk / 'traces.db'}"
        work = tmp_path / "work"
        overrides = explore_overrides("r", url, work, latency=0.0, n_train=200)
        line = fails("explore", *overrides, logs=work)
        assert line == (f"journeyforge explore: trace store {url}: the disk is full (database or disk is full); "
                        "free space, then re-run to resume")
        with sqlite3.connect(disk / "traces.db") as conn:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            assert 0 < conn.execute("SELECT COUNT(*) FROM nodes").fetchone()[0]
        conn.close()
        remount(disk, "size=20m")
        run_to_end(journeyforge("explore", *overrides), timeout=300)
        assert query(url, "SELECT status, COUNT(*) FROM trees GROUP BY status") == [("done", 200)]


def test_view_on_a_full_disk_ends_in_one_line_and_leaves_the_folder(tmp_path):
    db = tmp_path / "traces.db"
    work = tmp_path / "work"
    run_to_end(journeyforge("explore", *explore_overrides("r", f"sqlite:///{db}", work, latency=0.0, n_train=6)))
    # Room in bytes (the stage's own check wants 64 MiB free) but for 30 files: the site needs more.
    with tmpfs(tmp_path / "disk", "size=100m,nr_inodes=30") as disk:
        site = disk / "site"
        line = fails("view", "name=r", f"store.url=sqlite:///{db}", f"workdir={work}", f"view.dir={site}", logs=work)
        assert line.startswith(f"journeyforge view: view.dir {site}: the site could not be written (")
        assert "No space left on device" in line and "shutil.Error" not in line
        assert files(disk) == {} and list(disk.iterdir()) == []   # nothing half-written is left
