"""Soak data model: least-squares slopes per minute, the fit window, bounds and the verdict."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from vecbench.errors import ConfigError
from vecbench.load.soak import (
    MB,
    SoakBounds,
    SoakSample,
    check_slopes,
    fit_series,
    slope,
    slope_unit,
)
from vecbench.load.soak_run import SoakPlan

T_S = np.arange(0.0, 600.0 + 1e-9, 5.0)  # a 10-minute soak sampled every 5 s


def _sample(t_s: float, **values: Any) -> SoakSample:
    base = {
        "completed": int(t_s * 100),
        "errors": 0,
        "qps": 100.0,
        "client_rss_bytes": 300 * MB,
        "client_fds": 70,
        "client_processes": 10,
        "workers_rss_bytes": 250 * MB,
        "workers_fds": 60,
    }
    return SoakSample(t_s=t_s, **{**base, **values})


def test_a_leaking_series_gives_its_growth_per_minute() -> None:
    leak = 2 * MB  # per minute
    rss = 300 * MB + leak * T_S / 60
    fit = slope(T_S, rss)
    assert fit.per_min == pytest.approx(leak, rel=1e-9)
    assert fit.n == T_S.size and fit.stderr_per_min == pytest.approx(0, abs=1e-3)
    assert fit.mean == pytest.approx(rss.mean())


def test_a_noisy_leak_is_found_within_its_standard_error() -> None:
    rng = np.random.default_rng(0)
    leak = 0.5 * MB
    rss = 300 * MB + leak * T_S / 60 + rng.normal(0, 2 * MB, T_S.size)  # noise 4x a minute's growth
    fit = slope(T_S, rss)
    assert fit.stderr_per_min is not None and 0 < fit.stderr_per_min < 0.2 * MB
    assert abs(fit.per_min - leak) < 4 * fit.stderr_per_min


def test_a_flat_series_has_slope_zero() -> None:
    assert slope(T_S, np.full(T_S.size, 70.0)).per_min == pytest.approx(0, abs=1e-9)
    rng = np.random.default_rng(1)
    noisy = 300 * MB + rng.normal(0, 1 * MB, T_S.size)
    fit = slope(T_S, noisy)
    assert abs(fit.per_min) < 4 * fit.stderr_per_min < 0.5 * MB


def test_a_step_counts_as_its_share_of_the_window() -> None:
    # One fd opened half-way through a 10-minute window: ~0.15 fds/min, under the default bound.
    fds = np.where(T_S < 300, 70.0, 71.0)
    assert 0.1 < slope(T_S, fds).per_min < SoakBounds().client_fds_per_min


def test_slope_leaves_out_missing_readings_and_needs_two_times() -> None:
    fit = slope([0, 60, 120, 180], [10.0, None, 30.0, 40.0])
    assert fit.n == 3 and fit.per_min == pytest.approx(10.0) and fit.stderr_per_min is None
    with pytest.raises(ConfigError, match="two or more"):
        slope([0, 60], [1.0, None])
    with pytest.raises(ConfigError, match="two or more"):
        slope([5, 5, 5], [1.0, 2.0, 3.0])


def test_fit_series_keeps_the_window_after_settling_and_before_the_end() -> None:
    settle, end = 60.0, 600.0
    samples = [_sample(-3.0, client_rss_bytes=100 * MB)]  # workers starting: left out
    samples += [_sample(t, client_rss_bytes=int(300 * MB + t * MB)) for t in T_S]  # 60 MB/min
    samples += [_sample(603.0, client_rss_bytes=50 * MB, client_fds=40)]  # workers leaving: left out
    slopes = fit_series(samples, settle, end)
    assert slopes["client_rss_bytes"].per_min == pytest.approx(60 * MB, rel=1e-6)
    assert slopes["client_rss_bytes"].n == int((end - settle) / 5) + 1
    assert slopes["client_fds"].per_min == pytest.approx(0, abs=1e-9)
    assert "server_rss_bytes" not in slopes  # not measured (a remote server): no fit
    assert slope_unit("client_rss_bytes") == "bytes/min" and slope_unit("qps") == "(req/s)/min"


def _fits(**per_min: float) -> dict[str, Any]:
    t = [60.0, 120.0, 180.0, 240.0]
    return {name: slope(t, [v * i for i in range(4)]) for name, v in per_min.items()}


def test_verdict_passes_flat_series_and_skips_what_was_not_measured() -> None:
    verdict = check_slopes(_fits(client_rss_bytes=0.2 * MB, client_fds=0.0), SoakBounds(), errors=0)
    assert verdict["ok"]
    status = {c["check"]: c["status"] for c in verdict["checks"]}
    assert status == {
        "client_rss": "ok",
        "client_fds": "ok",
        "server_memory": "skipped",
        "server_fds": "skipped",
        "errors": "ok",
    }
    rss = next(c for c in verdict["checks"] if c["check"] == "client_rss")
    assert rss["series"] == "client_rss_bytes" and rss["unit"] == "MB/min"
    assert rss["value"] == pytest.approx(0.2) and rss["bound"] == 1.0


def test_server_memory_is_judged_on_private_memory_where_measured() -> None:
    # PostgreSQL's checkpointer touching shared buffers: the RSS sum grows, private memory does not.
    fits = _fits(server_rss_bytes=1.5 * MB, server_pss_bytes=-0.5 * MB, server_anon_bytes=0.0)
    (memory,) = [c for c in check_slopes(fits, SoakBounds(), 0)["checks"] if c["check"] == "server_memory"]
    assert memory["series"] == "server_anon_bytes" and memory["status"] == "ok"
    fits = _fits(server_rss_bytes=1.5 * MB, server_anon_bytes=1.5 * MB)  # a heap leak
    (memory,) = [c for c in check_slopes(fits, SoakBounds(), 0)["checks"] if c["check"] == "server_memory"]
    assert memory["series"] == "server_anon_bytes" and memory["status"] == "failed"
    (memory,) = [
        c
        for c in check_slopes(_fits(server_rss_bytes=1.5 * MB), SoakBounds(), 0)["checks"]
        if c["check"] == "server_memory"
    ]
    assert memory["series"] == "server_rss_bytes" and memory["status"] == "failed"


def test_verdict_fails_a_leak_an_fd_leak_and_errors() -> None:
    fits = _fits(client_rss_bytes=3 * MB, server_rss_bytes=-5 * MB, server_fds=12.0)
    verdict = check_slopes(fits, SoakBounds(), errors=3)
    status = {c["check"]: c["status"] for c in verdict["checks"]}
    assert not verdict["ok"]
    assert status["client_rss"] == "failed" and status["server_memory"] == "ok"  # shrinking is fine
    assert status["server_fds"] == "failed" and status["errors"] == "failed"
    assert check_slopes(fits, SoakBounds(client_rss_mb_per_min=4, server_fds_per_min=20, max_errors=3), 3)[
        "ok"
    ]
    assert not check_slopes({}, SoakBounds(), errors=None)["ok"]  # the level failed: errors unknown


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"client_rss_mb_per_min": -1}, "client_rss_mb_per_min"),
        ({"max_errors": float("nan")}, "max_errors"),
        ({"server_fds_per_min": "1"}, "server_fds_per_min"),
    ],
)
def test_bad_bounds_are_refused(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        SoakBounds(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"concurrency": 0}, "concurrency"),
        ({"concurrency": 2.5}, "concurrency"),
        ({"duration_s": 0}, "duration_s"),
        ({"duration_s": float("inf")}, "duration_s"),
        ({"sample_every_s": -1}, "sample_every_s"),
        ({"duration_s": 60, "settle_s": 60}, "settle_s"),
        ({"duration_s": 10, "sample_every_s": 5}, "fewer than 4 samples"),
        ({"store": ""}, "store"),
        ({"build": [1]}, "build"),
        ({"n": -5}, "n must"),
        ({"bounds": {"max_errors": 1}}, "SoakBounds"),
    ],
)
def test_bad_plans_are_refused(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        SoakPlan(**{"store": "redis", **kwargs})


def test_plan_defaults_settle_a_fifth_of_the_run_at_most_a_minute() -> None:
    assert SoakPlan("redis").settle_s == 60.0
    assert SoakPlan("redis", duration_s=100, sample_every_s=2).settle_s == 20.0
    plan = SoakPlan("redis", store_config={"url": "redis://u:secret@h:1"}, duration_s=30, sample_every_s=1)
    assert "secret" not in str(plan.as_dict())
