"""The filter language: parsing, masks, selectivity, exact ground truth under a filter,
violations. Ground truth is checked against a brute-force argsort over the passing rows."""

import numpy as np
import pytest

from vecbench.errors import ConfigError
from vecbench.measures.groundtruth import exact_knn
from vecbench.measures.quality import recall_at_k
from vecbench.workloads.filters import (
    And,
    Eq,
    In,
    Range,
    filtered_ground_truth,
    parse_filter,
    selectivity,
    violations,
)

ATTRS = {
    "label": np.array(["news", "blog", "news", "wiki", "news", "blog"]),
    "year": np.array([2019, 2020, 2021, 2022, 2023, 2024]),
}


@pytest.mark.parametrize(
    ("spec", "parsed", "kept"),
    [
        ({"label": "news"}, Eq("label", "news"), [0, 2, 4]),
        ({"label": {"in": ["blog", "wiki"]}}, In("label", ("blog", "wiki")), [1, 3, 5]),
        ({"year": {"gte": 2021, "lt": 2024}}, Range("year", gte=2021, lt=2024), [2, 3, 4]),
        ({"year": {"gt": 2022}}, Range("year", gt=2022), [4, 5]),
        (
            {"label": "news", "year": {"lte": 2021}},
            And((Eq("label", "news"), Range("year", lte=2021))),
            [0, 2],
        ),
        (
            {"and": [{"label": {"in": ["news", "blog"]}}, {"year": 2024}]},
            And((In("label", ("news", "blog")), Eq("year", 2024))),
            [5],
        ),
    ],
)
def test_parse_and_mask(spec, parsed, kept):
    flt = parse_filter(spec)
    assert flt == parsed
    assert np.flatnonzero(flt.mask(ATTRS)).tolist() == kept
    assert selectivity(flt, ATTRS) == pytest.approx(len(kept) / 6)
    assert parse_filter(flt.as_dict()) == flt  # the mapping form round-trips


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ({}, "non-empty mapping"),
        ({"label": {"like": "n%"}}, "unknown operator(s) like"),
        ({"label": {"in": []}}, "non-empty list"),
        ({"label": 1.5}, "string or an integer"),
        ({"year": {"gte": "2020"}}, "finite number"),
        ({"year": {"gte": 2024, "lt": 2020}}, "holds no value"),
        ({"year": {"gt": 2020, "lt": 2020}}, "holds no value"),
        ({"and": "label"}, "non-empty list of filters"),
    ],
)
def test_malformed_filters_refused(spec, needle):
    with pytest.raises(ConfigError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        parse_filter(spec)


def test_unknown_attribute_lists_those_the_data_set_has():
    with pytest.raises(ConfigError, match=r"'tenant', which the data set lacks \(it has: label, year\)"):
        parse_filter({"tenant": "a"}).mask(ATTRS)
    with pytest.raises(ConfigError, match="holds <U4 values, not numbers"):
        parse_filter({"label": {"gte": 1}}).mask(ATTRS)


@pytest.mark.parametrize("metric", ["euclidean", "cosine", "ip"])
def test_filtered_ground_truth_is_exact_among_passing_rows(metric):
    rng = np.random.default_rng(0)
    base = rng.normal(size=(500, 16)).astype(np.float32)
    queries = rng.normal(size=(20, 16)).astype(np.float32)
    keep = rng.random(500) < 0.1
    gt = filtered_ground_truth(base, queries, 10, metric, keep)
    assert keep[gt.ids].all()
    rows = np.flatnonzero(keep)
    plain = exact_knn(base[rows], queries, 10, metric)
    assert (rows[plain.ids] == gt.ids).all()
    assert recall_at_k(gt.ids, gt.ids, 10).tolist() == [1.0] * 20


def test_fewer_passing_than_k_pads_and_nothing_passing_is_refused():
    rng = np.random.default_rng(1)
    base = rng.normal(size=(50, 4)).astype(np.float32)
    queries = rng.normal(size=(3, 4)).astype(np.float32)
    keep = np.zeros(50, dtype=bool)
    keep[[5, 17, 33]] = True
    gt = filtered_ground_truth(base, queries, 5, "euclidean", keep)
    assert gt.ids.shape == (3, 5) and (gt.ids[:, 3:] == -1).all() and np.isinf(gt.distances[:, 3:]).all()
    assert sorted(gt.ids[0, :3].tolist()) == [5, 17, 33]
    # the three that exist are all the recall there is: returning them is recall 1
    assert recall_at_k(gt.ids[:, :3], gt.ids, 5).tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(ConfigError, match="matches no base vector"):
        filtered_ground_truth(base, queries, 5, "euclidean", np.zeros(50, dtype=bool))


def test_violations_count_ids_outside_the_filter():
    keep = np.array([True, False, True, False])
    ids = np.array([[0, 1, 2, -1], [3, 9, 0, 2]])
    assert violations(ids, keep).tolist() == [1, 2]  # id 1; ids 3 and 9 (outside the base set)
