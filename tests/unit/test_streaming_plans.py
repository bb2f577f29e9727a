"""FreshnessPlan, IngestPlan and Backoff: validated when made, checked against a data set before work."""

from __future__ import annotations

import pytest

from vecbench.config import RunConfig, Settings
from vecbench.errors import ConfigError
from vecbench.workloads.plans import Backoff, FreshnessPlan, IngestPlan, parse_plan


def test_backoff_grows_by_its_factor_and_stops_at_its_bound():
    b = Backoff(initial_ms=2, max_ms=50, factor=3)
    delays = b.delays_ms(8)
    assert delays[:4] == [2.0, 6.0, 18.0, 50.0]
    assert max(delays) == 50.0 and delays == sorted(delays)
    assert b.delay_ms(10**6) == 50.0  # no overflow however long it polls


def test_backoff_with_factor_one_is_a_fixed_interval():
    assert Backoff(initial_ms=5, max_ms=5, factor=1).delays_ms(3) == [5.0, 5.0, 5.0]


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"initial_ms": 0}, "initial_ms must be > 0"),
        ({"max_ms": 0.5}, "max_ms (0.5) must be >= initial_ms"),
        ({"factor": 0.5}, "factor must be >= 1"),
        ({"timeout_s": -1}, "timeout_s must be > 0"),
        ({"timeout_s": float("nan")}, "finite number"),
        ({"factor": True}, "finite number"),
    ],
)
def test_bad_backoff_is_refused(kwargs, words):
    with pytest.raises(ConfigError, match=words.replace("(", r"\(").replace(")", r"\)")):
        Backoff(**kwargs)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"batches": 0}, "batches must be a positive integer"),
        ({"sample": 20, "batch_size": 10}, "sample (20) must be <= batch_size (10)"),
        ({"initial_fraction": 1.0}, "initial_fraction must be in (0, 1)"),
        ({"deletes": "yes"}, "deletes must be true or false"),
        ({"reader": "other"}, "unknown reader 'other'; valid: auto, same"),
        ({"seed": -1}, "seed must be an integer >= 0"),
        ({"backoff": {"max_ms": 1, "initial_ms": 2}}, "max_ms (1) must be >= initial_ms (2)"),
        ({"backoff": {"wait": 1}}, "backoff: unknown key(s) wait"),
    ],
)
def test_bad_freshness_plan_is_refused(kwargs, words):
    with pytest.raises(ConfigError) as err:
        FreshnessPlan(**kwargs)
    assert words in str(err.value)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"insert_rates": []}, "give at least one rate"),
        ({"insert_rates": [0, -5]}, "insert rate must be >= 0"),
        ({"insert_rates": "100"}, "insert_rates must be a list"),
        ({"insert_rates": [100, 100]}, "repeats a rate"),
        ({"search_rate": 0}, "search_rate must be > 0"),
        ({"search_rate": 0.5, "duration_s": 1}, "schedules less than one search"),
        ({"search_threads": 0}, "search_threads must be a positive integer"),
        ({"search_threads": 1000}, "at most 256"),
        ({"arrival": "burst"}, "unknown arrival 'burst'"),
        ({"warmup_s": -1}, "warmup_s must be >= 0"),
    ],
)
def test_bad_ingest_plan_is_refused(kwargs, words):
    with pytest.raises(ConfigError) as err:
        IngestPlan(**kwargs)
    assert words in str(err.value)


def test_plans_say_before_work_when_the_data_set_is_too_small():
    fresh = FreshnessPlan(batches=10, batch_size=100)
    assert fresh.check(4000) == 2000  # 1000 rows written after the 2000 built first
    with pytest.raises(ConfigError, match="writes 1000 rows, but the data set has 500 rows after the 500"):
        fresh.check(1000)
    ingest = IngestPlan(insert_rates=(0, 1000), duration_s=4, warmup_s=1, insert_batch_size=100)
    assert ingest.rows_needed(1000) == 5000 and ingest.rows_needed(0) == 0
    assert ingest.rows_needed(150) == 800  # whole batches: 750 rows due, in batches of 100
    assert ingest.check(10_000) == 5000
    with pytest.raises(ConfigError, match="insert rate 1000/s over 5 s writes 5000 rows"):
        ingest.check(9000)


def test_parse_plan_takes_mappings_true_and_none():
    assert parse_plan(None, FreshnessPlan, "freshness") is None
    assert parse_plan(True, FreshnessPlan, "freshness") == FreshnessPlan()
    plan = parse_plan({"batches": 3, "backoff": {"timeout_s": 2}}, FreshnessPlan, "freshness")
    assert plan.batches == 3 and plan.backoff.timeout_s == 2.0
    with pytest.raises(ConfigError, match="freshness: unknown key.s. batch; valid: backoff, batch_size"):
        parse_plan({"batch": 3}, FreshnessPlan, "freshness")
    with pytest.raises(ConfigError, match="ingest_load: expected a mapping"):
        parse_plan([0, 100], IngestPlan, "ingest_load")


def test_settings_and_run_config_carry_the_plans_and_round_trip():
    cfg = RunConfig.from_dict(
        {
            "datasets": ["synthetic"],
            "stores": {"faiss": {"indexes": [{"type": "flat"}]}},
            "freshness": {"batches": 2},
            "ingest_load": {"insert_rates": [0, 250], "search_rate": 50},
        },
        source="sweep.yaml",
    )
    assert cfg.settings.freshness.batches == 2
    assert cfg.settings.ingest_load.insert_rates == (0.0, 250.0)
    again = RunConfig.from_dict(cfg.to_dict())
    assert again.settings == cfg.settings
    with pytest.raises(ConfigError, match="sweep.yaml: ingest_load: search_rate must be > 0"):
        Settings.from_mapping({"ingest_load": {"search_rate": -1}}, source="sweep.yaml")


def test_identity_differs_per_insert_rate_and_holds_the_whole_plan():
    plan = IngestPlan(insert_rates=(0, 500))
    a, b = plan.identity(0.0), plan.identity(500.0)
    assert a != b and a["insert_rate"] == 0.0 and "insert_rates" not in a
    assert a["search_rate"] == plan.search_rate and a["workload"] == "ingest_load"
    assert FreshnessPlan().identity()["workload"] == "freshness"
