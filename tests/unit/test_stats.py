import numpy as np
import pytest

from vecbench.errors import ConfigError
from vecbench.measures.stats import (
    ci_section,
    cis_overlap,
    latency_cis,
    mean_ci,
    paired_latency_diff_ci,
    paired_mean_diff_ci,
)


def test_mean_ci_covers_the_true_mean_about_95_percent_of_the_time():
    rng = np.random.default_rng(7)
    true_mean, trials, covered = 0.3, 200, 0
    for t in range(trials):
        sample = rng.binomial(1, true_mean, size=300).astype(float)
        lo, hi = mean_ci(sample, resamples=400, seed=t)
        covered += lo <= true_mean <= hi
    assert 0.88 <= covered / trials <= 0.99


def test_interval_shrinks_with_more_queries_and_is_deterministic():
    rng = np.random.default_rng(0)
    widths = []
    for n in (50, 500, 5000):
        lo, hi = mean_ci(rng.random(n), seed=1)
        widths.append(hi - lo)
    assert widths[0] > widths[1] > widths[2] > 0
    x = rng.random(100)
    assert mean_ci(x, seed=3) == mean_ci(x, seed=3)
    assert mean_ci(x, seed=3) != mean_ci(x, seed=4)
    assert mean_ci(np.full(10, 0.5)) == [0.5, 0.5]


def test_latency_cis_resample_query_columns():
    rng = np.random.default_rng(2)
    per_query = rng.lognormal(13.0, 0.6, size=400)  # ns; each query has its own cost
    matrix = np.stack([per_query * f for f in (1.0, 1.02, 0.98)])  # 3 repeats
    cis = latency_cis(matrix, resamples=300, seed=0)
    assert set(cis) == {"p50_ms", "p95_ms", "p99_ms", "qps"}
    pooled_ms = matrix.ravel() / 1e6
    for key, q in (("p50_ms", 50), ("p95_ms", 95), ("p99_ms", 99)):
        lo, hi = cis[key]
        assert lo <= np.percentile(pooled_ms, q) <= hi
    qps = matrix.size * 1e9 / matrix.sum()
    assert cis["qps"][0] <= qps <= cis["qps"][1]
    # one repeat given as a 1-D array is the same as a (1, nq) matrix
    assert latency_cis(per_query, resamples=50) == latency_cis(per_query[None, :], resamples=50)
    assert latency_cis(matrix, resamples=50, seed=9) == latency_cis(matrix, resamples=50, seed=9)


def test_ci_section_shape():
    sec = ci_section(
        per_query={"recall_at_k": [1.0, 0.9, 0.8], "missing": None},
        latencies_ns=np.ones((2, 3)) * 1e6,
        resamples=20,
    )
    assert sec["level"] == 0.95 and sec["resamples"] == 20 and sec["seed"] == 0 and sec["repeats"] == 2
    assert sec["method"] == "percentile bootstrap, resampling queries"
    assert sec["missing"] is None and sec["p50_ms"] == [1.0, 1.0] and sec["qps"] == [1000.0, 1000.0]
    rag = ci_section(latencies_ns=[1e6, 3e6], latency_keys=("p50_ms", "p99_ms"), resamples=10)
    assert "p95_ms" not in rag and "qps" not in rag and rag["p99_ms"][0] <= rag["p99_ms"][1]


def test_paired_tests_find_a_real_difference_and_not_a_null_one():
    rng = np.random.default_rng(5)
    a = rng.binomial(1, 0.8, size=500).astype(float)
    b = a.copy()
    b[np.flatnonzero(a == 0)[:40]] = 1.0  # B finds 40 more of the queries A missed
    lo, hi = paired_mean_diff_ci(b, a, resamples=500)
    assert 0 < lo <= 40 / 500 <= hi
    assert paired_mean_diff_ci(a, a) == [0.0, 0.0]
    lat = rng.lognormal(13.0, 0.5, size=(2, 300))
    lo, hi = paired_latency_diff_ci(lat * 1.5, lat, "p50_ms", resamples=300)
    assert lo > 0
    lo, hi = paired_latency_diff_ci(lat * 1.5, lat, "qps", resamples=300)
    assert hi < 0
    lo, hi = paired_latency_diff_ci(lat, lat[::-1], "p99_ms", resamples=300)  # same queries, other repeat
    assert lo <= 0 <= hi


def test_cis_overlap():
    assert cis_overlap([0.1, 0.2], [0.2, 0.3]) is True
    assert cis_overlap([0.1, 0.2], [0.21, 0.3]) is False
    assert cis_overlap(None, [0, 1]) is None


@pytest.mark.parametrize(
    ("call", "needle"),
    [
        (lambda: mean_ci([], resamples=10), "no values"),
        (lambda: mean_ci([1.0, float("nan")]), "finite"),
        (lambda: mean_ci([1.0], resamples=0), "resamples must be a positive integer"),
        (lambda: mean_ci([1.0], level=1.5), "level"),
        (lambda: latency_cis(np.ones((2, 2, 2))), "latencies must be"),
        (lambda: latency_cis([-1.0, 2.0]), "non-negative"),
        (lambda: latency_cis([0, 0], resamples=5), "QPS is undefined"),
        (lambda: paired_mean_diff_ci([1, 2], [1]), "same queries"),
        (lambda: paired_latency_diff_ci([[1, 2]], [[1, 2, 3]], "qps"), "same queries"),
        (lambda: paired_latency_diff_ci([[1, 2]], [[1, 2]], "mean"), "unknown latency statistic"),
    ],
)
def test_bad_input(call, needle):
    with pytest.raises(ConfigError, match=needle):
        call()
