"""Digests (sha256, md5) of data files, remembered so a multi-GB file is hashed once, not on
every load.

Entries live in ``$VECBENCH_CACHE/checksums/<sha1 of the absolute path>.json`` and are
keyed by the file's size and mtime (ns): touching or rewriting the file invalidates them.
One entry holds every digest computed for that version of the file. The data file's own
folder is never written to (it may be read-only or shared).

md5 is supported because it is what some publishers pin (BEIR's zips); it checks a
download for corruption, and sha256 is preferred wherever a source gives one.

    >>> file_digest("scifact.zip", "md5")
    '5f7d1de60b170fc8027bb7898e2efca1'
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Literal

from vecbench.errors import ConfigError
from vecbench.util.paths import cache_dir

__all__ = [
    "ALGORITHMS",
    "Algorithm",
    "file_digest",
    "file_sha256",
    "file_md5",
    "remember_digest",
    "remember_sha256",
    "new_hashers",
]

Algorithm = Literal["sha256", "md5"]
ALGORITHMS: tuple[Algorithm, ...] = ("sha256", "md5")

_CHUNK = 1 << 20


def new_hashers() -> dict[str, Any]:
    """A fresh hash object per supported algorithm, to feed one stream of bytes to all."""
    return {"sha256": hashlib.sha256(), "md5": hashlib.md5(usedforsecurity=False)}


def _entry(path: Path) -> Path:
    key = hashlib.sha1(str(path.resolve()).encode("utf-8")).hexdigest()
    return cache_dir() / "checksums" / f"{key}.json"


def _stamp(path: Path) -> dict[str, int | str]:
    st = path.stat()
    return {"path": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _recorded(path: Path) -> dict[str, Any]:
    """The entry for ``path`` if it still describes the file as it is now, else {}."""
    try:
        record = json.loads(_entry(path).read_text())
        stamp = _stamp(path)
    except (OSError, ValueError):
        return {}
    if not isinstance(record, dict) or any(record.get(key) != stamp[key] for key in stamp):
        return {}
    return record


def remember_digest(path: Path, algorithm: Algorithm, hexdigest: str) -> None:
    """Record ``hexdigest`` as the ``algorithm`` digest of ``path`` as it is now, next to any
    other digest already recorded for this version of the file (best effort: never raises)."""
    try:
        entry = _entry(path)
        entry.parent.mkdir(parents=True, exist_ok=True)
        record = {**_recorded(path), **_stamp(path), algorithm: hexdigest}
        fd, tmp = tempfile.mkstemp(prefix=entry.name + ".", suffix=".tmp", dir=entry.parent)
        with os.fdopen(fd, "w") as fh:
            json.dump(record, fh)
        os.replace(tmp, entry)
    except OSError:
        pass


def remember_sha256(path: Path, sha256: str) -> None:
    """Record ``sha256`` as the digest of ``path`` as it is now (best effort: never raises)."""
    remember_digest(path, "sha256", sha256)


def file_digest(
    path: str | os.PathLike[str], algorithm: Algorithm = "sha256", *, use_cache: bool = True
) -> str:
    """Hex digest of the file's bytes; reuses the recorded one while size and mtime match."""
    if algorithm not in ALGORITHMS:
        raise ConfigError(f"unsupported digest {algorithm!r}; supported: {', '.join(ALGORITHMS)}")
    path = Path(path)
    if use_cache:
        known = _recorded(path).get(algorithm)
        if isinstance(known, str):
            return known
    digest = new_hashers()[algorithm]
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    hexdigest: str = digest.hexdigest()
    if use_cache:
        remember_digest(path, algorithm, hexdigest)
    return hexdigest


def file_sha256(path: str | os.PathLike[str], *, use_cache: bool = True) -> str:
    """Hex sha256 of the file's bytes; reuses the recorded digest while size and mtime match."""
    return file_digest(path, "sha256", use_cache=use_cache)


def file_md5(path: str | os.PathLike[str], *, use_cache: bool = True) -> str:
    """Hex md5 of the file's bytes (for manifests that pin the md5 a publisher gives)."""
    return file_digest(path, "md5", use_cache=use_cache)
