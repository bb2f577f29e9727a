"""Loaders (synthetic, HDF5, TEXMEX vecs, .npy, manifest names), checksums and manifests."""

from __future__ import annotations

import pickle

import h5py
import numpy as np
import pytest

from vecbench.datasets import load
from vecbench.datasets.catalog import get_manifest, list_manifests, parse_manifest
from vecbench.datasets.checksums import file_sha256
from vecbench.errors import (
    ConfigError,
    DatasetError,
    EmptyDatasetError,
    InvalidVectorError,
    UnknownNameError,
)
from vecbench.metrics import Metric

pytestmark = pytest.mark.usefixtures("vb_cache")


def vectors(n, dim=8, seed=0):
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


# --------------------------------------------------------------------------- synthetic


def test_synthetic_is_deterministic_per_seed():
    a = load("synthetic", n=3000, dim=16, nq=30, seed=7)
    b = load("synthetic", n=3000, dim=16, nq=30, seed=7)
    c = load("synthetic", n=3000, dim=16, nq=30, seed=8)
    assert a.base.tobytes() == b.base.tobytes() and a.queries.tobytes() == b.queries.tobytes()
    assert a.checksum == b.checksum and a.checksum.startswith("synthetic:")
    assert a.checksum != c.checksum and a.base.tobytes() != c.base.tobytes()
    assert a.name == "synthetic-3000x16-euclidean-s7"
    assert a.base.dtype == np.float32 and a.base.shape == (3000, 16) and a.queries.shape == (30, 16)
    assert a.ground_truth is None


def test_synthetic_queries_are_fresh_draws_and_base_ignores_nq():
    a = load("synthetic", n=2000, dim=8, nq=10)
    b = load("synthetic", n=2000, dim=8, nq=50)
    assert a.base.tobytes() == b.base.tobytes()
    base_rows = {row.tobytes() for row in a.base}
    assert not any(q.tobytes() in base_rows for q in a.queries)


def test_synthetic_params_are_validated_and_recorded():
    ds = load("synthetic", n=100, dim=4, nq=3, metric="angular", clusters=2, spread=0.1)
    assert ds.metric is Metric.COSINE and ds.params["metric"] == "cosine" and ds.params["spread"] == 0.1
    for bad in ({"n": 0}, {"dim": -1}, {"nq": 1.5}, {"seed": -1}, {"spread": "x"}, {"bogus": 1}):
        with pytest.raises(ConfigError):
            load("synthetic", **bad)
    with pytest.raises(UnknownNameError):
        load("synthetic", metric="hamming")


# --------------------------------------------------------------------------- HDF5


def write_hdf5(path, train, test, *, distance="euclidean", neighbors=None, distances=None, chunked=False):
    with h5py.File(path, "w") as f:
        if distance is not None:
            f.attrs["distance"] = distance
        if chunked:
            f.create_dataset("train", data=train, chunks=(16, train.shape[1]), compression="gzip")
        else:
            f.create_dataset("train", data=train)
        f.create_dataset("test", data=test)
        if neighbors is not None:
            f.create_dataset("neighbors", data=neighbors.astype(np.int32))
        if distances is not None:
            f.create_dataset("distances", data=distances.astype(np.float32))
    return path


def test_hdf5_with_neighbors_angular_is_cosine(tmp_path):
    train, test = vectors(200), vectors(5, seed=1)
    nb = np.tile(np.arange(10), (5, 1))
    dist = np.linspace(0, 1, 50).reshape(5, 10)
    path = write_hdf5(tmp_path / "g.hdf5", train, test, distance="angular", neighbors=nb, distances=dist)
    ds = load(path)
    assert ds.metric is Metric.COSINE and ds.name == "g"
    assert isinstance(ds.base, np.memmap)
    np.testing.assert_array_equal(np.asarray(ds.base), train)
    np.testing.assert_array_equal(ds.queries, test)
    assert ds.ground_truth.ids.dtype == np.int64 and ds.ground_truth.distances.dtype == np.float32
    np.testing.assert_array_equal(ds.ground_truth.ids, nb)
    assert ds.checksum == file_sha256(path)
    assert load(path, metric="euclidean").metric is Metric.EUCLIDEAN


