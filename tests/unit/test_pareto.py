"""Pareto fronts and the best setting per store (vecbench.analysis.pareto)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vecbench.analysis.pareto import AXES, best_per_store, pareto_front, pareto_fronts, points
from vecbench.errors import ConfigError, UnknownNameError


def rec(
    store: str,
    recall: float,
    qps: float | None = 1000.0,
    p99: float | None = 1.0,
    *,
    usd: float | None = None,
    index: str = "hnsw",
    search: dict[str, Any] | None = None,
    status: str = "ok",
    dataset: str = "d",
    metric: str = "euclidean",
    kind: str = "vector",
    v2: bool = True,
) -> dict[str, Any]:
    """A record with the sections pareto reads; v2=False leaves out cost/load/ci like a v1 record."""
    r: dict[str, Any] = {
        "kind": kind,
        "status": status,
        "cell_id": f"{store}-{index}-{recall}-{qps}-{p99}",
        "store": {"name": store},
        "dataset": {"name": dataset, "metric": metric},
        "index": {"type": index, "params": {}, "resolved_params": {"m": 16}},
        "search": {"params": search or {"ef_search": 64}, "k": 10},
        "quality": {"k": 10, "recall_at_k": recall, "tie_aware_recall_at_k": recall},
        "latency": {"p50_ms": (p99 or 1.0) / 2, "p95_ms": p99, "p99_ms": p99},
        "qps": {"serial": qps, "batch": None},
    }
    if status != "ok":
        for key in ("quality", "latency", "qps"):
            r[key] = None
        r["error"] = {"type": "StoreError", "message": "down"}
    if v2:
        r["cost"] = None if usd is None else {"usd_per_1m_queries": usd}
        r["load"] = None
        r["ci"] = None
    return r


def test_front_recall_vs_qps_keeps_only_undominated_settings():
    rows = [
        {"recall": 0.80, "qps": 900.0},
        {"recall": 0.90, "qps": 1000.0},  # dominates the 0.80 row
        {"recall": 0.95, "qps": 500.0},
        {"recall": 0.95, "qps": 400.0},  # same recall, slower
        {"recall": 0.99, "qps": 100.0},
        {"recall": 0.97, "qps": 50.0},  # dominated by 0.99/100
    ]
    front = pareto_front(rows, "qps")
    assert [(r["recall"], r["qps"]) for r in front] == [(0.90, 1000.0), (0.95, 500.0), (0.99, 100.0)]


def test_front_for_lower_is_better_axes():
    rows = [
        {"recall": 0.9, "p99_ms": 1.0},
        {"recall": 0.95, "p99_ms": 2.0},
        {"recall": 0.93, "p99_ms": 3.0},  # dominated: less recall, slower than 0.95
        {"recall": 0.99, "p99_ms": 8.0},
        {"recall": 0.85, "p99_ms": 1.0},  # equal p99 with less recall: dominated
    ]
    front = pareto_front(rows, "p99_ms")
    assert [(r["recall"], r["p99_ms"]) for r in front] == [(0.9, 1.0), (0.95, 2.0), (0.99, 8.0)]


def test_front_skips_rows_without_the_figure_and_refuses_unknown_axes():
    rows = [{"recall": 0.9, "usd_per_1m_queries": None}, {"recall": 0.8, "usd_per_1m_queries": 0.5}]
    assert pareto_front(rows, "usd_per_1m_queries") == [{"recall": 0.8, "usd_per_1m_queries": 0.5}]
    assert pareto_front([], "qps") == []
    with pytest.raises(UnknownNameError, match="Pareto axis"):
        pareto_front(rows, "speed")


@given(
    st.lists(
        st.tuples(st.integers(0, 20).map(lambda x: x / 20), st.integers(1, 50).map(float)),
        min_size=1,
        max_size=40,
    ),
    st.sampled_from(sorted(AXES)),
)
def test_front_property_nothing_on_it_is_dominated_and_everything_off_it_is(pairs, by):
    rows = [{"recall": r, by: y} for r, y in pairs]
    higher = AXES[by]

    def at_least(a, b):  # a is at least as good as b on both
        return a["recall"] >= b["recall"] and (a[by] >= b[by] if higher else a[by] <= b[by])

    def dominates(a, b):
        return at_least(a, b) and (a["recall"], a[by]) != (b["recall"], b[by])

    front = pareto_front(rows, by)
    assert front, "a non-empty set has a non-empty front"
    assert [r["recall"] for r in front] == sorted(r["recall"] for r in front)
    for f in front:
        assert not any(dominates(r, f) for r in rows)
    kept = {(f["recall"], f[by]) for f in front}
    for r in rows:
        if (r["recall"], r[by]) not in kept:
            assert any(at_least(f, r) for f in front)


def test_points_count_only_ok_vector_records_and_read_v1_records():
    records = [
        rec("faiss", 0.9),
        rec("faiss", 0.99, status="failed"),
        rec("bruteforce", 1.0, v2=False),
        rec("faiss", 0.5, kind="rag"),
    ]
    pts = points(records)
    assert [(p["store"], p["recall"]) for p in pts] == [("faiss", 0.9), ("bruteforce", 1.0)]
    v1 = pts[1]
    assert v1["usd_per_1m_queries"] is None and v1["load_qps"] is None
    assert v1["label"] == "bruteforce/hnsw" and v1["params"] == "m=16 ef_search=64"
    with pytest.raises(UnknownNameError):
        points(records, recall_key="precision")


def test_points_take_the_best_ok_closed_loop_level_as_load_qps():
    r = rec("faiss", 0.9)
    r["load"] = {
        "closed_loop": {
            "levels": [
                {"workers": 1, "qps": 100.0, "status": "ok"},
                {"workers": 2, "qps": 180.0, "status": "ok"},
                {"workers": 4, "qps": 999.0, "status": "failed"},
            ]
        }
    }
    assert points([r])[0]["load_qps"] == 180.0


def test_fronts_per_dataset_metric_and_store_index():
    records = [
        rec("faiss", 0.9, 1000.0),
        rec("faiss", 0.99, 200.0),
        rec("faiss", 0.95, 100.0),  # dominated
        rec("faiss", 0.95, 900.0, index="ivf_flat"),
        rec("faiss", 0.9, 10.0, metric="cosine"),
    ]
    fronts = pareto_fronts(records, "qps")
    # the last part of a group's key is the filter (None: unfiltered cells)
    assert set(fronts) == {("d", "euclidean", 10, None), ("d", "cosine", 10, None)}
    euclid = fronts[("d", "euclidean", 10, None)]
    assert [p["recall"] for p in euclid["faiss/hnsw"]] == [0.9, 0.99]
    assert [p["recall"] for p in euclid["faiss/ivf_flat"]] == [0.95]


def test_best_per_store_picks_the_fastest_setting_reaching_the_target():
    records = [
        rec("faiss", 0.90, p99=0.1, search={"ef_search": 16}),
        rec("faiss", 0.96, p99=0.4, search={"ef_search": 64}),
        rec("faiss", 0.99, p99=0.9, search={"ef_search": 128}),
        rec("faiss", 0.97, p99=0.3, index="ivf_flat", search={"nprobe": 16}),
        rec("faiss", 1.0, p99=0.01, status="failed"),  # never counts
        rec("redis", 0.80, p99=0.2),
        rec("redis", 0.93, p99=0.5),
    ]
    rows = best_per_store(records, 0.95, by="p99_ms")
    assert [(r["store"], r["reached"]) for r in rows] == [("faiss", True), ("redis", False)]
    faiss, redis = rows
    assert (faiss["index"], faiss["search"], faiss["p99_ms"]) == ("ivf_flat", {"nprobe": 16}, 0.3)
    assert faiss["settings_tried"] == 4 and faiss["note"] == ""
    assert redis["best_recall"] == 0.93 and redis["recall"] == 0.93
    assert "no setting reached recall 0.95" in redis["note"] and "0.9300" in redis["note"]
    assert "record" not in faiss


def test_best_per_store_by_qps_and_ties_go_to_higher_recall():
    records = [
        rec("faiss", 0.96, qps=500.0),
        rec("faiss", 0.98, qps=500.0),
        rec("faiss", 0.99, qps=300.0),
    ]
    (row,) = best_per_store(records, 0.95, by="qps")
    assert (row["recall"], row["qps"]) == (0.98, 500.0)


def test_best_per_store_by_dollars_notes_records_without_a_cost():
    records = [rec("faiss", 0.99, usd=0.02), rec("faiss", 0.97, usd=0.01), rec("bruteforce", 1.0, v2=False)]
    rows = best_per_store(records, 0.95, by="usd_per_1m_queries")
    by_store = {r["store"]: r for r in rows}
    assert by_store["faiss"]["usd_per_1m_queries"] == 0.01 and by_store["faiss"]["recall"] == 0.97
    assert by_store["bruteforce"]["reached"] is True
    assert by_store["bruteforce"]["note"] == "no usd_per_1m_queries figure recorded"
    assert [r["store"] for r in rows] == ["faiss", "bruteforce"]  # figures first


def test_best_per_store_groups_per_dataset_and_metric():
    records = [rec("faiss", 0.99, metric="cosine"), rec("faiss", 0.99), rec("faiss", 0.99, dataset="c")]
    rows = best_per_store(records, 0.9)
    assert [(r["dataset"], r["metric"]) for r in rows] == [
        ("c", "euclidean"),
        ("d", "cosine"),
        ("d", "euclidean"),
    ]


@pytest.mark.parametrize("bad", [0, 0.0, 1.5, -0.1, True, "0.9", None])
def test_best_per_store_refuses_a_bad_target(bad):
    with pytest.raises(ConfigError, match="target recall"):
        best_per_store([rec("faiss", 0.9)], bad)


def test_best_per_store_of_nothing_or_only_failures_is_empty():
    assert best_per_store([], 0.9) == []
    assert best_per_store([rec("faiss", 0.9, status="failed")], 0.9) == []
