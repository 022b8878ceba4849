"""Helpers for tests of commands that fail: one line and no traceback, the store's whole content
before and after, the files of a folder, and small file systems that fill up (tmpfs)."""
from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from tests.explore_processes import ENV, REPO, journeyforge


def fails(stage: str, *overrides: str, logs: Path | None = None, timeout: float = 300, progress: bool = False) -> str:
    """Run `journeyforge <stage> overrides...`; assert it failed with exactly one line on stderr and no
    traceback (nor a Python list of errors) in its output or in the Hydra logs under `logs`; return
    the line. `progress`: the stage trains, and transformers' progress bars and load reports come
    first on stderr: the error is its last line."""
    done = subprocess.run(journeyforge(stage, *overrides), cwd=REPO, env=ENV, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode != 0, done.stdout
    printed = done.stdout + done.stderr
    assert "Traceback" not in printed and "[(" not in printed, printed
    lines = done.stderr.strip().splitlines()
    if progress:
        lines = lines[-1:]
        assert lines and lines[0].startswith(f"journeyforge {stage}: "), done.stderr
    assert len(lines) == 1, done.stderr
    for log in (logs.rglob("*.log") if logs is not None else []):
        assert "Traceback" not in log.read_text(errors="replace"), log
    return lines[0]


def dump(path: Path) -> str:
    """Every schema statement and row of the SQLite store at `path` (sqlite3's `.dump`), read from a copy
    (with its `-wal`), so that reading it cannot change the store itself."""
    copy = path.with_name(f".dump-{os.getpid()}.db")
    try:
        shutil.copyfile(path, copy)
        if Path(f"{path}-wal").exists():
            shutil.copyfile(f"{path}-wal", f"{copy}-wal")
        with sqlite3.connect(copy) as conn:
            return "\n".join(conn.iterdump())
    finally:
        for leftover in (copy, Path(f"{copy}-wal"), Path(f"{copy}-shm")):
            leftover.unlink(missing_ok=True)


def files(folder: Path) -> dict[str, str]:
    """sha256 of every file under `folder` by relative path ({} when there is no folder)."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def beside(path: Path) -> list[str]:
    """The names in `path`'s folder that start with its name: the file, and any `-wal`/`-shm`."""
    return sorted(p.name for p in path.parent.iterdir() if p.name.startswith(path.name))


@contextmanager
def tmpfs(path: Path, options: str) -> Iterator[Path]:
    """A tmpfs mounted at `path` with `options` (e.g. "size=600k", "nr_inodes=150"): a disk that fills
    up for real. Skips the test where this process may not mount (not root, no tmpfs)."""
    if os.geteuid() != 0:
        pytest.skip("a full disk is a small tmpfs, and mounting one needs root")
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def remount(path: Path, options: str) -> None:
    """Change a mounted tmpfs's `options` in place (e.g. more room), keeping its files."""
    subprocess.run(["mount", "-o", f"remount,{options}", str(path)], check=True)