def test_hdf5_without_neighbors_and_chunked(tmp_path):
    train, test = vectors(100), vectors(3, seed=1)
    ds = load(write_hdf5(tmp_path / "c.h5", train, test, chunked=True))
    assert ds.ground_truth is None and ds.metric is Metric.EUCLIDEAN
    np.testing.assert_array_equal(ds.base, train)


def test_hdf5_stored_truth_uses_vecbench_conventions(tmp_path):
    # ann-benchmarks stores angular as 1 - cos and euclidean as L2: what verify expects.
    from vecbench.measures.groundtruth import exact_knn, verify

    train, test = vectors(300), vectors(6, seed=2)
    for distance, metric in (("angular", "cosine"), ("euclidean", "euclidean")):
        gt = exact_knn(train, test, 10, metric)
        path = write_hdf5(
            tmp_path / f"{distance}.hdf5",
            train,
            test,
            distance=distance,
            neighbors=gt.ids,
            distances=gt.distances,
        )
        assert verify(load(path), sample=6)["ok"]


@pytest.mark.parametrize(
    "content, needle",
    [(b"", "HDF5"), (b"definitely not hdf5" * 10, "HDF5")],
)
def test_not_hdf5_is_a_dataset_error(tmp_path, content, needle):
    path = tmp_path / "bad.hdf5"
    path.write_bytes(content)
    with pytest.raises(DatasetError, match=needle):
        load(path)


def test_hdf5_missing_parts(tmp_path):
    path = tmp_path / "m.hdf5"
    with h5py.File(path, "w") as f:
        f.attrs["distance"] = "euclidean"
        f.create_dataset("train", data=vectors(10))
    with pytest.raises(DatasetError, match="test"):
        load(path)
    with pytest.raises(DatasetError, match="not found"):
        load(tmp_path / "absent.hdf5")
    nodist = write_hdf5(tmp_path / "nodist.hdf5", vectors(10), vectors(2), distance=None)
    with pytest.raises(DatasetError, match="metric="):
        load(nodist)
    assert load(nodist, metric="ip").metric is Metric.IP
    jac = write_hdf5(tmp_path / "jac.hdf5", vectors(10), vectors(2), distance="jaccard")
    with pytest.raises(DatasetError, match="jaccard"):
        load(jac)


def test_truncated_hdf5_is_a_dataset_error(tmp_path):
    path = write_hdf5(tmp_path / "t.hdf5", vectors(2000, dim=32), vectors(4, dim=32))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError):
        load(path)


def test_hdf5_nan_and_empty(tmp_path):
    train = vectors(70_000, dim=2)
    train[69_999, 1] = np.nan  # in the second block of the scan
    with pytest.raises(InvalidVectorError, match="69999"):
        load(write_hdf5(tmp_path / "nan.hdf5", train, vectors(2, dim=2)))
    test = vectors(3)
    test[1, 0] = np.inf
    with pytest.raises(InvalidVectorError):
        load(write_hdf5(tmp_path / "inf.hdf5", vectors(10), test))
    with pytest.raises(EmptyDatasetError):
        load(write_hdf5(tmp_path / "e.hdf5", vectors(10), np.zeros((0, 8), np.float32)))


# --------------------------------------------------------------------------- TEXMEX


def write_vecs(path, array):
    array = np.asarray(array)
    dtype = {".fvecs": "<f4", ".ivecs": "<i4", ".bvecs": "u1"}[path.suffix]
    with open(path, "wb") as fh:
        for row in array:
            np.array([len(row)], dtype="<i4").tofile(fh)
            row.astype(dtype).tofile(fh)
    return path


