"""Unpack a downloaded zip safely: every member is checked before one byte is written.

Refused (DatasetError, nothing written): absolute names, ``..`` components, drive letters,
backslash-separated names that would climb out on Windows, symbolic links, names given
twice, and archives whose declared size exceeds the free disk space. Members are streamed
to disk (never read whole) and hashed on the way, so the caller can record what it unpacked.

    files = unpack_zip(Path("scifact.zip"), Path("/cache/datasets/beir/.scifact.tmp"))
    files["scifact/corpus.jsonl"]   # {"size": 7_753_493, "sha256": "..."}
"""

from __future__ import annotations

import hashlib
import re
import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath

from vecbench.errors import DatasetError
from vecbench.util.progress import NULL, Progress

__all__ = ["unpack_zip", "hash_tree", "SKIPPED_PREFIXES"]

SKIPPED_PREFIXES = ("__MACOSX/",)
"""Members never unpacked: resource-fork litter some zip tools add."""

_CHUNK = 1 << 20
_DRIVE = re.compile(r"^[A-Za-z]:")


def _member_path(name: str, archive: Path) -> PurePosixPath:
    """The member's relative path, or DatasetError when it could land outside the target."""
    if not name or "\x00" in name:
        raise DatasetError(f"{archive}: refusing a member with an empty or NUL-containing name")
    parts = re.split(r"[\\/]", name)
    if name.startswith(("/", "\\")) or _DRIVE.match(name) or ".." in parts:
        raise DatasetError(f"{archive}: refusing member {name!r}: its path leaves the target folder")
    return PurePosixPath(*[p for p in parts if p not in ("", ".")])


def _check(zf: zipfile.ZipFile, archive: Path, dest: Path) -> list[tuple[zipfile.ZipInfo, PurePosixPath]]:
    members: list[tuple[zipfile.ZipInfo, PurePosixPath]] = []
    seen: set[PurePosixPath] = set()
    root = dest.resolve()
    for info in zf.infolist():
        if info.filename.startswith(SKIPPED_PREFIXES):
            continue
        rel = _member_path(info.filename, archive)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise DatasetError(
                f"{archive}: refusing member {info.filename!r}: symbolic links are not unpacked"
            )
        if not (root / rel).resolve().is_relative_to(root):
            raise DatasetError(
                f"{archive}: refusing member {info.filename!r}: its path leaves the target folder"
            )
        if rel in seen and not info.is_dir():
            raise DatasetError(f"{archive}: member {info.filename!r} appears twice")
        seen.add(rel)
        members.append((info, rel))
    declared = sum(info.file_size for info, _ in members)
    free = shutil.disk_usage(dest).free
    if declared > free:
        raise DatasetError(
            f"{archive}: unpacking needs {declared / 1e9:.2f} GB, {dest} has {free / 1e9:.2f} GB free"
        )
    return members


def unpack_zip(archive: Path, dest: Path, *, progress: Progress = NULL) -> dict[str, dict[str, int | str]]:
    """Unpack ``archive`` into the existing, empty folder ``dest``; returns
    ``{relative path: {"size": bytes, "sha256": hex}}`` for every file written.

    The caller owns ``dest`` (a temporary folder it renames into place on success and
    removes on failure); this function never writes outside it.
    """
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DatasetError(f"{archive}: not a readable zip file ({exc})") from None
    files: dict[str, dict[str, int | str]] = {}
    with zf:
        members = _check(zf, archive, dest)
        total = sum(info.file_size for info, _ in members)
        with progress.task(f"unpack {archive.name}", total=total, unit="B") as task:
            for info, rel in members:
                target = dest.joinpath(*rel.parts)
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                digest, size = hashlib.sha256(), 0
                try:
                    with zf.open(info) as src, open(target, "xb") as out:
                        while chunk := src.read(_CHUNK):
                            out.write(chunk)
                            digest.update(chunk)
                            size += len(chunk)
                            task.advance(len(chunk))
                except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError) as exc:
                    raise DatasetError(f"{archive}: cannot unpack {info.filename!r}: {exc}") from None
                files[rel.as_posix()] = {"size": size, "sha256": digest.hexdigest()}
    return files


def hash_tree(root: Path, names: list[str]) -> dict[str, dict[str, int | str] | None]:
    """``{name: {"size", "sha256"}}`` for each relative file name under ``root``; None when missing."""
    out: dict[str, dict[str, int | str] | None] = {}
    for name in names:
        path = root.joinpath(*PurePosixPath(name).parts)
        if not path.is_file():
            out[name] = None
            continue
        digest, size = hashlib.sha256(), 0
        with open(path, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
        out[name] = {"size": size, "sha256": digest.hexdigest()}
    return out
