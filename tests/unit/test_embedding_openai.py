"""OpenAIEmbedder against a minimal OpenAI-compatible server on 127.0.0.1 (started here)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest
from http_helpers import serve_in_background

from vecbench.embedding import Embedder
from vecbench.embedding.openai_http import EmbeddingAPIError, OpenAIEmbedder

KEY = "sk-test-secret-0123456789"
DIM = 8


def vector(text: str) -> list[float]:
    d = hashlib.sha256(text.encode()).digest()
    return [b / 255 for b in d[:DIM]]


class Server(ThreadingHTTPServer):
    fail_next: list[tuple[int, dict[str, str]]]
    requests: list[dict[str, Any]]


class Handler(BaseHTTPRequestHandler):
    server: Server

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(
            {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
        )
        if self.server.fail_next:
            status, headers = self.server.fail_next.pop(0)
            return self._send(status, {"error": {"message": "try later"}}, headers)
        if self.path != "/v1/embeddings":
            return self._send(404, {"error": "not found"})
        if self.headers.get("Authorization") != f"Bearer {KEY}":
            return self._send(401, {"error": {"message": "bad key"}})
        inputs = body["input"]
        data = [{"object": "embedding", "index": i, "embedding": vector(t)} for i, t in enumerate(inputs)]
        data.reverse()  # servers may answer out of order: the client must sort by index
        tokens = sum(len(t.split()) for t in inputs)
        self._send(
            200,
            {
                "data": data,
                "model": body["model"],
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.setenv("VB_TEST_KEY", KEY)
    srv = Server(("127.0.0.1", 0), Handler)
    srv.fail_next, srv.requests = [], []
    stop = serve_in_background(srv)
    yield srv
    stop()


def make(srv: Server, **kw: Any) -> OpenAIEmbedder:
    url = f"http://127.0.0.1:{srv.server_address[1]}/v1"
    kw.setdefault("backoff_s", 0.001)
    return OpenAIEmbedder(url, "text-embedding-test", api_key_env="VB_TEST_KEY", **kw)


def test_embeds_in_index_order_in_batches(server: Server) -> None:
    e = make(server, batch_size=2)
    texts = ["lift of a wing", "drag", "shock wave angle", "heat transfer"]
    v = e.embed(texts)
    assert v.dtype == np.float32 and v.shape == (4, DIM) and e.dim == DIM
    np.testing.assert_allclose(v, np.asarray([vector(t) for t in texts], dtype=np.float32))
    assert len(server.requests) == 2 and server.requests[0]["body"] == {
        "model": "text-embedding-test",
        "input": texts[:2],
    }
    assert server.requests[0]["auth"] == f"Bearer {KEY}"
    assert e.usage.texts == 4 and e.usage.tokens == 4 + 1 + 3 + 2
    assert e.name == "openai:text-embedding-test"
    assert isinstance(e, Embedder) and len(server.requests) == 2  # dim known now: no probe


def test_known_model_dim_needs_no_request() -> None:
    assert OpenAIEmbedder("http://127.0.0.1:1", "text-embedding-3-small").dim == 1536
    assert OpenAIEmbedder("http://127.0.0.1:1", "text-embedding-3-large", dimensions=256).dim == 256


@pytest.mark.parametrize("status", [429, 503, 500])
def test_retries_then_succeeds(server: Server, status: int) -> None:
    server.fail_next = [(status, {}), (status, {"Retry-After": "0"})]
    e = make(server)
    assert e.embed(["a b"]).shape == (1, DIM)
    assert len(server.requests) == 3 and e.retries == 2


def test_gives_up_after_max_retries_without_leaking_the_key(server: Server) -> None:
    server.fail_next = [(429, {})] * 10
    e = make(server, max_retries=2)
    with pytest.raises(EmbeddingAPIError) as info:
        e.embed(["a"])
    assert info.value.status == 429 and len(server.requests) == 3
    for text in (str(info.value), repr(e), e.name, repr(info.value.__dict__), str(vars(e))):
        assert KEY not in text


def test_no_retry_on_client_error(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VB_TEST_KEY", "wrong")
    with pytest.raises(EmbeddingAPIError) as info:
        make(server).embed(["a"])
    assert info.value.status == 401 and len(server.requests) == 1
    assert "wrong" not in str(info.value)


def test_connection_errors_are_retried_then_raised(closed_port: int) -> None:
    e = OpenAIEmbedder(f"http://127.0.0.1:{closed_port}/v1", "m", max_retries=2, backoff_s=0.001)
    with pytest.raises(EmbeddingAPIError, match="3 attempt"):
        e.embed(["a"])
    assert e.retries == 2


def test_retry_after_is_respected() -> None:
    e = OpenAIEmbedder("http://127.0.0.1:1", "m", backoff_s=100.0, max_backoff_s=5.0)
    assert e._delay(0, "2") == 2.0
    assert e._delay(3, "999") == 5.0  # capped
    assert 0.0 <= e._delay(10, None) <= 5.0


def test_pluggable_tokenizer(server: Server) -> None:
    e = make(server, tokenizer=lambda s: len(s))
    assert e.count_tokens("abcd") == 4 and server.requests == []
    e2 = make(server)
    assert e2.count_tokens("three word text") == 3  # from the server's usage