def test_fvecs_round_trip_with_ivecs_groundtruth(tmp_path):
    from vecbench.measures.groundtruth import exact_knn

    base, queries = vectors(120), vectors(4, seed=5)
    gt = exact_knn(base, queries, 7, "euclidean")
    ds = load(
        write_vecs(tmp_path / "b.fvecs", base),
        queries=write_vecs(tmp_path / "q.fvecs", queries),
        groundtruth=write_vecs(tmp_path / "gt.ivecs", gt.ids),
    )
    np.testing.assert_array_equal(np.asarray(ds.base), base)
    np.testing.assert_array_equal(ds.queries, queries)
    np.testing.assert_array_equal(ds.ground_truth.ids, gt.ids)
    np.testing.assert_allclose(ds.ground_truth.distances, gt.distances, rtol=1e-5)
    assert ds.metric is Metric.EUCLIDEAN and ds.checksum.startswith("files:")


def test_bvecs_and_ivecs_bases_convert_lazily(tmp_path):
    u8 = np.random.default_rng(0).integers(0, 256, size=(50, 16)).astype(np.uint8)
    q = u8[:3].astype(np.float32)
    ds = load(
        write_vecs(tmp_path / "b.bvecs", u8), queries=write_vecs(tmp_path / "q.bvecs", u8[:3]), metric="l2"
    )
    assert ds.base.dtype == np.uint8  # memory-mapped as stored
    np.testing.assert_array_equal(ds.queries, q)
    ids, batch = next(ds.batches(20))
    assert batch.dtype == np.float32 and batch.tolist() == u8[:20].astype(np.float32).tolist()
    i32 = np.arange(40, dtype=np.int32).reshape(10, 4)
    ds = load(write_vecs(tmp_path / "b.ivecs", i32), queries=write_vecs(tmp_path / "q.fvecs", i32[:2]))
    np.testing.assert_array_equal(ds.rows([1]), [[4, 5, 6, 7]])


def test_truncated_and_corrupt_vecs(tmp_path):
    path = write_vecs(tmp_path / "b.fvecs", vectors(10))
    q = write_vecs(tmp_path / "q.fvecs", vectors(2))
    data = path.read_bytes()
    path.write_bytes(data[:-3])
    with pytest.raises(DatasetError, match="truncated"):
        load(path, queries=q)
    mixed = bytearray(data)
    rec = 4 + 8 * 4
    mixed[2 * rec : 2 * rec + 4] = np.array([7], "<i4").tobytes()  # record 2 claims dim 7
    path.write_bytes(bytes(mixed))
    with pytest.raises(DatasetError, match="record 2"):
        load(path, queries=q)
    path.write_bytes(b"")
    with pytest.raises(EmptyDatasetError):
        load(path, queries=q)
    path.write_bytes(np.array([-5], "<i4").tobytes())
    with pytest.raises(DatasetError, match="corrupt"):
        load(path, queries=q)


def test_vecs_need_queries_and_matching_groundtruth(tmp_path):
    base = write_vecs(tmp_path / "b.fvecs", vectors(10))
    with pytest.raises(ConfigError, match="queries="):
        load(base)
    q = write_vecs(tmp_path / "q.fvecs", vectors(3))
    bad_gt = write_vecs(tmp_path / "gt.ivecs", np.zeros((2, 5), np.int32))
    with pytest.raises(DatasetError, match="rows"):
        load(base, queries=q, groundtruth=bad_gt)
    out_of_range = write_vecs(tmp_path / "gt2.ivecs", np.full((3, 5), 99, np.int32))
    with pytest.raises(DatasetError, match="outside"):
        load(base, queries=q, groundtruth=out_of_range)


# --------------------------------------------------------------------------- npy


