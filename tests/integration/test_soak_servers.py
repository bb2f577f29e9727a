"""A few seconds of soak against real pgvector and redis servers: the record's schema, with the
server's own figures when ``vecbench services`` started the server on this machine.

Runs where the server's env var is set (``vecbench services up pgvector redis`` prints them):
VECBENCH_PG_DSN for pgvector, VECBENCH_REDIS_URL for redis. Schema only, never timings.
"""

from __future__ import annotations

import os

import pytest

from vecbench import registry
from vecbench.engines import ENGINES
from vecbench.load.soak import SAMPLE_FIELDS
from vecbench.load.soak_run import SoakPlan, run_soak
from vecbench.services.rss import service_pid

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="reads /proc")


@pytest.mark.parametrize("store", ["pgvector", "redis"])
def test_a_short_soak_against_a_server(store: str) -> None:
    env = ENGINES[store].env_var
    if not os.environ.get(env):
        pytest.skip(f"{env} is not set (no {store} server)")
    if not registry.client_installed(registry.store_class(store)):
        pytest.skip(f"the {store} client is not installed")
    plan = SoakPlan(
        store,
        concurrency=2,
        duration_s=3.0,
        sample_every_s=0.5,
        settle_s=0.5,
        warmup_s=0.5,
        n=500,
        dim=8,
        nq=20,
    )
    local = service_pid(store, {})  # a server vecbench services started here: its figures are read
    record = run_soak(plan)
    assert record["status"] == "ok", record["error"]
    assert record["load"]["errors"] == 0 and record["load"]["queries"] > 0
    measured = [s for s in record["samples"] if 0 <= s["t_s"] <= plan.duration_s]
    assert len(measured) >= 4 and all(set(s) == set(SAMPLE_FIELDS) for s in measured)
    assert all(s["client_processes"] >= 3 and s["workers_fds"] > 0 for s in measured)
    checks = {c["check"]: c for c in record["verdict"]["checks"]}
    assert checks["errors"]["status"] == "ok"
    if local is None:
        assert record["server"] is None
        assert checks["server_memory"]["status"] == "skipped"
        return
    assert record["server"] == {"pid": local, "started_by": "vecbench services"}
    for s in measured:
        assert s["server_processes"] >= 1 and s["server_rss_bytes"] > 0 and s["server_anon_bytes"] > 0
        assert s["server_fds"] is not None and s["server_fds"] > 0  # root, or the server's own user
    series = {"server_rss_bytes", "server_pss_bytes", "server_anon_bytes", "server_fds", "server_processes"}
    assert series <= set(record["slopes"])
    assert checks["server_memory"]["series"] == "server_anon_bytes"  # measured, not skipped
    assert checks["server_memory"]["status"] in ("ok", "failed")
