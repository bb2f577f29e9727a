"""Download manifest data sets into the cache, resumably, verified by sha256.

    from vecbench.datasets.fetch import fetch
    path = fetch("glove-25-angular")   # $VECBENCH_CACHE/datasets/glove-25-angular.hdf5

Bytes go to ``NAME.hdf5.part``; an interrupted download resumes from the part's size with
an HTTP Range request (a server that ignores Range is detected by its 200 answer and the
download restarts from zero). The part becomes ``NAME.hdf5`` (os.replace) only after its
sha256 matches the manifest; a mismatch deletes the part and raises ChecksumMismatchError.
A manifest without a sha256 downloads "unverified": the digest is computed, printed and
recorded in ``NAME.json`` next to the file, so it can be pinned in the manifest.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from vecbench._version import __version__
from vecbench.datasets.catalog import Manifest, get_manifest
from vecbench.datasets.checksums import file_sha256, remember_sha256
from vecbench.errors import ChecksumMismatchError, DatasetError
from vecbench.paths import cache_dir
from vecbench.progress import NULL, Progress

__all__ = ["fetch", "TIMEOUT_S"]

TIMEOUT_S = 60.0
"""Socket timeout for connecting and for each read."""

_CHUNK = 1 << 20
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


def _open(opener: Any, request: urllib.request.Request) -> Any:
    if opener is None:
        return urllib.request.urlopen(request, timeout=TIMEOUT_S)
    if hasattr(opener, "open"):
        return opener.open(request, timeout=TIMEOUT_S)
    return opener(request, timeout=TIMEOUT_S)


def _hash_existing(path: Path) -> Any:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest


def _download(manifest: Manifest, part: Path, opener: Any, progress: Progress) -> tuple[str, int]:
    """Bring ``part`` to the whole file; returns (sha256, size). Keeps the part on network errors."""
    offset = part.stat().st_size if part.exists() else 0
    if manifest.size is not None and offset > manifest.size:
        part.unlink()
        offset = 0
    digest = _hash_existing(part) if offset else hashlib.sha256()
    if manifest.size is not None and offset == manifest.size:
        return digest.hexdigest(), offset

    headers = {"User-Agent": f"vecbench/{__version__}"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(manifest.url, headers=headers)
    try:
        response = _open(opener, request)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            # Nothing left past our offset: the part is (at least) the whole file.
            return digest.hexdigest(), offset
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
            mode, offset, digest = "wb", 0, hashlib.sha256()
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
                    digest.update(chunk)
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
    return digest.hexdigest(), received


def _download_fresh(manifest: Manifest, part: Path, opener: Any, progress: Progress) -> tuple[str, int]:
    part.unlink(missing_ok=True)
    return _download(manifest, part, opener, progress)


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
    """Download data set ``name`` (a manifest name or a Manifest) and return its local path.

    ``cache`` overrides the cache root (default ``$VECBENCH_CACHE``); ``opener`` is an
    ``urllib.request.OpenerDirector`` (or a callable like ``urlopen``) used for requests.
    A file already present is returned without downloading once its sha256 matches.
    """
    manifest = name if isinstance(name, Manifest) else get_manifest(name)
    folder = (Path(cache).expanduser() if cache is not None else cache_dir()) / "datasets"
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / manifest.filename
    part = dest.with_name(dest.name + ".part")
    info_path = dest.with_name(dest.name.rsplit(".", 1)[0] + ".json")

    if dest.is_file():
        if manifest.sha256 is None:
            return dest
        actual = file_sha256(dest)
        if actual == manifest.sha256:
            return dest
        raise ChecksumMismatchError(
            f"{dest}: sha256 {actual} does not match the manifest's {manifest.sha256}; delete the file to fetch again"
        )

    resumed = part.exists() and part.stat().st_size > 0
    sha, size = _download(manifest, part, opener, progress)
    if manifest.sha256 is not None and sha != manifest.sha256 and resumed:
        # The kept part may be from another version of the file: one clean retry.
        sha, size = _download_fresh(manifest, part, opener, progress)
    if manifest.sha256 is not None and sha != manifest.sha256:
        part.unlink(missing_ok=True)
        raise ChecksumMismatchError(
            f"{manifest.name}: downloaded file has sha256 {sha}, the manifest says {manifest.sha256}; "
            "the partial file was deleted"
        )
    if manifest.size is not None and size != manifest.size:
        part.unlink(missing_ok=True)
        raise ChecksumMismatchError(
            f"{manifest.name}: downloaded {size} bytes, the manifest says {manifest.size}"
        )
    os.replace(part, dest)
    remember_sha256(dest, sha)
    verified = manifest.sha256 is not None
    _write_info(
        info_path,
        {
            "name": manifest.name,
            "url": manifest.url,
            "sha256": sha,
            "size": size,
            "verified": verified,
            "status": "verified" if verified else "unverified",
            "fetched_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
    )
    if not verified:
        print(
            f"vecbench: {manifest.name}: no sha256 in the manifest, download unverified; "
            f"sha256 {sha}, size {size} bytes",
            file=sys.stderr,
        )
    return dest