def test_npy_base_and_queries(tmp_path):
    base, queries = vectors(40), vectors(3, seed=4)
    np.save(tmp_path / "b.npy", base)
    np.save(tmp_path / "q.npy", queries)
    ds = load(tmp_path / "b.npy", queries=tmp_path / "q.npy", metric="dot")
    assert ds.metric is Metric.IP and isinstance(ds.base, np.memmap)
    np.testing.assert_array_equal(np.asarray(ds.base), base)
    with pytest.raises(ConfigError, match="queries="):
        load(tmp_path / "b.npy")
    bad = base.copy()
    bad[33, 2] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    with pytest.raises(InvalidVectorError):
        load(tmp_path / "nan.npy", queries=tmp_path / "q.npy")
    np.save(tmp_path / "empty.npy", np.zeros((0, 8), np.float32))
    with pytest.raises(EmptyDatasetError):
        load(tmp_path / "b.npy", queries=tmp_path / "empty.npy")
    (tmp_path / "junk.npy").write_bytes(b"junk")
    with pytest.raises(DatasetError):
        load(tmp_path / "junk.npy", queries=tmp_path / "q.npy")


# --------------------------------------------------------------------------- names, manifests


def test_unknown_name_lists_valid_and_mentions_paths():
    with pytest.raises(UnknownNameError) as info:
        load("no-such-dataset")
    assert "synthetic" in info.value.valid and "sift-128-euclidean" in info.value.valid
    assert "path" in str(info.value)
    again = pickle.loads(pickle.dumps(info.value))
    assert str(again) == str(info.value)


def test_manifest_name_needs_fetch_then_loads_from_cache(vb_cache):
    with pytest.raises(DatasetError, match="vecbench datasets fetch glove-25-angular"):
        load("glove-25-angular")
    folder = vb_cache / "datasets"
    folder.mkdir(parents=True)
    write_hdf5(folder / "glove-25-angular.hdf5", vectors(30, dim=25), vectors(2, dim=25), distance="angular")
    from vecbench.datasets.catalog import is_cached

    assert is_cached("glove-25-angular") and not is_cached("sift-128-euclidean")
    ds = load("glove-25-angular")
    assert ds.name == "glove-25-angular" and ds.metric is Metric.COSINE and ds.dim == 25


def test_checksum_is_cached_by_size_and_mtime(tmp_path, vb_cache):
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc")
    first = file_sha256(path)
    assert first == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert list((vb_cache / "checksums").glob("*.json"))
    path.write_bytes(b"abcd")
    assert file_sha256(path) != first


def test_manifests_shipped():
    names = [m.name for m in list_manifests()]
    for name in (
        "sift-128-euclidean",
        "glove-25-angular",
        "glove-100-angular",
        "fashion-mnist-784-euclidean",
        "nytimes-256-angular",
        "gist-960-euclidean",
        "deep-image-96-angular",
        "mnist-784-euclidean",
    ):
        assert name in names
    sift = get_manifest("sift-128-euclidean")
    assert sift.url == "http://ann-benchmarks.com/sift-128-euclidean.hdf5"
    assert (sift.dim, sift.n, sift.nq, sift.metric) == (128, 1_000_000, 10_000, Metric.EUCLIDEAN)
    assert get_manifest("glove-100-angular").metric is Metric.COSINE
    with pytest.raises(UnknownNameError):
        get_manifest("nope")


def test_malformed_manifest_names_the_line():
    with pytest.raises(ConfigError, match="line 3"):
        parse_manifest("datasets:\n  - name: a\n    url: x: y\n")
    text = "datasets:\n  - name: a\n    url: http://x/a.hdf5\n    dim: 2\n    n: 1\n    nq: 1\n    metric: l2\n    format: ann-benchmarks-hdf5\n  - name: b\n    dim: 3\n"
    with pytest.raises(ConfigError, match=r"line 9.*missing key\(s\) \['url'"):
        parse_manifest(text)
    ok = parse_manifest(text.split("  - name: b")[0])
    assert ok[0].metric is Metric.EUCLIDEAN and ok[0].sha256 is None
    with pytest.raises(ConfigError, match="sha256"):
        parse_manifest(text.split("  - name: b")[0] + "    sha256: abc\n")
    with pytest.raises(ConfigError, match="duplicate"):
        parse_manifest(
            text.split("  - name: b")[0] * 1 + text.split("datasets:\n")[1].split("  - name: b")[0]
        )
    with pytest.raises(ConfigError, match="datasets"):
        parse_manifest("- just a list\n")
