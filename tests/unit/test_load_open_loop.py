"""Open-loop load: the schedule is sent as planned, and latency counts queueing delay."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from vecbench.adapters.bruteforce import BruteForceStore
from vecbench.load import LoadPlan, LoadRunner, arrival_schedule, measure_load
from vecbench.registry import get_store
from vecbench.spec import CollectionSpec

N, DIM, NQ, K = 2000, 16, 40, 10
SERVICE_S = 0.05


class Sleeps50ms(BruteForceStore):
    """Load-generator test double: the real bruteforce store, 50 ms slower per search."""

    def search(self, query: Any, k: int) -> np.ndarray:
        time.sleep(SERVICE_S)
        return super().search(query, k)


@pytest.fixture(scope="module")
def owner() -> Iterator[tuple[dict[str, Any], np.ndarray]]:
    rng = np.random.default_rng(1)
    base = rng.normal(size=(N, DIM)).astype(np.float32)
    queries = rng.normal(size=(NQ, DIM)).astype(np.float32)
    with get_store("bruteforce") as store:
        store.create(CollectionSpec("load_open", dim=DIM, metric="euclidean", index_type="flat"))
        store.upsert(np.arange(N), base)
        yield store.share(), queries


def _in_window(plan: LoadPlan, rate: float) -> int:
    due = arrival_schedule(rate, plan.duration_s, plan.arrival, plan.seed, warmup_s=plan.warmup_s)
    return int((due >= int(plan.warmup_s * 1e9)).sum())


@pytest.mark.parametrize("arrival", ["uniform", "poisson"])
def test_a_low_rate_is_sent_as_scheduled(arrival: str, owner: tuple[dict[str, Any], np.ndarray]) -> None:
    handle, queries = owner
    rate = 40.0
    plan = LoadPlan(rates=(rate,), duration_s=1.0, warmup_s=0.2, arrival=arrival, rate_workers=2, seed=5)
    section = measure_load(handle, "bruteforce", {}, queries, K, {}, plan)
    assert section["closed_loop"] is None and section["rate_sweep"] is None
    open_loop = section["open_loop"]
    assert (open_loop["arrival"], open_loop["workers"], open_loop["seed"]) == (arrival, 2, 5)
    (row,) = open_loop["rates"]
    assert row["status"] == "ok", row["error"]
    scheduled = _in_window(plan, rate)
    if arrival == "uniform":
        assert scheduled == 40
    # Every request of the measured window was sent and answered: the counts are exact.
    assert row["sent"] == scheduled and row["completed"] == scheduled and row["errors"] == 0
    assert row["target_rate"] == rate
    # completed / window, where the window is at least the duration: generous bounds.
    assert 0.5 * scheduled <= row["achieved_rate"] <= scheduled / plan.duration_s
    assert 0 < row["p50_ms"] <= row["p99_ms"] <= row["max_ms"]
    assert row["client_cpu_s"] > 0 and 0 < row["client_cpu_share"] <= 1


def test_open_loop_latency_counts_queueing_unlike_closed_loop(
    owner: tuple[dict[str, Any], np.ndarray],
) -> None:
    """One worker, 50 ms per request, 100 requests/s offered: requests queue up.

    The closed loop never offers more than the worker serves, so its latency is the
    service time; the open loop measures from each request's scheduled time, so the queue
    shows: later requests wait ever longer. (A generator measuring from the actual send
    time would report ~50 ms for both: coordinated omission.)
    """
    handle, queries = owner
    plan = LoadPlan(
        concurrency=(1,), rates=(100,), duration_s=1.0, warmup_s=0, arrival="uniform", rate_workers=1
    )
    section = measure_load(handle, "bruteforce", {}, queries, K, {}, plan, store_factory=Sleeps50ms)
    (closed,) = section["closed_loop"]["levels"]
    (opened,) = section["open_loop"]["rates"]
    assert closed["status"] == "ok" and opened["status"] == "ok"
    service_ms, gap_ms = SERVICE_S * 1000, 1000 / 100
    assert closed["p50_ms"] >= service_ms and opened["p50_ms"] >= service_ms

    # Bounds that follow from the schedule, whatever the machine's speed: the one worker
    # serves ticket i (due at i * 10 ms) no earlier than (i + 1) * 50 ms, so its latency is
    # at least 50 + 40 * i ms. The closed loop, measuring each request from its send, stays
    # near the service time; a generator that did the same in the open loop would too.
    def queued_ms(i: int) -> float:
        return service_ms + (service_ms - gap_ms) * i

    done = opened["completed"]
    assert done >= 2
    assert opened["max_ms"] >= 0.99 * queued_ms(done - 1)  # 1%: histogram buckets
    assert opened["p50_ms"] >= 0.99 * queued_ms(done // 2 - 1)
    assert opened["sent"] < _in_window(plan, 100)  # the backlog was never sent in the window
    assert opened["achieved_rate"] < 0.5 * opened["target_rate"]


def test_open_loop_workers_share_one_schedule(owner: tuple[dict[str, Any], np.ndarray]) -> None:
    handle, queries = owner
    plan = LoadPlan(rates=(60,), duration_s=0.6, warmup_s=0, arrival="uniform", rate_workers=3)
    with LoadRunner(handle, "bruteforce", {}, queries, K, {}, plan) as run:
        row, results = run.open_rate_results(60)
    assert row["status"] == "ok"
    sent = [r["sent"] for r in results]
    assert sum(sent) == _in_window(plan, 60) == 36  # each ticket sent once, by one worker


def test_rate_sweep_records_every_try(owner: tuple[dict[str, Any], np.ndarray]) -> None:
    handle, queries = owner
    plan = LoadPlan(
        rates=(20,), duration_s=0.5, warmup_s=0, rate_workers=1, p99_target_ms=10_000, sweep_max_tries=2
    )
    section = measure_load(handle, "bruteforce", {}, queries, K, {}, plan)
    sweep = section["rate_sweep"]
    assert sweep["p99_target_ms"] == 10_000
    # 20/s and its doublings meet a 10 s p99 target on an idle exact scan of 2000 vectors.
    assert [r["target_rate"] for r in sweep["tried"]] == [20, 40, 80]
    assert sweep["tried"][0] == section["open_loop"]["rates"][0]
    assert sweep["max_rate"] == 80
