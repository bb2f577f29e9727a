"""Search under ingest: live-set ground truth, live rows per search, rates, and a run on bruteforce."""

from __future__ import annotations

import numpy as np
import pytest

from vecbench.errors import ConfigError, DimensionMismatchError
from vecbench.measures.groundtruth import exact_knn
from vecbench.registry import get_store
from vecbench.spec import CollectionSpec
from vecbench.workloads.ingest_load import IngestRun, latency_from_schedule, run_ingest, summarize_ingest
from vecbench.workloads.live_truth import LiveTruth
from vecbench.workloads.plans import IngestPlan


@pytest.mark.parametrize("metric", ["euclidean", "cosine", "ip"])
def test_live_truth_equals_exact_knn_over_every_prefix(metric):
    rng = np.random.default_rng(3)
    base = rng.normal(size=(900, 12)).astype(np.float32)
    queries = rng.normal(size=(25, 12)).astype(np.float32)
    truth = LiveTruth.compute(base, queries, n_initial=400, n_written=500, k=7, metric=metric)
    for n_live in (400, 401, 650, 900):
        want = exact_knn(base[:n_live], queries, 7, metric)
        ids, dists = truth.neighbours(np.arange(25), np.full(25, n_live))
        assert (ids == want.ids).all(), n_live
        np.testing.assert_allclose(dists, want.distances, rtol=1e-4, atol=1e-5)


def test_live_truth_refuses_prefixes_it_was_not_made_for():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(100, 4)).astype(np.float32)
    truth = LiveTruth.compute(base, base[:3], n_initial=50, n_written=20, k=5, metric="l2")
    with pytest.raises(ConfigError, match=r"n_live must be in \[50, 70\]"):
        truth.neighbours(np.array([0]), np.array([80]))
    with pytest.raises(ConfigError, match="fewer than k=5"):
        LiveTruth.compute(base, base[:3], n_initial=4, n_written=10, k=5, metric="l2")


def _ns(*seconds: float) -> np.ndarray:
    return np.round(np.array(seconds) * 1e9).astype(np.int64)


def _run(**kw: object) -> IngestRun:
    n = 6
    run = IngestRun(
        t0=0,
        span_ns=3_000_000_000,
        warmup_ns=1_000_000_000,
        due_ns=_ns(0, 1, 1.2, 1.5, 2.0, 2.9),
        query_index=np.zeros(n, dtype=np.int64),
        sent_ns=_ns(0.0, 1.0, 1.25, 1.55, 2.1, 2.9),
        done_ns=_ns(0.01, 1.01, 1.3, 1.6, 2.2, 2.95),
        ids=[[1]] * n,
        error_types=[None, None, None, "TimeoutError", None, None],
        batch_rows=10,
    )
    run.batch_due_ns = [0, 1_000_000_000, 2_000_000_000]
    run.batch_start_ns = [0, 1_240_000_000, 2_000_000_000]  # the second batch late by 240 ms
    run.batch_end_ns = [100_000_000, 1_280_000_000, 2_150_000_000]
    for key, value in kw.items():
        setattr(run, key, value)
    return run


def test_live_rows_count_acknowledged_batches_and_reach_counts_those_in_flight():
    run = _run()
    assert run.live_rows(100).tolist() == [100, 110, 110, 120, 120, 130]
    # the search sent at 1.25 s ran while the second batch was being written (1.24-1.28 s)
    assert run.rows_in_reach(100).tolist() == [110, 110, 120, 120, 130, 130]
    assert run.measured().tolist() == [False, True, True, False, True, True]  # warm-up, error


def test_summary_counts_rates_errors_and_writer_lag():
    plan = IngestPlan(insert_rates=(10,), search_rate=2, duration_s=2, warmup_s=1, insert_batch_size=10)
    section = summarize_ingest(_run(), 10.0, plan)
    search, insert = section["search"], section["insert"]
    assert search["scheduled"] == 5 and search["completed"] == 4 and search["errors"] == 1
    assert search["error_types"] == {"TimeoutError": 1}
    assert search["achieved_rate"] == pytest.approx(4 / 2.0)
    assert insert["batches"] == 3 and insert["rows"] == 30
    assert insert["achieved_rate"] == pytest.approx(20 / 2.0)  # two batches acknowledged in the window
    assert insert["max_lag_ms"] == pytest.approx(240.0)
    lat = latency_from_schedule(_run())
    assert lat is not None and lat["max_ms"] == pytest.approx(200.0)  # 2.2 s done, 2.0 s due


