import numpy as np
import pytest

from vecbench.errors import ConfigError
from vecbench.measures.latency import LatencyStats, qps_from_elapsed, qps_from_latencies

KEYS = ["p50_ms", "p90_ms", "p95_ms", "p99_ms", "p999_ms", "max_ms", "mean_ms"]


def test_keys_and_values():
    ns = np.arange(1, 1001, dtype=np.int64) * 1_000_000  # 1..1000 ms
    s = LatencyStats.from_ns(ns)
    d = s.as_dict()
    assert list(d) == KEYS
    assert d["max_ms"] == 1000.0
    assert d["mean_ms"] == pytest.approx(500.5)
    assert d["p50_ms"] == pytest.approx(500.5)
    assert d["p99_ms"] == pytest.approx(np.percentile(np.arange(1, 1001), 99))
    assert d["p90_ms"] <= d["p95_ms"] <= d["p99_ms"] <= d["p999_ms"] <= d["max_ms"]


def test_full_precision_no_rounding():
    s = LatencyStats.from_ns([1_234_567])
    assert s.p50_ms == 1.234567 and s.max_ms == 1.234567 and s.mean_ms == 1.234567
    assert all(isinstance(v, float) for v in s.as_dict().values())


def test_empty_or_bad_input_raises():
    with pytest.raises(ConfigError):
        LatencyStats.from_ns([])
    with pytest.raises(ConfigError):
        LatencyStats.from_ns([[1, 2]])
    with pytest.raises(ConfigError):
        LatencyStats.from_ns([-5])


def test_qps_helpers():
    assert qps_from_latencies([1_000_000] * 10) == pytest.approx(1000.0)
    assert qps_from_elapsed(200, 1_000_000_000) == 200.0
    with pytest.raises(ConfigError):
        qps_from_latencies([])
    with pytest.raises(ConfigError):
        qps_from_elapsed(10, 0)
