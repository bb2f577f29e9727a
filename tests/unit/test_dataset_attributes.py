"""Attribute columns read from files: .npz / .parquet beside an .npy or vecs base, an HDF5
``attributes`` group; dtypes kept (integers), strings as labels, wrong lengths refused."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from vecbench.datasets import load
from vecbench.datasets.attributes import attribute_column
from vecbench.errors import ConfigError
from vecbench.workloads.filters import parse_filter

pytestmark = pytest.mark.usefixtures("vb_cache")


def npy_set(tmp_path, n=30, dim=4):
    rng = np.random.default_rng(0)
    np.save(tmp_path / "b.npy", rng.standard_normal((n, dim)).astype(np.float32))
    np.save(tmp_path / "q.npy", rng.standard_normal((3, dim)).astype(np.float32))
    return tmp_path / "b.npy", tmp_path / "q.npy"


def test_npz_attributes_beside_an_npy_base(tmp_path):
    base, queries = npy_set(tmp_path)
    labels = np.array([f"tenant_{i % 4}" for i in range(30)])
    years = np.arange(30, dtype=np.int32) + 2000
    np.savez(tmp_path / "a.npz", label=labels, year=years, flag=np.arange(30) % 2 == 0)
    ds = load(base, queries=queries, attributes=tmp_path / "a.npz")
    assert set(ds.attributes) == {"label", "year", "flag"}
    assert ds.attributes["year"].dtype == np.int64 and ds.attributes["year"][5] == 2005
    assert ds.attributes["label"].dtype.kind == "U" and ds.attributes["label"][6] == "tenant_2"
    assert ds.attributes["flag"].tolist()[:3] == [1, 0, 1]  # booleans become 0/1 integers
    keep = parse_filter({"label": "tenant_1", "year": {"gte": 2010}}).mask(ds.attributes)
    assert keep.sum() == sum(1 for i in range(30) if i % 4 == 1 and i >= 10)
    assert ds.params["attributes"] == str(tmp_path / "a.npz")


def test_attributes_are_in_the_checksum_only_when_given(tmp_path):
    base, queries = npy_set(tmp_path)
    plain = load(base, queries=queries).checksum
    np.savez(tmp_path / "a.npz", year=np.arange(30))
    with_a = load(base, queries=queries, attributes=tmp_path / "a.npz").checksum
    np.savez(tmp_path / "a.npz", year=np.arange(30) + 1)
    changed = load(base, queries=queries, attributes=tmp_path / "a.npz").checksum
    assert len({plain, with_a, changed}) == 3
    assert load(base, queries=queries).checksum == plain


def test_parquet_attributes_keep_integers_and_read_strings(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    base, queries = npy_set(tmp_path)
    table = pa.table(
        {
            "label": pa.array([f"l{i % 3}" for i in range(30)]).dictionary_encode(),
            "price": pa.array(np.linspace(0, 1, 30)),
            "n": pa.array(np.arange(30, dtype=np.uint16)),
        }
    )
    pq.write_table(table, tmp_path / "attrs.parquet")
    ds = load(base, queries=queries, attributes=tmp_path / "attrs.parquet")
    assert ds.attributes["n"].dtype == np.int64 and ds.attributes["n"][29] == 29
    assert ds.attributes["price"].dtype == np.float64
    assert ds.attributes["label"].tolist()[:4] == ["l0", "l1", "l2", "l0"]


def test_hdf5_attributes_group(tmp_path):
    rng = np.random.default_rng(1)
    path = tmp_path / "s.hdf5"
    with h5py.File(path, "w") as f:
        f.attrs["distance"] = "euclidean"
        f.create_dataset("train", data=rng.standard_normal((20, 4)).astype(np.float32))
        f.create_dataset("test", data=rng.standard_normal((2, 4)).astype(np.float32))
        g = f.create_group("attributes")
        g.create_dataset("year", data=np.arange(20, dtype=np.int16))
        g.create_dataset("label", data=np.array([b"news", b"blog"] * 10))  # fixed-width bytes
        g.create_dataset("tag", data=["x", "yz"] * 10, dtype=h5py.string_dtype())  # variable-length
    ds = load(path)
    assert ds.attributes["year"].dtype == np.int64
    assert ds.attributes["label"].tolist()[:2] == ["news", "blog"]
    assert ds.attributes["tag"].tolist()[:2] == ["x", "yz"]
    with h5py.File(path, "a") as f:
        f["attributes"].create_dataset("short", data=np.arange(19))
    with pytest.raises(ConfigError, match=r"s\.hdf5.*'short' has 19 values for 20"):
        load(path)


def test_wrong_lengths_and_kinds_name_the_file(tmp_path):
    base, queries = npy_set(tmp_path)
    np.savez(tmp_path / "short.npz", year=np.arange(29))
    with pytest.raises(ConfigError, match=r"short\.npz: attribute 'year' has 29 values for 30"):
        load(base, queries=queries, attributes=tmp_path / "short.npz")
    np.savez(tmp_path / "obj.npz", label=np.array(["a", None] * 15, dtype=object))
    with pytest.raises(ConfigError, match=r"obj\.npz.*pickle"):
        load(base, queries=queries, attributes=tmp_path / "obj.npz")
    np.savez(tmp_path / "twod.npz", m=np.zeros((30, 2)))
    with pytest.raises(ConfigError, match="1-D"):
        load(base, queries=queries, attributes=tmp_path / "twod.npz")
    with pytest.raises(ConfigError, match="not found"):
        load(base, queries=queries, attributes=tmp_path / "absent.npz")
    (tmp_path / "a.csv").write_text("x\n")
    with pytest.raises(ConfigError, match=r"\.npz or \.parquet"):
        load(base, queries=queries, attributes=tmp_path / "a.csv")


def test_parquet_attributes_with_missing_values_are_refused(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    base, queries = npy_set(tmp_path)
    pq.write_table(pa.table({"label": ["a", None] * 15}), tmp_path / "nulls.parquet")
    with pytest.raises(ConfigError, match=r"nulls\.parquet: attribute 'label' has 15 missing"):
        load(base, queries=queries, attributes=tmp_path / "nulls.parquet")
    pq.write_table(pa.table({"when": pa.array([[1]] * 30)}), tmp_path / "lists.parquet")
    with pytest.raises(ConfigError, match="integers, floats or strings"):
        load(base, queries=queries, attributes=tmp_path / "lists.parquet")


def test_attribute_column_dtypes():
    assert attribute_column(np.array([1.5, 2.0], np.float32), "x", 2, "f").dtype == np.float64
    with pytest.raises(ConfigError, match="NaN"):
        attribute_column(np.array([1.0, np.nan]), "x", 2, "f")
    with pytest.raises(ConfigError, match="beyond int64"):
        attribute_column(np.array([2**63], np.uint64), "x", 1, "f")
    with pytest.raises(ConfigError, match="complex"):
        attribute_column(np.array([1j]), "x", 1, "f")
