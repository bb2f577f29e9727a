"""fetch() against a local HTTP server on 127.0.0.1 (never the internet): resume, checksums, Range."""

from __future__ import annotations

import hashlib
import json

import pytest
from http_helpers import FileServer

from vecbench.datasets.catalog import Manifest
from vecbench.datasets.fetch import fetch
from vecbench.errors import ChecksumMismatchError, DatasetError
from vecbench.metrics import Metric

PAYLOAD = bytes(range(256)) * 400 + b"tail"  # 102,404 bytes
SHA = hashlib.sha256(PAYLOAD).hexdigest()
SIZE = len(PAYLOAD)


pytestmark = pytest.mark.usefixtures("vb_cache")


@pytest.fixture
def url(file_server: FileServer) -> str:
    """Where ``file_server`` hands out ``PAYLOAD``."""
    return file_server.serve("/tiny.hdf5", PAYLOAD)


def manifest(url, sha256=SHA, size=SIZE):
    return Manifest(
        name="tiny",
        url=url,
        dim=4,
        n=10,
        nq=2,
        metric=Metric.EUCLIDEAN,
        format="ann-benchmarks-hdf5",
        sha256=sha256,
        size=size,
    )


def test_download_verifies_and_replaces(file_server, url, opener, vb_cache):
    path = fetch(manifest(url), opener=opener)
    assert path == vb_cache / "datasets" / "tiny.hdf5"
    assert path.read_bytes() == PAYLOAD
    assert not path.with_name("tiny.hdf5.part").exists()
    info = json.loads(path.with_name("tiny.json").read_text())
    assert info["verified"] is True and info["sha256"] == SHA
    assert file_server.ranges == [None]
    # Present and verified: no second download.
    assert fetch(manifest(url), opener=opener) == path
    assert file_server.ranges == [None]


def test_resume_sends_range_and_appends(file_server, url, opener, vb_cache):
    folder = vb_cache / "datasets"
    folder.mkdir(parents=True)
    (folder / "tiny.hdf5.part").write_bytes(PAYLOAD[:40_000])
    path = fetch(manifest(url), opener=opener)
    assert path.read_bytes() == PAYLOAD
    assert file_server.ranges == ["bytes=40000-"]


def test_server_ignoring_range_restarts(file_server, url, opener, vb_cache):
    file_server.honor_range = False
    folder = vb_cache / "datasets"
    folder.mkdir(parents=True)
    (folder / "tiny.hdf5.part").write_bytes(PAYLOAD[:40_000])
    path = fetch(manifest(url), opener=opener)
    assert path.read_bytes() == PAYLOAD  # not 40,000 bytes duplicated in front
    assert file_server.ranges == ["bytes=40000-"]


def test_complete_part_is_only_verified(file_server, url, opener, vb_cache):
    folder = vb_cache / "datasets"
    folder.mkdir(parents=True)
    (folder / "tiny.hdf5.part").write_bytes(PAYLOAD)
    assert fetch(manifest(url), opener=opener).read_bytes() == PAYLOAD
    assert file_server.ranges == []
    # Without a pinned size the server answers 416 to a range past the end.
    (folder / "tiny.hdf5").unlink()
    (folder / "tiny.hdf5.part").write_bytes(PAYLOAD)
    assert fetch(manifest(url, size=None), opener=opener).read_bytes() == PAYLOAD


def test_checksum_mismatch_deletes_part(url, opener, vb_cache):
    with pytest.raises(ChecksumMismatchError):
        fetch(manifest(url, sha256="0" * 64), opener=opener)
    folder = vb_cache / "datasets"
    assert not (folder / "tiny.hdf5.part").exists() and not (folder / "tiny.hdf5").exists()


def test_stale_part_is_retried_from_scratch(file_server, url, opener, vb_cache):
    folder = vb_cache / "datasets"
    folder.mkdir(parents=True)
    (folder / "tiny.hdf5.part").write_bytes(b"x" * 1000)  # bytes of some other file
    path = fetch(manifest(url), opener=opener)
    assert path.read_bytes() == PAYLOAD
    assert file_server.ranges == ["bytes=1000-", None]


def test_unverified_manifest_records_and_prints_sha(url, opener, tmp_path, capsys):
    path = fetch(manifest(url, sha256=None, size=None), opener=opener)
    assert path.read_bytes() == PAYLOAD
    info = json.loads(path.with_name("tiny.json").read_text())
    assert info["verified"] is False and info["status"] == "unverified" and info["sha256"] == SHA
    assert SHA in capsys.readouterr().err


def test_present_file_with_wrong_sha_raises(url, opener, vb_cache):
    folder = vb_cache / "datasets"
    folder.mkdir(parents=True)
    (folder / "tiny.hdf5").write_bytes(b"tampered")
    with pytest.raises(ChecksumMismatchError, match="delete"):
        fetch(manifest(url), opener=opener)


def test_http_and_connection_errors_are_dataset_errors(file_server, url, opener):
    with pytest.raises(DatasetError, match="404"):
        fetch(manifest(url.replace("tiny", "missing")), opener=opener)
    file_server.close()
    with pytest.raises(DatasetError, match="failed"):
        fetch(manifest(url), opener=opener)


def test_cache_argument_overrides_root(url, opener, tmp_path):
    path = fetch(manifest(url), cache=tmp_path / "elsewhere", opener=opener)
    assert path == tmp_path / "elsewhere" / "datasets" / "tiny.hdf5"
