"""LoadPlan validation, seeded query orders and arrival schedules, and the rate-sweep search."""

from __future__ import annotations

import numpy as np
import pytest

from vecbench.errors import ConfigError
from vecbench.load import LoadPlan, arrival_schedule, meets_target, query_order, rate_sweep
from vecbench.load.plan import MAX_SCHEDULED, MAX_WORKERS


def test_plan_keeps_levels_and_rates_as_tuples() -> None:
    plan = LoadPlan(concurrency=[1, 2, 4], rates=[500, 1000.5], duration_s=3, warmup_s=0)
    assert plan.concurrency == (1, 2, 4)
    assert plan.rates == (500.0, 1000.5)
    assert (plan.duration_s, plan.warmup_s) == (3.0, 0.0)
    assert plan.open_loop_workers == 8
    assert LoadPlan(concurrency=(16,)).open_loop_workers == 16
    assert LoadPlan(rates=(10,), rate_workers=3).open_loop_workers == 3
    assert plan.as_dict()["concurrency"] == [1, 2, 4]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"concurrency": (0,)}, "concurrency level must be a positive integer"),
        ({"concurrency": (-2,)}, "concurrency level must be a positive integer"),
        ({"concurrency": (1.5,)}, "concurrency level must be a positive integer"),
        ({"concurrency": (True,)}, "concurrency level must be a positive integer"),
        ({"concurrency": "1,2"}, "concurrency must be a list"),
        ({"concurrency": (MAX_WORKERS + 1,)}, "worker processes"),
        ({"rates": (0,)}, "rate must be > 0"),
        ({"rates": (-5,)}, "rate must be > 0"),
        ({"rates": (float("nan"),)}, "rate must be a finite number"),
        ({"concurrency": (1,), "rate_workers": 0}, "rate_workers must be a positive integer"),
        ({"concurrency": (1,), "rate_workers": 2.5}, "rate_workers must be a positive integer"),
        ({"concurrency": (1,), "duration_s": 0}, "duration_s must be > 0"),
        ({"concurrency": (1,), "duration_s": -1}, "duration_s must be > 0"),
        ({"concurrency": (1,), "warmup_s": -0.1}, "warmup_s must be >= 0"),
        ({"concurrency": (1,), "arrival": "bursty"}, "unknown arrival 'bursty'; valid: poisson, uniform"),
        ({"concurrency": (1,), "p99_target_ms": 0}, "p99_target_ms must be > 0"),
        ({"concurrency": (1,), "seed": -1}, "seed must be an integer >= 0"),
        ({"concurrency": (1,), "request_timeout_s": 0}, "request_timeout_s must be > 0"),
        ({"concurrency": (1,), "sweep_max_tries": 0}, "sweep_max_tries"),
        ({"concurrency": (1,), "sweep_min_achieved": 1.5}, "sweep_min_achieved"),
        ({}, "nothing to measure"),
        ({"p99_target_ms": 5}, "rate sweep"),
        ({"rates": (0.5,), "duration_s": 1}, "schedules less than one request"),
        ({"rates": (MAX_SCHEDULED,), "duration_s": 10}, "lower the rate or the duration"),
    ],
)
def test_bad_plans_raise_config_error(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        LoadPlan(**kwargs)


def test_query_orders_are_seeded_per_worker() -> None:
    nq = 50
    a0, a1 = query_order(7, 0, nq, 120), query_order(7, 1, nq, 120)
    np.testing.assert_array_equal(a0, query_order(7, 0, nq, 120))  # reproducible
    assert not np.array_equal(a0, a1)  # each worker its own order
    assert not np.array_equal(a0, query_order(8, 0, nq, 120))  # another seed, another order
    # Each block of nq is a permutation: every query is sent equally often.
    for start in (0, nq):
        assert sorted(a0[start : start + nq].tolist()) == list(range(nq))
    assert query_order(0, 0, 1, 5).tolist() == [0] * 5


def test_uniform_schedule_is_evenly_spaced() -> None:
    times = arrival_schedule(100, 2.0, "uniform", seed=0)
    assert times.shape == (200,)
    assert times[0] == 0 and times[-1] < 2_000_000_000
    np.testing.assert_array_equal(np.diff(times), np.full(199, 10_000_000))


def test_poisson_schedule_is_seeded_sorted_and_offers_exactly_the_rate() -> None:
    rate, duration, warmup = 2000.0, 5.0, 0.5
    times = arrival_schedule(rate, duration, "poisson", seed=3, warmup_s=warmup)
    np.testing.assert_array_equal(times, arrival_schedule(rate, duration, "poisson", seed=3, warmup_s=warmup))
    assert not np.array_equal(times, arrival_schedule(rate, duration, "poisson", seed=4, warmup_s=warmup))
    assert np.all(np.diff(times) >= 0) and times[0] >= 0 and times[-1] < (duration + warmup) * 1e9
    # Conditioned on its count: exactly rate x time in the warm-up and in the window.
    in_window = times >= warmup * 1e9
    assert int(in_window.sum()) == 10_000 and int((~in_window).sum()) == 1_000
    gaps = np.diff(times[in_window]) / 1e9  # close to exponential: sd == mean == 1/rate
    assert abs(gaps.mean() - 1 / rate) < 0.05 / rate
    assert abs(gaps.std() - 1 / rate) < 0.1 / rate


def test_schedule_refuses_bad_input() -> None:
    with pytest.raises(ConfigError, match="unknown arrival"):
        arrival_schedule(10, 1.0, "bursty", 0)
    with pytest.raises(ConfigError):
        arrival_schedule(0, 1.0, "uniform", 0)


def _row(rate: float, p99_ms: float, achieved: float | None = None, errors: int = 0) -> dict:
    return {
        "target_rate": rate,
        "achieved_rate": rate if achieved is None else achieved,
        "errors": errors,
        "p99_ms": p99_ms,
        "status": "ok",
    }


def _model(capacity: float, tried: list[float]):
    """Rows of a system whose p99 is 1 ms below ``capacity`` and 100 ms above it."""

    def measure(rate: float) -> dict:
        tried.append(rate)
        return _row(rate, 1.0 if rate <= capacity else 100.0, achieved=min(rate, capacity))

    return measure


def test_rate_sweep_brackets_the_highest_passing_rate() -> None:
    tried: list[float] = []
    out = rate_sweep(_model(1000, tried), 5.0, start_qps=1500, max_tries=12)
    assert out["p99_target_ms"] == 5.0
    assert [r["target_rate"] for r in out["tried"]] == tried
    assert tried[:2] == [750, 1500]  # half the closed-loop QPS, then double
    assert out["max_rate"] is not None and 1000 / 1.1 <= out["max_rate"] <= 1000
    passing = [r for r in tried if r <= 1000]
    failing = [r for r in tried if r > 1000]
    assert max(failing) / max(passing) > 1 and min(failing) / max(passing) <= 1.1


def test_rate_sweep_starts_from_given_rows_and_stops_after_max_tries() -> None:
    tried: list[float] = []
    given = [_row(100, 1.0), _row(200, 1.0)]
    out = rate_sweep(_model(10_000, tried), 5.0, measured=given, max_tries=3)
    assert tried == [400, 800, 1600]
    assert [r["target_rate"] for r in out["tried"]] == [100, 200, 400, 800, 1600]
    assert out["max_rate"] == 1600


def test_rate_sweep_halves_when_nothing_passes_and_respects_rate_limits() -> None:
    tried: list[float] = []
    out = rate_sweep(_model(0, tried), 5.0, measured=[_row(800, 50.0)], rate_ok=lambda r: r >= 100)
    assert tried == [400, 200, 100]
    assert out["max_rate"] is None


def test_a_rate_not_kept_up_with_or_with_errors_does_not_meet_the_target() -> None:
    assert meets_target(_row(1000, 1.0, achieved=960), 5.0, 0.95)
    assert not meets_target(_row(1000, 1.0, achieved=900), 5.0, 0.95)
    assert not meets_target(_row(1000, 1.0, errors=1), 5.0, 0.95)
    assert not meets_target(_row(1000, 6.0), 5.0, 0.95)
    assert not meets_target({**_row(1000, 1.0), "status": "failed"}, 5.0, 0.95)


def test_rate_sweep_without_a_start_records_nothing() -> None:
    out = rate_sweep(_model(10, []), 5.0, start_qps=None)
    assert out == {"p99_target_ms": 5.0, "max_rate": None, "tried": []}


def test_a_window_shorter_than_a_request_is_refused():
    with pytest.raises(ConfigError, match=r"duration_s=0.0001 is shorter than one request"):
        LoadPlan(concurrency=(1,), duration_s=0.0001)
