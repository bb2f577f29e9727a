"""sha256 of data files, remembered so a multi-GB file is hashed once, not on every load.

Entries live in ``$VECBENCH_CACHE/checksums/<sha1 of the absolute path>.json`` and are
keyed by the file's size and mtime (ns): touching or rewriting the file invalidates them.
The data file's own folder is never written to (it may be read-only or shared).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from vecbench.paths import cache_dir

__all__ = ["file_sha256", "remember_sha256"]

_CHUNK = 1 << 20


def _entry(path: Path) -> Path:
    key = hashlib.sha1(str(path.resolve()).encode("utf-8")).hexdigest()
    return cache_dir() / "checksums" / f"{key}.json"


def _stamp(path: Path) -> dict[str, int | str]:
    st = path.stat()
    return {"path": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def remember_sha256(path: Path, sha256: str) -> None:
    """Record ``sha256`` as the digest of ``path`` as it is now (best effort: never raises)."""
    try:
        entry = _entry(path)
        entry.parent.mkdir(parents=True, exist_ok=True)
        record = {**_stamp(path), "sha256": sha256}
        fd, tmp = tempfile.mkstemp(prefix=entry.name + ".", suffix=".tmp", dir=entry.parent)
        with os.fdopen(fd, "w") as fh:
            json.dump(record, fh)
        os.replace(tmp, entry)
    except OSError:
        pass


def file_sha256(path: str | os.PathLike[str], *, use_cache: bool = True) -> str:
    """Hex sha256 of the file's bytes; reuses the recorded digest while size and mtime match."""
    path = Path(path)
    if use_cache:
        try:
            record = json.loads(_entry(path).read_text())
            stamp = _stamp(path)
            if all(record.get(key) == stamp[key] for key in stamp) and isinstance(record.get("sha256"), str):
                return record["sha256"]
        except (OSError, ValueError):
            pass
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    sha = digest.hexdigest()
    if use_cache:
        remember_sha256(path, sha)
    return sha
