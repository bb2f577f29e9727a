"""Crash-safe file writes: a temporary file beside the target, fsynced, then renamed over it.

write_atomic(Path("out/report.html"), lambda f: f.write(text), text=True, mode=0o644)
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

__all__ = ["write_atomic", "fsync_dir"]


def write_atomic(
    target: Path, write: Callable[[IO[Any]], object], *, text: bool = False, mode: int | None = None
) -> None:
    """Call ``write`` on a temporary file in ``target``'s folder, fsync it, rename it over ``target``.

    ``text`` opens the file as UTF-8 text, else binary; ``mode`` sets its permissions
    (a temporary file is created 0600). On any error the temporary file is removed and the
    error re-raised; ``target`` is then as it was.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") if text else os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def fsync_dir(path: Path) -> None:
    """fsync a folder so a file created or renamed in it survives a crash (best effort)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
