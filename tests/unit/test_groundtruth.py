"""Exact ground truth: blocked brute force against a plain numpy argsort, caching, verify()."""

from __future__ import annotations

import numpy as np
import pytest

from vecbench.datasets import Dataset, GroundTruth, load
from vecbench.errors import ConfigError, DatasetError
from vecbench.measures import groundtruth
from vecbench.measures.groundtruth import exact_knn, ground_truth, verify

METRICS = ["euclidean", "cosine", "ip"]


pytestmark = pytest.mark.usefixtures("vb_cache")


def reference(base, queries, k, metric):
    """float64 distances, stable argsort: ties go to the smaller id."""
    b = np.asarray(base, dtype=np.float64)
    q = np.asarray(queries, dtype=np.float64)
    if metric == "euclidean":
        d = np.sqrt(((q[:, None, :] - b[None, :, :]) ** 2).sum(-1))
    elif metric == "cosine":
        bn = b / np.linalg.norm(b, axis=1, keepdims=True)
        qn = q / np.linalg.norm(q, axis=1, keepdims=True)
        d = 1.0 - qn @ bn.T
    else:
        d = -(q @ b.T)
    ids = np.argsort(d, axis=1, kind="stable")[:, :k]
    return ids, np.take_along_axis(d, ids, axis=1)


def data(n=600, nq=25, dim=16, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, dim)).astype(np.float32), rng.standard_normal((nq, dim)).astype(np.float32)


@pytest.mark.parametrize("use_faiss", [True, False], ids=["faiss", "numpy"])
@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("block_size", [None, 37])
def test_matches_numpy_argsort(metric, use_faiss, block_size):
    if use_faiss:
        pytest.importorskip("faiss")
    base, queries = data()
    gt = exact_knn(base, queries, 10, metric, block_size=block_size, use_faiss=use_faiss)
    ids, dists = reference(base, queries, 10, metric)
    assert gt.ids.dtype == np.int64 and gt.distances.dtype == np.float32
    np.testing.assert_array_equal(gt.ids, ids)
    np.testing.assert_allclose(gt.distances, dists, atol=1e-5, rtol=1e-5)
    assert np.all(np.diff(gt.distances, axis=1) >= 0)


@pytest.mark.parametrize("metric", METRICS)
def test_numpy_path_when_faiss_missing(metric, monkeypatch):
    monkeypatch.setattr(groundtruth, "_faiss", lambda: None)
    base, queries = data(n=300, nq=7)
    gt = exact_knn(base, queries, 5, metric, block_size=64)
    ids, _ = reference(base, queries, 5, metric)
    np.testing.assert_array_equal(gt.ids, ids)


@pytest.mark.parametrize("use_faiss", [True, False], ids=["faiss", "numpy"])
@pytest.mark.parametrize("metric", METRICS)
def test_ties_are_broken_by_id(metric, use_faiss):
    if use_faiss:
        pytest.importorskip("faiss")
    # Small integer vectors with many exact duplicates: distances tie exactly.
    rng = np.random.default_rng(3)
    base = rng.integers(1, 3, size=(200, 4)).astype(np.float32)
    queries = rng.integers(1, 3, size=(9, 4)).astype(np.float32)
    gt = exact_knn(base, queries, 12, metric, block_size=50, use_faiss=use_faiss)
    ids, dists = reference(base, queries, 12, metric)
    np.testing.assert_array_equal(gt.ids, ids)
    np.testing.assert_allclose(gt.distances, dists, atol=1e-5)


def test_memmap_and_integer_base(tmp_path):
    base, queries = data(n=500)
    np.save(tmp_path / "b.npy", base)
    mm = np.load(tmp_path / "b.npy", mmap_mode="r")
    gt = exact_knn(mm, queries, 5, "euclidean", block_size=100)
    np.testing.assert_array_equal(gt.ids, reference(base, queries, 5, "euclidean")[0])
    ints = np.random.default_rng(1).integers(0, 255, size=(300, 8)).astype(np.uint8)
    q = np.random.default_rng(2).integers(0, 255, size=(4, 8)).astype(np.float32)
    gt = exact_knn(ints, q, 3, "euclidean", block_size=64)
    np.testing.assert_array_equal(gt.ids, reference(ints, q, 3, "euclidean")[0])


def test_near_duplicates_keep_exact_distances():
    # Large norms and a near-duplicate: the expanded square alone would lose the 1e-3 gap.
    base = np.full((50, 8), 300.0, dtype=np.float32) + np.arange(50, dtype=np.float32)[:, None]
    queries = base[[10]] + np.float32(1e-3)
    gt = exact_knn(base, queries, 2, "euclidean")
    assert gt.ids[0].tolist() == [10, 11]
    exact = reference(base, queries, 2, "euclidean")[1][0, 0]  # ~ sqrt(8) * 1e-3
    assert gt.distances[0, 0] == pytest.approx(exact, rel=1e-4)


