"""Synthetic data sets carry attribute columns with known selectivities, without changing
their vectors (or checksum, or any cell id) from before attributes existed."""

import numpy as np
import pytest

from vecbench.datasets import load
from vecbench.datasets.base import Dataset
from vecbench.errors import DatasetError
from vecbench.workloads.filters import filtered_ground_truth, parse_filter, selectivity


def test_attributes_have_the_stated_distributions():
    ds = load("synthetic", n=100_000, dim=8, nq=5, seed=3)
    attrs = ds.attributes
    assert set(attrs) == {"int_attr", "label"} and all(len(c) == ds.n for c in attrs.values())
    assert attrs["int_attr"].min() >= 0 and attrs["int_attr"].max() < 10_000
    h = (1.0 / np.arange(1, 101)).sum()
    for spec, expected in [
        ({"int_attr": {"lt": 100}}, 0.01),
        ({"int_attr": {"lt": 5_000}}, 0.5),
        ({"label": "label_0"}, 1.0 / h),
        ({"label": "label_9"}, 0.1 / h),
        ({"label": {"in": ["label_0", "label_1"]}}, 1.5 / h),
    ]:
        got = selectivity(parse_filter(spec), attrs)
        assert got == pytest.approx(expected, rel=0.15), spec  # 100k draws: within a few %


def test_attributes_are_seeded_and_leave_the_vectors_alone():
    a = load("synthetic", n=2_000, dim=8, nq=5, seed=1)
    b = load("synthetic", n=2_000, dim=8, nq=50, seed=1)
    c = load("synthetic", n=2_000, dim=8, nq=5, seed=2)
    assert (a.attributes["label"] == b.attributes["label"]).all()  # nq does not move them
    assert (a.attributes["int_attr"] == b.attributes["int_attr"]).all()
    assert (a.attributes["int_attr"] != c.attributes["int_attr"]).any()
    assert np.array_equal(a.base, b.base)


def test_vectors_and_checksum_are_those_from_before_attributes():
    # Figures of vecbench before synthetic sets had attributes (commit 07853d6).
    ds = load("synthetic", n=200_000, dim=16, nq=10)
    assert ds.checksum == "synthetic:c9577d732a5a6bc4d7af90868dcf68cbe7ba1140f71b687051fb41f216cbfc3b"
    assert float(ds.base[123, 4]) == -0.9559516906738281
    assert float(ds.queries[3, 2]) == -0.29352840781211853


def test_filtered_ground_truth_on_a_synthetic_set():
    ds = load("synthetic", n=5_000, dim=8, nq=10, metric="cosine")
    keep = parse_filter({"label": "label_3"}).mask(ds.attributes)
    gt = filtered_ground_truth(ds.base, ds.queries, 10, ds.metric, keep)
    assert (ds.attributes["label"][gt.ids] == "label_3").all()


def test_attribute_columns_must_match_the_base_set():
    base = np.zeros((3, 2), dtype=np.float32)
    with pytest.raises(DatasetError, match="attribute 'tag' has shape"):
        Dataset("t", "euclidean", base, base, "x", attributes={"tag": np.array(["a", "b"])})