def test_run_ingest_on_bruteforce_keeps_both_rates_and_sees_the_rows_written():
    rng = np.random.default_rng(1)
    base = rng.normal(size=(3000, 8)).astype(np.float32)
    queries = rng.normal(size=(20, 8)).astype(np.float32)
    plan = IngestPlan(insert_rates=(400,), search_rate=80, duration_s=1.0, warmup_s=0.2, insert_batch_size=40)
    with get_store("bruteforce") as store:
        store.create(CollectionSpec("ingest", 8, "euclidean", "flat"))
        store.upsert(np.arange(1000), base[:1000])
        rows = lambda a, b: (np.arange(a, b, dtype=np.int64), base[a:b])  # noqa: E731
        run = run_ingest(store, [store] * 2, True, queries, 10, plan, 400.0, rows, 1000)
        assert len(store.search(base[0], 3000)) == 1000 + len(run.batch_end_ns) * 40
    section = summarize_ingest(run, 400.0, plan)
    assert len(run.batch_end_ns) == plan.rows_needed(400) // 40 == 12  # every batch due was sent
    assert section["insert"]["rows"] == 480 and section["search"]["completed"] == 80
    assert section["search"]["errors"] == 0
    live = run.live_rows(1000)[run.measured()]
    assert (
        live.min() >= 1000
        and live.max() > 1000
        and (np.diff(live[np.argsort(run.sent_ns[run.measured()])]) >= 0).all()
    )
    # serialized through one lock: nothing is ever in flight during a search
    assert (run.rows_in_reach(1000)[run.measured()] == live).all()


class SlowSearches:
    """A bruteforce store whose searches take ``delay_s`` each: a store slower than the offered rate."""

    def __init__(self, inner: object, delay_s: float) -> None:
        self.inner, self.delay_s = inner, delay_s

    def search(self, q: np.ndarray, k: int) -> np.ndarray:
        import time

        time.sleep(self.delay_s)
        return self.inner.search(q, k)


def _small_store(base: np.ndarray) -> object:
    store = get_store("bruteforce")
    store.__enter__()
    store.create(CollectionSpec("slow", 8, "euclidean", "flat"))
    store.upsert(np.arange(500), base[:500])
    return store


def test_a_store_that_cannot_keep_up_fails_the_rate_with_the_backlog_named():
    from vecbench.errors import NotReadyError

    base = np.random.default_rng(2).normal(size=(1000, 8)).astype(np.float32)
    store = _small_store(base)
    plan = IngestPlan(search_rate=100, duration_s=0.5, warmup_s=0.0, search_threads=1, request_timeout_s=0.2)
    rows = lambda a, b: (np.arange(a, b, dtype=np.int64), base[a:b])  # noqa: E731
    with pytest.raises(
        NotReadyError, match=r"of 50 searches not done 0.2 s after .* did not keep up with 100 searches/s"
    ):
        run_ingest(store, [SlowSearches(store, 0.05)], False, base[:10], 5, plan, 0.0, rows, 500)
    store.__exit__(None, None, None)


def test_a_failing_writer_fails_the_rate_with_its_error():
    base = np.random.default_rng(2).normal(size=(1000, 8)).astype(np.float32)
    store = _small_store(base)
    plan = IngestPlan(search_rate=50, duration_s=0.5, warmup_s=0.0, insert_batch_size=10, search_threads=1)
    bad_rows = lambda a, b: (np.arange(a, b, dtype=np.int64), base[a:b, :4])  # wrong dim  # noqa: E731
    with pytest.raises(DimensionMismatchError, match="dimension 4, expected 8"):
        run_ingest(store, [store], True, base[:10], 5, plan, 100.0, bad_rows, 500)
    store.__exit__(None, None, None)
