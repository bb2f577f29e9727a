"""Download manifest data sets into the cache, resumably, verified by sha256 or md5.

    from vecbench.datasets.fetch import fetch
    path = fetch("glove-25-angular")   # $VECBENCH_CACHE/datasets/glove-25-angular.hdf5
    path = fetch("scifact")            # $VECBENCH_CACHE/datasets/beir/scifact/ (unpacked)

Bytes go to ``NAME.hdf5.part``; an interrupted download resumes from the part's size with
an HTTP Range request (a server that ignores Range is detected by its 200 answer and the
download restarts from zero). The part becomes ``NAME.hdf5`` (os.replace) only after its
digests match the manifest (sha256 and/or md5, whichever it pins); a mismatch deletes the
part and raises ChecksumMismatchError. A manifest without a checksum downloads
"unverified": the digests are computed, printed and recorded (``NAME.json`` next to the
file), so they can be pinned in the manifest.

A BEIR set (format ``beir-zip``) downloads the same way to ``datasets/beir/NAME.zip``, is
unpacked by ``vecbench.datasets.archive`` (members that would land outside the target
are refused) into a temporary folder that is renamed to ``datasets/beir/NAME`` in one
step, and the zip is then deleted. What was unpacked (each file's size and sha256) is
recorded in ``NAME/.vecbench.json``; ``verify_fetched`` checks the files against it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from vecbench._version import __version__
from vecbench.datasets.catalog import Manifest, get_manifest
from vecbench.datasets.checksums import ALGORITHMS, file_digest, new_hashers, remember_digest
from vecbench.errors import ChecksumMismatchError, DatasetError
from vecbench.util.paths import cache_dir
from vecbench.util.progress import NULL, Progress

__all__ = ["fetch", "verify_fetched", "TIMEOUT_S", "FETCH_RECORD"]

TIMEOUT_S = 60.0
"""Socket timeout for connecting and for each read."""

FETCH_RECORD = ".vecbench.json"
"""File inside an unpacked BEIR folder recording where it came from and what was unpacked."""

_CHUNK = 1 << 20
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


def _open(opener: Any, request: urllib.request.Request) -> Any:
    if opener is None:
        return urllib.request.urlopen(request, timeout=TIMEOUT_S)
    if hasattr(opener, "open"):
        return opener.open(request, timeout=TIMEOUT_S)
    return opener(request, timeout=TIMEOUT_S)


def _hash_existing(path: Path) -> dict[str, Any]:
    hashers = new_hashers()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            for h in hashers.values():
                h.update(chunk)
    return hashers


def _hex(hashers: dict[str, Any]) -> dict[str, str]:
    return {name: h.hexdigest() for name, h in hashers.items()}


def _download(manifest: Manifest, part: Path, opener: Any, progress: Progress) -> tuple[dict[str, str], int]:
    """Bring ``part`` to the whole file; returns ({algorithm: hex digest}, size). Keeps the
    part on network errors."""
    offset = part.stat().st_size if part.exists() else 0
    if manifest.size is not None and offset > manifest.size:
        part.unlink()
        offset = 0
    hashers = _hash_existing(part) if offset else new_hashers()
    if manifest.size is not None and offset == manifest.size:
        return _hex(hashers), offset

    headers = {"User-Agent": f"vecbench/{__version__}"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(manifest.url, headers=headers)
    try:
        response = _open(opener, request)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            # Nothing left past our offset: the part is (at least) the whole file.
            return _hex(hashers), offset
        raise DatasetError(
            f"download of {manifest.name} from {manifest.url} failed: HTTP {exc.code}"
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        raise DatasetError(
            f"download of {manifest.name} from {manifest.url} failed: {exc}; rerun to resume"
        ) from None

    with response:
        status = getattr(response, "status", None) or response.getcode()
        mode = "ab"
        if offset and status == 206:
            match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
            if match is None or int(match.group(1)) != offset:
                response.close()  # a range we did not ask for: start over
                return _download_fresh(manifest, part, opener, progress)
        elif offset:
            # 200 to a Range request: the server sends the whole file, so start over.
            mode, offset, hashers = "wb", 0, new_hashers()
        length = response.headers.get("Content-Length")
        expected = offset + int(length) if length is not None and length.isdigit() else manifest.size
        received = offset
        with (
            progress.task(f"download {manifest.name}", total=expected, unit="B") as task,
            open(part, mode) as out,
        ):
            task.advance(offset)
            try:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    for h in hashers.values():
                        h.update(chunk)
                    received += len(chunk)
                    task.advance(len(chunk))
            except OSError as exc:
                raise DatasetError(
                    f"download of {manifest.name} interrupted after {received} bytes ({exc}); rerun to resume"
                ) from None
    if expected is not None and received < expected:
        raise DatasetError(
            f"download of {manifest.name} ended early ({received} of {expected} bytes); rerun to resume"
        )
    return _hex(hashers), received


def _download_fresh(
    manifest: Manifest, part: Path, opener: Any, progress: Progress
) -> tuple[dict[str, str], int]:
    part.unlink(missing_ok=True)
    return _download(manifest, part, opener, progress)


def _mismatch(manifest: Manifest, digests: dict[str, str]) -> str | None:
    """``"<algorithm> <got>, the manifest says <pinned>"`` for the first pinned digest that differs."""
    for algorithm in ALGORITHMS:
        pinned = getattr(manifest, algorithm)
        if pinned is not None and digests[algorithm] != pinned:
            return f"{algorithm} {digests[algorithm]}, the manifest says {pinned}"
    return None


def _download_verified(
    manifest: Manifest, dest: Path, opener: Any, progress: Progress
) -> tuple[dict[str, str], int]:
    """Download to ``dest.part``, check it against the manifest, then rename it to ``dest``."""
    part = dest.with_name(dest.name + ".part")
    resumed = part.exists() and part.stat().st_size > 0
    digests, size = _download(manifest, part, opener, progress)
    if _mismatch(manifest, digests) and resumed:
        # The kept part may be from another version of the file: one clean retry.
        digests, size = _download_fresh(manifest, part, opener, progress)
    problem = _mismatch(manifest, digests)
    if problem:
        part.unlink(missing_ok=True)
        raise ChecksumMismatchError(
            f"{manifest.name}: downloaded file has {problem}; the partial file was deleted"
        )
    if manifest.size is not None and size != manifest.size:
        part.unlink(missing_ok=True)
        raise ChecksumMismatchError(
            f"{manifest.name}: downloaded {size} bytes, the manifest says {manifest.size}"
        )
    os.replace(part, dest)
    for algorithm, hexdigest in digests.items():
        remember_digest(dest, algorithm, hexdigest)  # type: ignore[arg-type]
    return digests, size


def _fetch_info(manifest: Manifest, digests: dict[str, str], size: int) -> dict[str, Any]:
    verified = manifest.verified
    return {
        "name": manifest.name,
        "url": manifest.url,
        **digests,
        "size": size,
        "verified": verified,
        "status": "verified" if verified else "unverified",
        "fetched_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _report_unverified(manifest: Manifest, digests: dict[str, str], size: int) -> None:
    if not manifest.verified:
        print(
            f"vecbench: {manifest.name}: no sha256 or md5 in the manifest, download unverified; "
            f"sha256 {digests['sha256']}, md5 {digests['md5']}, size {size} bytes",
            file=sys.stderr,
        )


def _write_info(path: Path, info: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w") as fh:
        json.dump(info, fh, indent=2)
    os.replace(tmp, path)


def fetch(
    name: str | Manifest,
    *,
    cache: str | os.PathLike[str] | None = None,
    progress: Progress = NULL,
    opener: Any = None,
) -> Path:
    """Download data set ``name`` (a manifest name or a Manifest) and return its local path:
    the file of a vector set, the unpacked folder of a BEIR set.

    ``cache`` overrides the cache root (default ``$VECBENCH_CACHE``); ``opener`` is an
    ``urllib.request.OpenerDirector`` (or a callable like ``urlopen``) used for requests.
    A file already present is returned without downloading once its checksum matches; a
    BEIR folder already present is returned as is (``verify_fetched`` re-checks it). A set
    packaged with vecbench is returned where it is: there is nothing to download.
    """
    manifest = name if isinstance(name, Manifest) else get_manifest(name)
    root = Path(cache).expanduser() if cache is not None else cache_dir()
    if manifest.packaged:
        return manifest.local_path(root)
    if manifest.is_beir:
        return _fetch_beir(manifest, root, progress, opener)
    dest = manifest.local_path(root)
    dest.parent.mkdir(parents=True, exist_ok=True)
    info_path = dest.with_name(dest.name.rsplit(".", 1)[0] + ".json")

    if dest.is_file():
        if not manifest.verified:
            return dest
        pinned = [a for a in ALGORITHMS if getattr(manifest, a) is not None]
        problem = _mismatch(manifest, {a: file_digest(dest, a) if a in pinned else "" for a in ALGORITHMS})
        if problem is None:
            return dest
        raise ChecksumMismatchError(f"{dest}: {problem}; delete the file to fetch again")

    digests, size = _download_verified(manifest, dest, opener, progress)
    _write_info(info_path, _fetch_info(manifest, digests, size))
    _report_unverified(manifest, digests, size)
    return dest


def _beir_root(unpacked: Path) -> Path:
    """The folder holding the collection: the zip's single top folder, or the whole of it."""
    entries = [p for p in unpacked.iterdir() if p.name != "__MACOSX"]
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return unpacked


