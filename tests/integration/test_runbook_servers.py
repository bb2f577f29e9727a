"""Runbooks against real servers: pgvector and Redis started by ``vecbench services``.

Each store runs when its variable is set (``eval "$(vecbench services up pgvector redis)"``;
``scripts/test.sh`` does it) and its client is installed; otherwise it skips with the reason.
The exact index (a sequential scan, FLAT) must find every live neighbour at every step and
never return a deleted id; HNSW must stay close, and deletes must be visible at once (both
engines delete synchronously).

    VECBENCH_PG_DSN=... VECBENCH_REDIS_URL=... pytest tests/integration/test_runbook_servers.py
"""

from __future__ import annotations

import importlib.util
import os

import pytest

import vecbench

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("vb_cache")]

# store -> (variable its adapter reads, client module, HNSW search grid)
ENGINES = {
    "pgvector": ("VECBENCH_PG_DSN", "psycopg", {"ef_search": [16, 100]}),
    "redis": ("VECBENCH_REDIS_URL", "redis", {"ef_runtime": [16, 100]}),
}
PARAMS = {"n": 3000, "dim": 16, "nq": 40, "seed": 4}
BOOK = {
    "name": "server-churn",
    "steps": [
        {"insert": {"start": 0, "end": 1500}},
        {"wait": "ready"},
        "search",
        {"insert": {"start": 1500, "end": 2500}},
        {"delete": {"start": 0, "end": 800}},
        {"wait": "ready"},
        "search",
        {"replace": {"start": 800, "end": 1200, "from": 2500}},
        {"insert": {"start": 0, "end": 300}},
        {"delete": {"start": 1500, "end": 2000}},
        {"wait": "ready"},
        "search",
    ],
}
LIVE = [1500, 1700, 1500]


def _need(store: str) -> None:
    env_var, module, _ = ENGINES[store]
    if not os.environ.get(env_var):
        pytest.skip(f"set {env_var} (`vecbench services up {store}`)")
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed (pip install 'vecbench[{store}]')")


@pytest.mark.parametrize("store", sorted(ENGINES))
def test_exact_index_finds_every_live_neighbour(store, tmp_path):
    _need(store)
    results = vecbench.benchmark(
        "synthetic",
        [store],
        index="flat",
        dataset_params=PARAMS,
        runbook=BOOK,
        repeats=1,
        out=tmp_path / "r.jsonl",
    )
    (r,) = results
    assert r.ok, r.error
    assert [s["live"] for s in r.searches] == LIVE
    assert r.recalls == [1.0] * 3
    assert r.record["summary"]["returned_not_live"] == 0 and r.record["summary"]["queries_short"] == 0
    assert r.record["timings"]["deleted"] == 1300 and r.record["timings"]["replaced"] == 400


@pytest.mark.parametrize("store", sorted(ENGINES))
def test_hnsw_through_inserts_deletes_and_replaces(store):
    _need(store)
    results = vecbench.benchmark(
        "synthetic",
        [store],
        index="hnsw",
        search=ENGINES[store][2],
        dataset_params=PARAMS,
        runbook=BOOK,
        repeats=1,
    )
    assert len(results) == 2
    for r in results:
        assert r.ok, r.error
        assert r.record["summary"]["returned_not_live"] == 0  # deleted ids are gone at once
        writes = [s for s in r.steps if s["op"] in ("insert", "delete", "replace")]
        assert all(s["vectors_per_s"] > 0 for s in writes)
    wide = results[1]
    assert min(wide.recalls) >= 0.95, wide.recalls
