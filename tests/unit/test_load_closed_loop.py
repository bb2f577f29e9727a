"""Closed-loop load against real FAISS and bruteforce stores, each worker in its own process."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from vecbench.adapters.bruteforce import BruteForceStore
from vecbench.errors import ConfigError, InvalidVectorError, StoreError
from vecbench.load import LoadPlan, LoadRunner, measure_load, query_order
from vecbench.registry import get_store
from vecbench.spec import CollectionSpec

N, DIM, NQ, K = 2000, 16, 40, 10
FAST = {"duration_s": 0.5, "warmup_s": 0.1}


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(N, DIM)).astype(np.float32), rng.normal(size=(NQ, DIM)).astype(np.float32)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    return _data()


def _owner(name: str, index_type: str, base: np.ndarray) -> Iterator[tuple[Any, dict[str, Any]]]:
    with get_store(name, {}) as store:
        store.create(CollectionSpec(f"load_{index_type}", dim=DIM, metric="euclidean", index_type=index_type))
        store.upsert(np.arange(N), base)
        store.wait_ready()
        yield store, store.share()


@pytest.fixture(scope="module")
def bruteforce(data: tuple[np.ndarray, np.ndarray]) -> Iterator[tuple[Any, dict[str, Any]]]:
    yield from _owner("bruteforce", "flat", data[0])


class FailsInWorkerOne(BruteForceStore):
    """Load-generator test double: the real bruteforce store, whose attach fails in worker 1 only."""

    def attach(self, handle: Any) -> None:
        if multiprocessing.current_process().name.endswith("-1"):
            raise StoreError("worker 1 cannot reach the collection")
        super().attach(handle)


class Slow(BruteForceStore):
    """Load-generator test double: the real bruteforce store, 50 ms slower per search."""

    def search(self, query: Any, k: int) -> np.ndarray:
        time.sleep(0.05)
        return super().search(query, k)


@pytest.mark.parametrize(
    ("name", "index_type"), [("faiss", "flat"), ("faiss", "hnsw"), ("bruteforce", "flat")]
)
def test_every_level_is_measured(name: str, index_type: str, data: tuple[np.ndarray, np.ndarray]) -> None:
    if name == "faiss":
        pytest.importorskip("faiss")
    base, queries = data
    search = {"ef_search": 32} if index_type == "hnsw" else {}
    for store, handle in _owner(name, index_type, base):
        plan = LoadPlan(concurrency=(1, 2), **FAST)
        section = measure_load(handle, name, {}, queries, K, search, plan)
        assert section["open_loop"] is None and section["rate_sweep"] is None
        closed = section["closed_loop"]
        assert (closed["duration_s"], closed["warmup_s"], closed["seed"]) == (0.5, 0.1, 0)
        assert [lv["workers"] for lv in closed["levels"]] == [1, 2]
        for level in closed["levels"]:
            assert level["status"] == "ok", level["error"]
            assert level["error"] is None
            assert level["queries"] > 0 and level["errors"] == 0 and level["error_types"] == {}
            assert level["qps"]  # measured (a figure, not None or zero)
            percentiles = [level[p] for p in ("p50_ms", "p95_ms", "p99_ms", "max_ms")]
            assert all(percentiles) and percentiles == sorted(percentiles)  # consistent, not a speed
            share = level["client_cpu_share"]  # of the machine's cores
            assert level["client_cpu_s"] and 0 < share <= 1
        assert store.search(queries[0], K).shape == (K,)  # the owner's collection is untouched


def test_each_worker_has_its_own_reproducible_query_order(
    bruteforce: tuple[Any, dict[str, Any]], data: tuple[np.ndarray, np.ndarray]
) -> None:
    _, handle = bruteforce
    heads = []
    for _ in range(2):
        plan = LoadPlan(concurrency=(2,), seed=11, **FAST)
        with LoadRunner(handle, "bruteforce", {}, data[1], K, {}, plan) as run:
            row, results = run.closed_level_results(2)
        assert row["status"] == "ok"
        heads.append({r["worker"]: r["order_head"] for r in results})
    assert heads[0] == heads[1]  # same seed, same orders
    assert heads[0][0] != heads[0][1]  # workers differ
    for worker, head in heads[0].items():
        assert head == query_order(11, worker, NQ, len(head)).tolist()


def test_a_failed_level_is_recorded_and_the_others_still_run(
    bruteforce: tuple[Any, dict[str, Any]], data: tuple[np.ndarray, np.ndarray]
) -> None:
    _, handle = bruteforce
    plan = LoadPlan(concurrency=(1, 2, 1), **FAST)
    levels = measure_load(handle, "bruteforce", {}, data[1], K, {}, plan, store_factory=FailsInWorkerOne)[
        "closed_loop"
    ]["levels"]
    assert [lv["status"] for lv in levels] == ["ok", "failed", "ok"]
    failed = levels[1]
    assert failed["error"]["type"] == "StoreError"
    assert "worker 1 cannot reach the collection" in failed["error"]["message"]
    assert failed["qps"] is None and failed["p99_ms"] is None and failed["queries"] is None


def test_a_handle_whose_files_are_gone_fails_the_level(data: tuple[np.ndarray, np.ndarray]) -> None:
    for store, handle in _owner("bruteforce", "flat", data[0]):
        store.drop()  # the owner removes its shared files
        plan = LoadPlan(concurrency=(1,), **FAST)
        (level,) = measure_load(handle, "bruteforce", {}, data[1], K, {}, plan)["closed_loop"]["levels"]
        assert level["status"] == "failed" and level["error"]["type"] == "StoreError"
        assert "attach" in level["error"]["message"]


def test_a_duration_shorter_than_one_request_is_refused(
    bruteforce: tuple[Any, dict[str, Any]], data: tuple[np.ndarray, np.ndarray]
) -> None:
    _, handle = bruteforce
    plan = LoadPlan(concurrency=(1,), duration_s=0.01, warmup_s=0)
    with pytest.raises(ConfigError, match="shorter than one request"):
        measure_load(handle, "bruteforce", {}, data[1], K, {}, plan, store_factory=Slow)


def test_bad_arguments_raise_typed_errors(
    bruteforce: tuple[Any, dict[str, Any]], data: tuple[np.ndarray, np.ndarray]
) -> None:
    _, handle = bruteforce
    plan = LoadPlan(concurrency=(1,), **FAST)
    queries = data[1]
    with pytest.raises(ConfigError, match="k must be a positive integer"):
        measure_load(handle, "bruteforce", {}, queries, 0, {}, plan)
    with pytest.raises(ConfigError, match="LoadPlan"):
        measure_load(handle, "bruteforce", {}, queries, K, {}, {"concurrency": [1]})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="at least one query"):
        measure_load(handle, "bruteforce", {}, queries[:0], K, {}, plan)
    with pytest.raises(ConfigError, match="picklable"):
        measure_load(handle, "bruteforce", {}, queries, K, {}, plan, store_factory=lambda: BruteForceStore())
    with pytest.raises(ConfigError, match="share"):
        measure_load(None, "bruteforce", {}, queries, K, {}, plan)  # type: ignore[arg-type]
    bad = queries.copy()
    bad[3, 0] = np.nan
    with pytest.raises(InvalidVectorError, match="NaN"):
        measure_load(handle, "bruteforce", {}, bad, K, {}, plan)
