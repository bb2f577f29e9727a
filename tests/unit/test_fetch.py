"""fetch() against a local HTTP server on 127.0.0.1 (never the internet): resume, checksums, Range."""

from __future__ import annotations

import hashlib
import json
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from vecbench.datasets.catalog import Manifest
from vecbench.datasets.fetch import fetch
from vecbench.errors import ChecksumMismatchError, DatasetError
from vecbench.metrics import Metric

PAYLOAD = bytes(range(256)) * 400 + b"tail"  # 102,404 bytes
SHA = hashlib.sha256(PAYLOAD).hexdigest()
SIZE = len(PAYLOAD)


class Server:
    def __init__(self) -> None:
        self.payload = PAYLOAD
        self.honor_range = True
        self.requests: list[str | None] = []  # the Range header of each request
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_GET(self):
                rng = self.headers.get("Range")
                server.requests.append(rng)
                if self.path != "/tiny.hdf5":
                    self.send_error(404)
                    return
                body, start = server.payload, 0
                if rng and server.honor_range:
                    start = int(rng.removeprefix("bytes=").split("-")[0])
                    if start >= len(body):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(body)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                chunk = body[start:]
                self.send_header("Content-Length", str(len(chunk)))
                self.end_headers()
                self.wfile.write(chunk)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/tiny.hdf5"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    srv = Server()
    yield srv
    srv.close()


@pytest.fixture
def opener():
    # No proxies: a proxy from the environment must never see (or reroute) these requests.
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VECBENCH_CACHE", str(tmp_path / "cache"))


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


def test_download_verifies_and_replaces(server, opener, tmp_path):
    path = fetch(manifest(server.url), opener=opener)
    assert path == tmp_path / "cache" / "datasets" / "tiny.hdf5"
    assert path.read_bytes() == PAYLOAD
    assert not path.with_name("tiny.hdf5.part").exists()
    info = json.loads(path.with_name("tiny.json").read_text())
    assert info["verified"] is True and info["sha256"] == SHA
    assert server.requests == [None]
    # Present and verified: no second download.
    assert fetch(manifest(server.url), opener=opener) == path
    assert server.requests == [None]


def test_resume_sends_range_and_appends(server, opener, tmp_path):
    folder = tmp_path / "cache" / "datasets"
    folder.mkdir(parents=True)
    (folder / "tiny.hdf5.part").write_bytes(PAYLOAD[:40_000])
    path = fetch(manifest(server.url), opener=opener)
    assert path.read_bytes() == PAYLOAD
    assert server.requests == ["bytes=40000-"]


def test_server_ignoring_range_restarts(server, opener, tmp_path):
    server.honor_range = False
    folder = tmp_path / "cache" / "datasets"
    folder.mkdir(parents=True)
    (folder / "tiny.hdf5.part").write_bytes(PAYLOAD[:40_000])
    path = fetch(manifest(server.url), opener=opener)
    assert path.read_bytes() == PAYLOAD  # not 40,000 bytes duplicated in front
    assert server.requests == ["bytes=40000-"]


def test_complete_part_is_only_verified(server, opener, tmp_path):
    folder = tmp_path / "cache" / "datasets"
    folder.mkdir(parents=True)
    (folder / "tiny.hdf5.part").write_bytes(PAYLOAD)
    assert fetch(manifest(server.url), opener=opener).read_bytes() == PAYLOAD
    assert server.requests == []
    # Without a pinned size the server answers 416 to a range past the end.
    (folder / "tiny.hdf5").unlink()
    (folder / "tiny.hdf5.part").write_bytes(PAYLOAD)
    assert fetch(manifest(server.url, size=None), opener=opener).read_bytes() == PAYLOAD


def test_checksum_mismatch_deletes_part(server, opener, tmp_path):
    with pytest.raises(ChecksumMismatchError):
        fetch(manifest(server.url, sha256="0" * 64), opener=opener)
    folder = tmp_path / "cache" / "datasets"
    assert not (folder / "tiny.hdf5.part").exists() and not (folder / "tiny.hdf5").exists()


def test_stale_part_is_retried_from_scratch(server, opener, tmp_path):
    folder = tmp_path / "cache" / "datasets"
    folder.mkdir(parents=True)
    (folder / "tiny.hdf5.part").write_bytes(b"x" * 1000)  # bytes of some other file
    path = fetch(manifest(server.url), opener=opener)
    assert path.read_bytes() == PAYLOAD
    assert server.requests == ["bytes=1000-", None]


def test_unverified_manifest_records_and_prints_sha(server, opener, tmp_path, capsys):
    path = fetch(manifest(server.url, sha256=None, size=None), opener=opener)
    assert path.read_bytes() == PAYLOAD
    info = json.loads(path.with_name("tiny.json").read_text())
    assert info["verified"] is False and info["status"] == "unverified" and info["sha256"] == SHA
    assert SHA in capsys.readouterr().err


def test_present_file_with_wrong_sha_raises(server, opener, tmp_path):
    folder = tmp_path / "cache" / "datasets"
    folder.mkdir(parents=True)
    (folder / "tiny.hdf5").write_bytes(b"tampered")
    with pytest.raises(ChecksumMismatchError, match="delete"):
        fetch(manifest(server.url), opener=opener)


def test_http_and_connection_errors_are_dataset_errors(server, opener):
    with pytest.raises(DatasetError, match="404"):
        fetch(manifest(server.url.replace("tiny", "missing")), opener=opener)
    server.close()
    with pytest.raises(DatasetError, match="failed"):
        fetch(manifest(server.url), opener=opener)
    server.close = lambda: None  # already closed for the fixture's teardown


def test_cache_argument_overrides_root(server, opener, tmp_path):
    path = fetch(manifest(server.url), cache=tmp_path / "elsewhere", opener=opener)
    assert path == tmp_path / "elsewhere" / "datasets" / "tiny.hdf5"
