"""A server killed in the middle of a run: its cells fail with a clear error, the run goes
on with the other stores, and the results file stays valid. Uses a real engine (Redis Stack,
Elasticsearch, OpenSearch) started for the test (its own cache and port), killed with
SIGKILL from another thread."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

import vecbench
from vecbench.errors import MissingDependencyError
from vecbench.results import read_results
from vecbench.services import _proc, get_service, start, stop

pytestmark = pytest.mark.slow


def _kill_after_first_record(out: Path, pid: int, deadline_s: float = 120.0) -> threading.Thread:
    def watch() -> None:
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            if out.exists() and out.read_text().count("\n") >= 1:
                os.killpg(pid, signal.SIGKILL)
                return
            time.sleep(0.01)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


# store -> (its client module, store config beside the url, its three cells, base vectors)
FAULT_CASES = {
    "redis": (
        "redis",
        {"socket_timeout_s": 5},
        [{"type": "flat"}, {"type": "hnsw", "search": {"ef_runtime": [10, 40]}}],
        20_000,
    ),
    "elasticsearch": (
        "elasticsearch",
        {"request_timeout_s": 5},
        [{"type": "flat"}, {"type": "hnsw", "search": {"num_candidates": [10, 40]}}],
        5_000,
    ),
    "opensearch": (
        "opensearchpy",
        {"request_timeout_s": 5},
        [{"type": "flat"}, {"type": "hnsw", "search": {"ef_search": [10, 40]}}],
        5_000,
    ),
}


@pytest.mark.parametrize("store", sorted(FAULT_CASES))
def test_server_killed_mid_run(store, tmp_path, monkeypatch, vb_cache):
    module, extra_config, indexes, n = FAULT_CASES[store]
    pytest.importorskip(module)
    svc = get_service(store)
    try:
        svc.check_installed()
    except MissingDependencyError as exc:
        pytest.skip(str(exc))
    monkeypatch.setenv(svc.port_var, str(_proc.free_port()))
    state = start(svc).state
    out = tmp_path / "results.jsonl"
    config = {
        "k": 10,
        "datasets": [{"name": "synthetic", "params": {"n": n, "dim": 32, "nq": 200, "metric": "cosine"}}],
        "stores": {
            store: {"config": {"url": state.url, **extra_config}, "indexes": indexes},
            "faiss": {"indexes": [{"type": "flat"}]},
        },
    }
    watcher = _kill_after_first_record(out, state.pid)
    try:
        vecbench.run(config, out=out)
    finally:
        watcher.join(timeout=5)
        stop(svc)

    records = read_results(out)  # parses: no torn or foreign line
    by_store: dict[str, list[dict]] = {}
    for r in records:
        by_store.setdefault(r["store"]["name"], []).append(r)
    assert [r["status"] for r in by_store[store]][0] == "ok"
    failed = [r for r in by_store[store] if r["status"] == "failed"]
    assert failed, "the cells after the kill must fail"
    for r in failed:
        assert r["error"]["type"] and r["error"]["message"]
        assert r["quality"] is None and r["latency"] is None and r["qps"] is None
    assert len(by_store[store]) == 3  # every cell is recorded, as ok or failed
    assert [r["status"] for r in by_store["faiss"]] == ["ok"]  # the run went on


def test_weaviate_killed_mid_run(tmp_path, monkeypatch, vb_cache):
    pytest.importorskip("weaviate")
    from vecbench.services.weaviate import server_binary

    if not server_binary().exists():
        pytest.skip(f"no {server_binary()}: scripts/install-engines.sh weaviate builds it")
    svc = get_service("weaviate")
    monkeypatch.setenv(svc.port_var, str(_proc.free_port()))
    monkeypatch.setenv("VECBENCH_WEAVIATE_GRPC_PORT", str(_proc.free_port()))
    state = start(svc).state
    out = tmp_path / "results.jsonl"
    config = {
        "k": 10,
        "datasets": [{"name": "synthetic", "params": {"n": 5_000, "dim": 32, "nq": 100, "metric": "cosine"}}],
        "stores": {
            "weaviate": {
                "config": {"url": state.url, "timeout_s": 5},
                "indexes": [{"type": "flat"}, {"type": "hnsw", "search": {"ef": [16, 64]}}],
            },
            "faiss": {"indexes": [{"type": "flat"}]},
        },
    }
    watcher = _kill_after_first_record(out, state.pid)
    try:
        vecbench.run(config, out=out)
    finally:
        watcher.join(timeout=5)
        stop(svc)
    records = read_results(out)
    weaviate = [r for r in records if r["store"]["name"] == "weaviate"]
    assert weaviate[0]["status"] == "ok" and len(weaviate) == 3
    failed = [r for r in weaviate if r["status"] == "failed"]
    assert failed and all(r["error"]["message"] and r["qps"] is None for r in failed)
    assert [r["status"] for r in records if r["store"]["name"] == "faiss"] == ["ok"]
