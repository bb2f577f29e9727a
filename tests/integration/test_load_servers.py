"""Load tests against real servers: every worker process opens its own connection and attaches.

Runs where the server's env var is set (``vecbench services up`` prints them):
VECBENCH_PG_DSN for pgvector, VECBENCH_REDIS_URL for redis, VECBENCH_ES_URL for elasticsearch,
VECBENCH_OPENSEARCH_URL for opensearch.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from vecbench import registry
from vecbench.load import LoadPlan, arrival_schedule, measure_load
from vecbench.spec import CollectionSpec

N, DIM, NQ, K = 1000, 16, 30, 10
SERVERS = {
    "pgvector": ("VECBENCH_PG_DSN", "dsn"),
    "redis": ("VECBENCH_REDIS_URL", "url"),
    "elasticsearch": ("VECBENCH_ES_URL", "url"),
    "opensearch": ("VECBENCH_OPENSEARCH_URL", "url"),
}


def _config(name: str) -> dict[str, Any]:
    env, key = SERVERS[name]
    if not os.environ.get(env):
        pytest.skip(f"{env} is not set (no {name} server)")
    if not registry.client_installed(registry.store_class(name)):
        pytest.skip(f"the {name} client is not installed")
    return {key: os.environ[env]}


@pytest.fixture(params=sorted(SERVERS))
def server(
    request: pytest.FixtureRequest,
) -> Iterator[tuple[str, dict[str, Any], dict[str, Any], np.ndarray]]:
    name = request.param
    config = _config(name)
    rng = np.random.default_rng(0)
    base = rng.normal(size=(N, DIM)).astype(np.float32)
    queries = rng.normal(size=(NQ, DIM)).astype(np.float32)
    spec = CollectionSpec(f"vbload_{os.getpid()}_{secrets.token_hex(3)}", DIM, "euclidean", "hnsw")
    with registry.get_store(name, config) as store:
        store.create(spec)
        store.upsert(np.arange(N), base)
        store.wait_ready(timeout_s=120)
        try:
            yield name, config, store.share(), queries
        finally:
            store.drop()


def test_closed_and_open_loop_against_a_server(
    server: tuple[str, dict[str, Any], dict[str, Any], np.ndarray],
) -> None:
    name, config, handle, queries = server
    plan = LoadPlan(
        concurrency=(1, 2), rates=(50,), duration_s=0.8, warmup_s=0.2, arrival="uniform", rate_workers=2
    )
    section = measure_load(handle, name, config, queries, K, {}, plan)
    for level in section["closed_loop"]["levels"]:
        assert level["status"] == "ok", level["error"]
        assert level["queries"] > 0 and level["errors"] == 0
        share = level["client_cpu_share"]  # of the machine's cores
        assert level["qps"] and 0 < share <= 1  # measured (a figure, not None or zero)
    (row,) = section["open_loop"]["rates"]
    assert row["status"] == "ok", row["error"]
    due = arrival_schedule(50, plan.duration_s, "uniform", plan.seed, warmup_s=plan.warmup_s)
    scheduled = int((due >= plan.warmup_s * 1e9).sum())
    assert row["sent"] == row["completed"] == scheduled == 40
    assert row["errors"] == 0 and row["p99_ms"]  # measured