def _check_beir_layout(root: Path, manifest: Manifest) -> None:
    folders = [root / s for s in manifest.subsets] if manifest.subsets else [root]
    wanted = ("corpus.jsonl", "queries.jsonl", f"qrels/{manifest.split}.tsv")
    missing = [
        (folder / rel).relative_to(root).as_posix()
        for folder in folders
        for rel in wanted
        if not (folder / rel).is_file()
    ]
    if missing:
        raise DatasetError(
            f"{manifest.name}: the archive lacks {', '.join(missing)} "
            "(a BEIR folder has corpus.jsonl, queries.jsonl and qrels/<split>.tsv)"
        )


def _fetch_beir(manifest: Manifest, root: Path, progress: Progress, opener: Any) -> Path:
    from vecbench.datasets.archive import unpack_zip

    target = manifest.local_path(root)
    if target.is_dir():
        return target
    folder = target.parent
    folder.mkdir(parents=True, exist_ok=True)
    archive = folder / manifest.filename
    digests: dict[str, str] | None = None
    if archive.is_file():
        # Left by an earlier fetch whose unpacking failed: reuse it if it still checks out.
        digests = {str(a): file_digest(archive, a) for a in ALGORITHMS}
        if _mismatch(manifest, digests):
            archive.unlink()
            digests = None
    if digests is None:
        digests, size = _download_verified(manifest, archive, opener, progress)
    else:
        size = archive.stat().st_size

    tmp = Path(tempfile.mkdtemp(prefix=f".{manifest.name}.", suffix=".unpacking", dir=folder))
    try:
        try:
            files = unpack_zip(archive, tmp, progress=progress)
            top = _beir_root(tmp)
            _check_beir_layout(top, manifest)
        except DatasetError:
            archive.unlink(missing_ok=True)  # unusable as served: do not keep it around
            raise
        prefix = "" if top == tmp else top.name + "/"
        info = _fetch_info(manifest, digests, size)
        info["files"] = {k[len(prefix) :]: v for k, v in files.items() if k.startswith(prefix)}
        _write_info(top / FETCH_RECORD, info)
        try:
            os.rename(top, target)
        except OSError:
            if not target.is_dir():  # else another fetch of the same set finished first
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    archive.unlink(missing_ok=True)
    _report_unverified(manifest, digests, size)
    return target