def test_k_checks():
    base, queries = data(n=20, nq=2)
    assert exact_knn(base, queries, 20, "euclidean").k == 20
    with pytest.raises(ConfigError):
        exact_knn(base, queries, 21, "euclidean")
    with pytest.raises(ConfigError):
        exact_knn(base, queries, 0, "euclidean")
    with pytest.raises(ConfigError):
        exact_knn(base, queries, 3, "euclidean", block_size=0)


def small_dataset(**kw):
    return load("synthetic", n=800, dim=12, nq=20, clusters=4, **kw)


def test_ground_truth_computes_then_hits_the_cache(vb_cache, monkeypatch):
    ds = small_dataset(metric="cosine")
    first = ground_truth(ds, 10)
    files = list((vb_cache / "groundtruth").glob("*.npz"))
    assert [f.name for f in files] == [f"{ds.checksum.replace(':', '_')}-cosine-k10.npz"]

    def boom(*args, **kwargs):
        raise AssertionError("recomputed instead of reading the cache")

    monkeypatch.setattr(groundtruth, "exact_knn", boom)
    again = ground_truth(small_dataset(metric="cosine"), 10)
    np.testing.assert_array_equal(again.ids, first.ids)
    np.testing.assert_array_equal(again.distances, first.distances)
    smaller = ground_truth(ds, 3)  # a cached larger k serves a smaller one
    np.testing.assert_array_equal(smaller.ids, first.ids[:, :3])
    with pytest.raises(AssertionError):
        ground_truth(ds, 3, cache=False)


def test_ground_truth_prefers_the_datasets_own(monkeypatch):
    ds = small_dataset()
    own = exact_knn(ds.base, ds.queries, 8, ds.metric)
    ds.ground_truth = own
    monkeypatch.setattr(groundtruth, "exact_knn", lambda *a, **k: pytest.fail("should not compute"))
    gt = ground_truth(ds, 5)
    np.testing.assert_array_equal(gt.ids, own.ids[:, :5])


def test_corrupt_cache_file_is_recomputed(vb_cache):
    ds = small_dataset()
    folder = vb_cache / "groundtruth"
    folder.mkdir(parents=True)
    (folder / f"{ds.checksum.replace(':', '_')}-euclidean-k5.npz").write_bytes(b"not a zip")
    gt = ground_truth(ds, 5)
    np.testing.assert_array_equal(gt.ids, reference(ds.base, ds.queries, 5, "euclidean")[0])


@pytest.mark.parametrize("metric", METRICS)
def test_verify_accepts_correct_and_detects_corrupted(metric):
    ds = small_dataset(metric=metric)
    ds.ground_truth = exact_knn(ds.base, ds.queries, 10, metric)
    report = verify(ds, sample=15)
    assert report["ok"], report
    assert report["recall_min"] == 1.0 and report["sampled"] == 15

    bad = GroundTruth(ids=ds.ground_truth.ids.copy(), distances=ds.ground_truth.distances.copy())
    bad.ids[:, 0] = (bad.ids[:, 0] + 400) % ds.n  # swap the nearest for a far point
    ds.ground_truth = bad
    report = verify(ds, sample=20)
    assert not report["ok"]
    assert report["queries_with_wrong_ids"] > 0


def test_verify_detects_wrong_distances_and_repeats():
    ds = small_dataset()
    gt = exact_knn(ds.base, ds.queries, 5, ds.metric)
    ds.ground_truth = GroundTruth(ids=gt.ids, distances=gt.distances + 0.5)
    report = verify(ds)
    assert not report["ok"] and report["max_abs_distance_error"] == pytest.approx(0.5, abs=1e-4)
    ids = gt.ids.copy()
    ids[:, 1] = ids[:, 0]
    ds.ground_truth = GroundTruth(ids=ids, distances=gt.distances)
    assert not verify(ds)["ok"]


def test_verify_needs_stored_truth():
    with pytest.raises(DatasetError):
        verify(small_dataset())


def test_dataset_rows_are_float32():
    ds = Dataset(
        "u8", "euclidean", np.arange(12, dtype=np.uint8).reshape(4, 3), np.ones((1, 3), np.float32), "x"
    )
    assert ds.rows([2, 0]).dtype == np.float32
    assert ds.rows([2, 0]).tolist() == [[6, 7, 8], [0, 1, 2]]
