"""The parts of vecbench.distributed that need no Ray cluster: histograms, shards, tickets,
settings, the no-op store (the cluster itself: tests/integration/test_ray_cluster.py)."""

from __future__ import annotations

import numpy as np
import pytest

from vecbench.config import RunConfig
from vecbench.config.settings import Settings
from vecbench.errors import ConfigError
from vecbench.load import LoadPlan
from vecbench.load.noop import NoopStore, noop_factory
from vecbench.load.summary import closed_row
from vecbench.store import Shareable

hdr = pytest.importorskip("vecbench.distributed.hdr")
pytest.importorskip("hdrh")


def test_merged_histograms_equal_one_histogram_of_every_sample():
    rng = np.random.default_rng(3)
    parts = [rng.lognormal(13, 1.5, size=n).astype(np.int64) for n in (1, 500, 20_000, 7_777)]
    merged = hdr.merge(hdr.encode(hdr.histogram_of(p)) for p in parts)
    whole = hdr.histogram_of(np.concatenate(parts))
    assert merged.get_total_count() == sum(len(p) for p in parts)
    assert hdr.counts(merged) == hdr.counts(whole)
    assert hdr.latency_ms(merged) == hdr.latency_ms(whole)


def test_histogram_percentiles_are_within_their_precision_of_the_samples():
    lat = np.random.default_rng(0).integers(50_000, 5_000_000, size=10_000)
    got = hdr.latency_ms(hdr.histogram_of(lat))
    assert got["max_ms"] == pytest.approx(lat.max() / 1e6, rel=1e-3)
    assert got["p50_ms"] == pytest.approx(np.percentile(lat, 50) / 1e6, rel=2e-3)
    assert got["p99_ms"] == pytest.approx(np.percentile(lat, 99) / 1e6, rel=2e-3)


def test_rows_from_histograms_have_the_local_rows_fields():
    lat = np.arange(1, 1001, dtype=np.int64) * 1000
    base = {
        "errors": 0,
        "error_types": {},
        "error_messages": {},
        "first_ns": 0,
        "last_ns": 10**9,
        "cpu_ns": 10**8,
    }
    local = closed_row(2, [{**base, "latencies_ns": lat[:500]}, {**base, "latencies_ns": lat[500:]}])
    ray = closed_row(
        2,
        [
            {**base, "hdr": hdr.encode(hdr.histogram_of(lat[:500]))},
            {**base, "hdr": hdr.encode(hdr.histogram_of(lat[500:]))},
        ],
    )
    assert list(ray) == list(local)
    assert ray["queries"] == local["queries"] == 1000
    assert ray["qps"] == local["qps"]
    assert ray["p99_ms"] == pytest.approx(local["p99_ms"], rel=2e-3)


def test_shards_cover_the_base_once():
    from vecbench.distributed.truth import shard_bounds

    for n, shards in [(10, 3), (7, 7), (5, 9), (1000, 4)]:
        bounds = shard_bounds(n, shards)
        assert bounds[0][0] == 0 and bounds[-1][1] == n
        assert all(a < b for a, b in bounds)
        assert all(bounds[i][1] == bounds[i + 1][0] for i in range(len(bounds) - 1))


def test_actors_take_every_nth_ticket_of_the_schedule():
    from vecbench.distributed.load import _Stride

    taken = []
    for worker in range(3):
        counter = _Stride(worker, 3)
        mine = []
        while counter.value < 10:
            ticket = counter.value
            counter.value = ticket + 1  # what the open-loop worker writes
            mine.append(ticket)
        taken.append(mine)
    assert sorted(t for mine in taken for t in mine) == list(range(10))
    assert taken[1] == [1, 4, 7]


def test_load_workers_counts_the_largest_level():
    from vecbench.distributed.load import load_workers

    assert load_workers(LoadPlan(concurrency=(1, 4), duration_s=1)) == 4
    assert load_workers(LoadPlan(concurrency=(1, 4), rates=(10,), rate_workers=6, duration_s=1)) == 6
    assert load_workers(LoadPlan(rates=(10,), duration_s=1)) == 8


def test_executor_settings_are_checked_and_round_trip():
    s = Settings(executor="ray", ray_address="10.0.0.5:6379")
    assert Settings.from_mapping(s.as_dict()) == s
    assert "executor" not in Settings().as_dict()
    with pytest.raises(ConfigError, match="unknown executor 'dask'"):
        Settings(executor="dask")
    with pytest.raises(ConfigError, match="ray_address needs executor: ray"):
        Settings(ray_address="10.0.0.5:6379")
    cfg = RunConfig.from_dict({"executor": "ray", "datasets": ["synthetic"], "stores": {"bruteforce": {}}})
    assert cfg.settings.executor == "ray"


def test_local_executor_runs_today_s_loop():
    from vecbench.harness.executor import LocalExecutor, make_executor

    assert isinstance(make_executor(Settings()), LocalExecutor)


def test_noop_store_is_shareable_and_answers_at_once():
    store = noop_factory()
    assert isinstance(store, Shareable) and store.name == "noop"
    with store:
        store.attach(NoopStore.handle(5))
        assert store.search(np.zeros(4, np.float32), 3).tolist() == [0, 1, 2]
        assert store.share() == NoopStore.handle(5)


def test_rag_config_takes_the_executor():
    from vecbench.rag.config import load_rag_config

    base = {
        "dataset": "beir:cranfield",
        "chunkers": ["whole"],
        "embedders": ["hashing"],
        "stores": ["bruteforce"],
    }
    assert load_rag_config(base).executor == "local"
    cfg = load_rag_config({**base, "executor": "ray", "ray_address": "10.0.0.5:6379"})
    assert (cfg.executor, cfg.ray_address) == ("ray", "10.0.0.5:6379")
    with pytest.raises(ConfigError, match="unknown executor"):
        load_rag_config({**base, "executor": "spark"})