def verify_fetched(name: str | Manifest, *, cache: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Re-hash an unpacked BEIR folder against what ``fetch`` recorded when unpacking it
    (a packaged set: its collection checksum against the manifest's sha256).

    Returns ``{"name", "path", "ok", "files", "missing", "changed", "status"}``;
    DatasetError when the set is not fetched or has no record (a folder put there by hand).
    """
    from vecbench.datasets.archive import hash_tree

    manifest = name if isinstance(name, Manifest) else get_manifest(name)
    root = Path(cache).expanduser() if cache is not None else cache_dir()
    target = manifest.local_path(root)
    if not manifest.is_beir:
        raise DatasetError(
            f"{manifest.name}: verify_fetched checks BEIR folders; use `vecbench datasets verify`"
        )
    if manifest.packaged:
        return _verify_packaged(manifest, target)
    if not target.is_dir():
        raise DatasetError(
            f"BEIR data set {manifest.name!r} is not fetched (looked for {target}); "
            f"run `vecbench datasets fetch {manifest.name}`"
        )
    try:
        record = json.loads((target / FETCH_RECORD).read_text(encoding="utf-8"))
        recorded: dict[str, Any] = dict(record["files"])
    except (OSError, ValueError, KeyError, TypeError):
        raise DatasetError(
            f"{target}: no fetch record ({FETCH_RECORD}); delete the folder and run "
            f"`vecbench datasets fetch {manifest.name}` to get a verifiable copy"
        ) from None
    actual = hash_tree(target, sorted(recorded))
    missing = sorted(k for k, v in actual.items() if v is None)
    changed = sorted(k for k, v in actual.items() if v is not None and v != recorded[k])
    return {
        "name": manifest.name,
        "path": str(target),
        "ok": not missing and not changed,
        "files": len(recorded),
        "missing": missing,
        "changed": changed,
        "status": record.get("status"),
    }


def _verify_packaged(manifest: Manifest, target: Path) -> dict[str, Any]:
    from vecbench.rag.beir import load_beir

    # A missing file is a DatasetError from the loader, naming it.
    checksum = load_beir(target, split=manifest.split, title="ignore").checksum
    ok = checksum == manifest.sha256
    return {
        "name": manifest.name,
        "path": str(target),
        "ok": ok,
        "files": 3,  # corpus, queries, qrels/<split>: hashed together, as read
        "missing": [],
        "changed": [] if ok else ["corpus+queries+qrels"],
        "sha256": checksum,
        "status": "packaged",
    }
