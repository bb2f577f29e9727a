"""VectorDBBench's local layout read as it is: train files (split, shuffled), test,
neighbours remapped to base rows, scalar labels as attributes, the metric its data sets
declare, the converted base cached, bad folders refused."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from vdb_helpers import write_vdb

from vecbench.datasets import load, vdb
from vecbench.errors import ConfigError, DatasetError, DimensionMismatchError, InvalidVectorError
from vecbench.measures.groundtruth import exact_knn
from vecbench.metrics import Metric

pytest.importorskip("pyarrow")
pytestmark = pytest.mark.usefixtures("vb_cache")


def data(n=240, dim=8, nq=6, seed=0):
    rng = np.random.default_rng(seed)
    scale = rng.uniform(0.3, 3.0, size=(n, 1)).astype(np.float32)  # not unit-length
    base = rng.standard_normal((n, dim)).astype(np.float32) * scale
    return base, rng.standard_normal((nq, dim)).astype(np.float32)


def test_plain_layout_with_neighbours_and_labels(tmp_path):
    base, queries = data()
    gt = exact_knn(base, queries, 10, "cosine")
    labels = [f"label_{i % 5}" for i in range(len(base))]
    folder = write_vdb(
        tmp_path / "cohere" / "cohere_small_100k",
        base,
        queries,
        neighbors=gt.ids,
        labels={"labels": labels, "year": list(range(len(base)))},
    )
    ds = load(f"vdb:{folder}")
    assert ds.name == "cohere_small_100k" and ds.metric is Metric.COSINE
    assert "cohere" in ds.params["metric_from"] and ds.params["format"] == "vectordbbench"
    assert (ds.n, ds.dim, ds.nq) == (240, 8, 6) and isinstance(ds.base, np.memmap)
    np.testing.assert_array_equal(np.asarray(ds.base), base)
    np.testing.assert_array_equal(ds.queries, queries)
    np.testing.assert_array_equal(ds.ground_truth.ids, gt.ids)
    np.testing.assert_allclose(ds.ground_truth.distances, gt.distances, rtol=1e-5, atol=1e-6)
    assert ds.attributes["labels"].tolist() == labels and ds.attributes["year"].dtype == np.int64
    assert ds.checksum.startswith("files:")
    assert load(folder).checksum == ds.checksum  # the folder's path alone: detected
    ids, batch = next(ds.batches(100))
    assert batch.dtype == np.float32 and batch.shape == (100, 8) and ids.tolist() == list(range(100))


def test_shuffled_split_files_map_ids_to_rows(tmp_path):
    base, queries = data(n=300)
    gt = exact_knn(base, queries, 10, "euclidean")
    perm = np.random.default_rng(3).permutation(len(base))  # row r of the files holds id perm[r]
    labels = [f"label_{i % 3}" for i in range(len(base))]  # label of id i, rows in id order
    folder = write_vdb(
        tmp_path / "sift_small_500k",
        base[perm],
        queries,
        ids=perm,
        neighbors=gt.ids,
        parts=3,
        prefix="shuffle_train",
        labels={"labels": labels},
    )
    ds = load(folder)
    assert ds.metric is Metric.EUCLIDEAN
    assert ds.params["train"] == [f"shuffle_train-{i:02d}-of-03.parquet" for i in range(3)]
    np.testing.assert_array_equal(np.asarray(ds.base), base[perm])  # the files' (insert) order
    row_of_id = np.argsort(perm)
    np.testing.assert_array_equal(ds.ground_truth.ids, row_of_id[gt.ids])
    np.testing.assert_array_equal(ds.rows(ds.ground_truth.ids[0]), base[gt.ids[0]])  # same vectors
    assert ds.attributes["labels"].tolist() == [labels[i] for i in perm]


def test_sparse_ids_and_fixed_size_lists(tmp_path):
    base, queries = data(n=50)
    gt = exact_knn(base, queries, 5, "ip")
    ids = np.arange(50) * 7 + 1000  # not 0..n-1
    folder = write_vdb(tmp_path / "custom", base, queries, ids=ids, neighbors=ids[gt.ids], fixed_size=True)
    ds = load(folder, metric="ip")
    np.testing.assert_array_equal(ds.ground_truth.ids, gt.ids)
    assert ds.params["metric_from"] == "given"


def test_both_copies_prefer_shuffled_unless_asked(tmp_path):
    base, queries = data(n=40)
    folder = write_vdb(tmp_path / "openai_small_50k", base, queries)
    write_vdb(folder, base[::-1].copy(), queries, ids=np.arange(40)[::-1].copy(), prefix="shuffle_train")
    assert vdb.train_files(folder)[0].name == "shuffle_train.parquet"
    np.testing.assert_array_equal(np.asarray(load(folder).base), base[::-1])
    np.testing.assert_array_equal(np.asarray(load(folder, shuffled=False).base), base)
    with pytest.raises(ConfigError, match="shuffled"):
        load(folder, shuffled="yes")


def test_conversion_streams_in_batches_and_is_cached(tmp_path, vb_cache, monkeypatch):
    base, queries = data(n=500, dim=16)
    folder = write_vdb(tmp_path / "glove_medium_1m", base, queries, parts=2)
    monkeypatch.setattr(vdb, "_BATCH_BYTES", 16 * 8 * 37)  # 37 rows a batch: many batches per file
    calls = []
    real = vdb._convert
    monkeypatch.setattr(vdb, "_convert", lambda files, out: calls.append(out) or real(files, out))
    first = load(folder)
    np.testing.assert_array_equal(np.asarray(first.base), base)
    again = load(folder)
    assert len(calls) == 1  # the second load reads the converted base
    cached = list((vb_cache / "datasets" / "vdb").glob("*/base.npy"))
    assert len(cached) == 1 and str(again.base.filename) == str(cached[0])
    assert not list((vb_cache / "datasets" / "vdb").glob("*.tmp"))


def test_metric_from_the_folder_or_given(tmp_path):
    base, queries = data(n=30)
    write_vdb(tmp_path / "bioasq" / "bioasq_medium_1m", base, queries)
    assert load(tmp_path / "bioasq" / "bioasq_medium_1m").metric is Metric.COSINE
    assert vdb.vdb_metric(tmp_path / "bioasq") is not None
    mine = write_vdb(tmp_path / "mine", base, queries)
    with pytest.raises(ConfigError, match=r"'mine' is none of its data sets .*metric="):
        load(mine)
    assert load(mine, metric="l2").metric is Metric.EUCLIDEAN
    assert load(tmp_path / "bioasq" / "bioasq_medium_1m", metric="ip").metric is Metric.IP


def test_incomplete_or_foreign_folders(tmp_path):
    base, queries = data(n=30)
    folder = write_vdb(tmp_path / "cohere_x", base, queries, parts=3)
    (folder / "train-01-of-03.parquet").unlink()
    with pytest.raises(DatasetError, match=r"missing part\(s\) \[1\]"):
        load(folder)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetError, match="VectorDBBench's layout"):
        load(empty)
    with pytest.raises(DatasetError, match="not found"):
        load(f"vdb:{tmp_path / 'absent'}")
    with pytest.raises(DatasetError, match="test.parquet"):
        load(f"vdb:{empty}")
    ok = write_vdb(tmp_path / "cohere_y", base, queries)
    with pytest.raises(ConfigError, match=r"unknown data set parameter\(s\) \['queries'\]"):
        load(ok, queries="q.npy")
    (ok / "test.parquet").write_bytes(b"not parquet")
    with pytest.raises(DatasetError, match="not a readable Parquet"):
        load(ok)


def test_bad_columns_and_vectors(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    base, queries = data(n=30)
    folder = write_vdb(tmp_path / "cohere_z", base, queries)
    pq.write_table(pa.table({"id": [0], "vector": [[1.0]]}), folder / "test.parquet")
    with pytest.raises(DatasetError, match=r"missing column\(s\) \['emb'\]"):
        load(folder)
    write_vdb(folder, base, queries[:, :4].copy())
    with pytest.raises(DimensionMismatchError):
        load(folder)
    bad = base.copy()
    bad[17, 2] = np.nan
    nan_folder = write_vdb(tmp_path / "cohere_nan", bad, queries)
    with pytest.raises(InvalidVectorError, match="row 17"):
        load(nan_folder)
    ragged = tmp_path / "cohere_ragged"
    write_vdb(ragged, base, queries)
    pq.write_table(pa.table({"id": [0, 1], "emb": [[1.0, 2.0], [1.0]]}), ragged / "train.parquet")
    with pytest.raises(DatasetError, match="different lengths"):
        load(ragged)


def test_bad_neighbours_and_labels(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    base, queries = data(n=30, nq=3)
    nb = np.tile(np.arange(5), (3, 1))
    nb[1, 2] = 99  # no such train id
    folder = write_vdb(tmp_path / "cohere_n", base, queries, neighbors=nb)
    with pytest.raises(DatasetError, match=r"neighbors\.parquet: id 99 is not in the train files"):
        load(folder)
    pq.write_table(pa.table({"id": [0, 1], "neighbors_id": [[1, 2], [3, 4]]}), folder / "neighbors.parquet")
    with pytest.raises(DatasetError, match="2 neighbour rows for 3 queries"):
        load(folder)
    labelled = write_vdb(tmp_path / "cohere_l", base, queries, labels={"labels": ["a"] * 30})
    pq.write_table(
        pa.table({"id": list(range(29)), "labels": ["a"] * 29}), labelled / "scalar_labels.parquet"
    )
    with pytest.raises(ConfigError, match=r"scalar_labels\.parquet: 29 label rows for 30"):
        load(labelled)
    pq.write_table(pa.table({"id": [0] * 30, "labels": ["a"] * 30}), labelled / "scalar_labels.parquet")
    with pytest.raises(ConfigError, match="more than one label row"):
        load(labelled)


def test_repeated_train_ids_are_refused(tmp_path):
    base, queries = data(n=20)
    ids = np.arange(20)
    ids[5] = 4
    folder = write_vdb(tmp_path / "cohere_r", base, queries, ids=ids)
    with pytest.raises(DatasetError, match="repeated"):
        load(folder)


def test_without_pyarrow_the_extra_is_named(tmp_path, monkeypatch):
    from vecbench.errors import MissingDependencyError

    base, queries = data(n=20)
    folder = write_vdb(tmp_path / "cohere_p", base, queries)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)  # import fails as if not installed
    with pytest.raises(MissingDependencyError, match=r"vecbench\[parquet\]"):
        load(folder)
