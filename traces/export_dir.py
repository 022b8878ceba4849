"""The export's folder: written whole into a temporary sibling and swapped in with renames, so that a
reader never sees half an export, and only ever replacing a folder an earlier export wrote."""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MARKER = "export.json"  # written last into every export directory; marks it as ours to replace


def config_name(relative: str) -> str:
    """Hub configuration name of an export subdirectory: `sft/journey` -> `sft_journey`."""
    return relative.strip("/").replace("/", "_")


def _check_replaceable(out_dir: Path) -> None:
    # Only ever replace a directory a previous export wrote: a typo in out_dir must not delete data.
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / MARKER).exists():
        raise FileExistsError(
            f"export directory {out_dir} exists, is not empty and holds no {MARKER}: "
            "refusing to replace it; choose another export.dir or remove it yourself"
        )


def _swap_in(tmp: Path, out_dir: Path) -> None:
    """Replace `out_dir` by the finished `tmp` with renames, so readers never see a half export."""
    old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
    if out_dir.exists():
        out_dir.rename(old)
    tmp.rename(out_dir)
    shutil.rmtree(old, ignore_errors=True)


@contextmanager
def export_dir(out_dir: Path) -> Iterator[Path]:
    """A fresh temporary folder beside `out_dir` to write the export into; on leaving the block it
    replaces `out_dir` (which must be empty, absent or an earlier export's), or is removed on error."""
    _check_replaceable(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.with_name(f".{out_dir.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        yield tmp
        _swap_in(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


__all__ = ["MARKER", "config_name", "export_dir"]
