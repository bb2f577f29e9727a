"""Filtered cells through the harness: post_filter on every store, native refused where a
store cannot filter, bad filters refused before any work, ids of plain cells unchanged."""

import numpy as np
import pytest

import vecbench
from vecbench.config import RunConfig, Settings
from vecbench.errors import ConfigError

DATA = {"n": 3000, "dim": 16, "nq": 30, "seed": 4}
SWEEP = [{"int_attr": {"lt": 5000}}, {"label": "label_2"}, {"int_attr": {"lt": 50}}]


def _bench(stores, **settings):
    return vecbench.benchmark("synthetic", stores, index="flat", dataset_params=DATA, repeats=1, **settings)


def test_post_filter_sweep_is_exact_on_exact_stores():
    results = _bench(["bruteforce", "faiss"], filters=SWEEP)
    assert len(results) == 2 * len(SWEEP) and all(r.ok for r in results)
    seen = set()
    for r in results:
        section = r.record["search"]["filter"]
        assert section["strategy"] == "post_filter" and 0 < section["selectivity"] < 1
        assert section["passing"] == round(section["selectivity"] * DATA["n"])
        assert section["k_searched"] >= 10
        assert r.recall == 1.0  # an exact index, post-filtered: every passing neighbour found
        assert r.record["quality"]["violations"] == 0
        # a cell per (store, filter): the filter is part of the identity
        assert r.cell_id not in seen
        seen.add(r.cell_id)
    sels = [r.record["search"]["filter"]["selectivity"] for r in results[: len(SWEEP)]]
    assert sels[0] > sels[1] > sels[2]  # ~50%, ~5%, ~0.5%


def test_plain_cells_keep_their_ids():
    plain = _bench(["bruteforce"])
    again = _bench(["bruteforce"], filters=[])
    filtered = _bench(["bruteforce"], filters=SWEEP[:1])
    assert plain[0].cell_id == again[0].cell_id != filtered[0].cell_id
    assert "filter" not in plain[0].record["search"]
    assert "violations" not in plain[0].record["quality"]


def test_native_and_post_filter_agree_on_an_exact_store():
    post = _bench(["bruteforce"], filters=SWEEP[1:2])
    native = _bench(["bruteforce"], filters=SWEEP[1:2], filter_strategy="native")
    assert post[0].cell_id != native[0].cell_id  # the strategy is part of the identity
    assert post[0].recall == native[0].recall == 1.0


@pytest.mark.parametrize(
    ("settings", "needle"),
    [
        ({"filters": [{"tenant": "a"}]}, r"'tenant', which the data set lacks \(it has: int_attr, label\)"),
        ({"filters": [{"label": "no_such_label"}]}, "matches no base vector"),
    ],
)
def test_filters_the_data_set_cannot_answer_are_refused_before_any_work(settings, needle):
    with pytest.raises(ConfigError, match=needle):
        _bench(["bruteforce"], **settings)


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"filters": {"label": "a"}}, "filters must be a list"),
        ({"filters": [{"label": {"like": "a"}}]}, r"filters\[0\]\.label: unknown operator"),
        ({"filters": [{"label": "a"}], "filter_strategy": "pre"}, "unknown filter_strategy 'pre'"),
    ],
)
def test_bad_filter_settings_refused_when_the_config_is_read(data, needle):
    base = {"datasets": ["synthetic"], "stores": {"bruteforce": {"indexes": [{"type": "flat"}]}}}
    with pytest.raises(ConfigError, match=needle):
        RunConfig.from_dict({**base, **data})
    cfg = RunConfig.from_dict({**base, "filters": [{"label": "a"}]})
    assert cfg.settings.filters[0].as_dict() == {"label": "a"}
    assert RunConfig.from_dict(cfg.to_dict()).settings == cfg.settings
    assert Settings().filters == () and Settings().filter_strategy == "post_filter"


def test_selectivity_sweep_picks_thresholds_close_to_each_target():
    from vecbench.workloads.filtered import selectivity_filter

    col = np.random.default_rng(0).integers(0, 10_000, 50_000)
    for target in (0.5, 0.1, 0.01, 0.001):
        flt = selectivity_filter(col, "a", target)
        assert set(flt) == {"a"} and set(flt["a"]) == {"lt"}
        assert abs((col < flt["a"]["lt"]).mean() - target) <= 0.0005 + 0.02 * target
    # a column of few values: the nearest achievable fraction, never an empty filter
    few = np.repeat([1, 2, 3], [10, 80, 10])
    assert selectivity_filter(few, "a", 0.001) == {"a": {"lt": 2}}


def test_selectivities_run_after_filters_and_record_their_target():
    results = _bench(["bruteforce"], filters=SWEEP[1:2], selectivities=[0.3, 0.02])
    sections = [r.record["search"]["filter"] for r in results]
    assert [s.get("target_selectivity") for s in sections] == [None, 0.3, 0.02]
    assert sections[1]["filter"] == {"int_attr": {"lt": sections[1]["filter"]["int_attr"]["lt"]}}
    assert all(r.recall == 1.0 for r in results)


@pytest.mark.parametrize(
    ("settings", "needle"),
    [
        ({"selectivities": [0]}, r"selectivities: 0 is not a fraction in \(0, 1\]"),
        ({"selectivities": [1.01]}, "selectivities: 1.01"),
        ({"selectivities": 0.5}, "selectivities must be a list"),
        ({"selectivities": [0.1], "selectivity_attribute": "label"}, "'label' is not an integer attribute"),
        ({"selectivities": [0.1], "selectivity_attribute": "nope"}, "integer attributes: int_attr"),
    ],
)
def test_bad_selectivity_settings_are_refused(settings, needle):
    with pytest.raises(ConfigError, match=needle):
        _bench(["bruteforce"], **settings)


def test_cells_under_different_filters_never_share_a_front_or_a_best_row():
    from vecbench.analysis.pareto import best_per_store, pareto_fronts
    from vecbench.analysis.summary import summary_rows

    results = _bench(["bruteforce"], filters=SWEEP[:2])
    records = [r.record for r in results]
    assert len(pareto_fronts(records)) == 2
    rows = best_per_store(records, 0.9)
    texts = sorted(r["filter"] for r in rows)
    assert (
        len(rows) == 2 and texts[0].startswith("int_attr<5000 (") and texts[1].startswith("label=label_2 (")
    )
    assert all(t.endswith("%, post_filter)") for t in texts)
    table = summary_rows(records)
    assert all(r["filter"] and r["violations"] == 0 for r in table)


def test_post_filter_never_asks_more_than_the_store_allows():
    from vecbench.datasets import load
    from vecbench.workloads.filtered import FilteredSearch

    ds = load("synthetic", **DATA)
    fs = FilteredSearch.make({"int_attr": {"lt": 30}}, ds, "post_filter")  # ~0.3%: k/sel x 2 > n
    assert fs.k_searched(10) == DATA["n"]
    assert fs.k_searched(10, max_k=1000) == 1000
    section = fs.section(10, max_k=1000)
    assert section["k_searched"] == 1000 and section["k_limited_by_store"] == 1000
    assert "k_limited_by_store" not in fs.section(10)
    native = FilteredSearch.make({"int_attr": {"lt": 30}}, ds, "native")
    assert native.k_searched(10, max_k=5) == 10  # native asks k: the store refuses k > max_k itself
