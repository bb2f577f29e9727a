"""Streamed base sets: same bytes as the in-memory loaders, blockwise ground truth, ingest in batches."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from vecbench.config import Settings
from vecbench.datasets import load
from vecbench.datasets.stream import (
    ArraySource,
    BaseSource,
    BlockSource,
    HDF5Source,
    ParquetSource,
    as_source,
    iter_id_blocks,
    take_rows,
)
from vecbench.datasets.synthetic import _GEN_ROWS, SyntheticSource
from vecbench.errors import ConfigError, DatasetError
from vecbench.measures.groundtruth import exact_knn

pytestmark = pytest.mark.usefixtures("vb_cache")

# More rows than one generator step, so streamed reads cross block boundaries.
N_MULTI = _GEN_ROWS + 4_465


def _streamed(source: BaseSource, rows: int) -> np.ndarray:
    firsts, blocks = zip(*source.iter_blocks(rows), strict=True)
    assert list(firsts) == list(range(0, source.n, rows))
    assert all(b.dtype == np.float32 and b.flags.c_contiguous and len(b) <= rows for b in blocks)
    return np.concatenate(blocks)


def _rng_base(n: int = 1_000, dim: int = 6) -> np.ndarray:
    return np.random.default_rng(7).standard_normal((n, dim)).astype(np.float32)


# --------------------------------------------------------------------------- same bytes


@pytest.mark.parametrize("rows", [1, 4_999, _GEN_ROWS, N_MULTI + 1])
def test_synthetic_stream_has_the_in_memory_bytes(rows):
    params = {"n": N_MULTI, "dim": 3, "nq": 5, "seed": 11}
    whole = load("synthetic", stream=False, **params)
    lazy = load("synthetic", stream=True, **params)
    assert isinstance(lazy.base, SyntheticSource) and isinstance(whole.base, np.ndarray)
    assert lazy.checksum == whole.checksum and lazy.name == whole.name
    if rows > 1:  # one-row blocks of 70k rows: same path, too slow to be worth it
        np.testing.assert_array_equal(_streamed(lazy.base, rows), whole.base)
    np.testing.assert_array_equal(lazy.queries, whole.queries)
    for key in ("int_attr", "label"):
        np.testing.assert_array_equal(lazy.attributes[key], whole.attributes[key])


def test_synthetic_random_reads_before_and_after_a_pass():
    params = {"n": 3 * _GEN_ROWS + 10, "dim": 2, "nq": 3, "seed": 4}
    whole = load("synthetic", stream=False, **params).base
    lazy = load("synthetic", stream=True, **params).base
    ids = np.array([[3 * _GEN_ROWS + 9, 5], [_GEN_ROWS, _GEN_ROWS - 1]])
    np.testing.assert_array_equal(lazy[ids], whole[ids])  # before any pass: blocks made in order
    np.testing.assert_array_equal(
        lazy.read(_GEN_ROWS - 2, 2 * _GEN_ROWS + 3), whole[_GEN_ROWS - 2 : 2 * _GEN_ROWS + 3]
    )
    np.testing.assert_array_equal(lazy[-1], whole[-1])
    np.testing.assert_array_equal(np.asarray(lazy), whole)
    rebuilt = pickle.loads(pickle.dumps(lazy))  # a worker process rebuilds it
    np.testing.assert_array_equal(rebuilt.read(10, 20), whole[10:20])
    with pytest.raises(ValueError):
        lazy.read(0, 10)[0, 0] = 1.0  # views of the generator's block are read-only


def test_synthetic_default_streams_only_large_sets():
    assert isinstance(load("synthetic", n=1_000, dim=4).base, np.ndarray)
    with pytest.raises(ConfigError, match="stream"):
        load("synthetic", n=10, stream="yes")


def test_npy_memmap_stream_has_the_file_bytes(tmp_path):
    base = _rng_base()
    np.save(tmp_path / "b.npy", base)
    np.save(tmp_path / "q.npy", base[:4])
    ds = load(tmp_path / "b.npy", queries=tmp_path / "q.npy")
    assert isinstance(ds.base, np.memmap)
    np.testing.assert_array_equal(_streamed(ds.base_source, 333), base)
    ids = np.concatenate([b for b, _ in ds.batches(250)])
    np.testing.assert_array_equal(ids, np.arange(len(base)))
    np.testing.assert_array_equal(ds.rows([999, 0, 999]), base[[999, 0, 999]])


def test_bvecs_stream_gives_float32(tmp_path):
    vec = np.random.default_rng(1).integers(0, 256, (50, 4), dtype=np.uint8)
    rec = np.empty(50, dtype=[("d", "<i4"), ("v", "u1", (4,))])
    rec["d"], rec["v"] = 4, vec
    rec.tofile(tmp_path / "b.bvecs")
    ds = load(tmp_path / "b.bvecs", queries=tmp_path / "b.bvecs")
    src = ds.base_source
    assert src.dtype == np.uint8
    np.testing.assert_array_equal(_streamed(src, 7), vec.astype(np.float32))


def test_parquet_stream_by_row_groups(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    base = _rng_base(1_003, 5)
    table = pa.table({"id": np.arange(len(base)), "emb": [row.tolist() for row in base]})
    pq.write_table(table, tmp_path / "train.parquet", row_group_size=100)
    src = ParquetSource(tmp_path / "train.parquet")
    assert (src.n, src.dim) == base.shape and isinstance(src, BaseSource)
    in_memory = np.asarray(pq.read_table(tmp_path / "train.parquet")["emb"].to_pylist(), dtype=np.float32)
    for rows in (1, 37, 100, 2_000):
        np.testing.assert_array_equal(_streamed(src, rows), in_memory)
    np.testing.assert_array_equal(src.read(95, 305), in_memory[95:305])
    np.testing.assert_array_equal(
        take_rows(src, [[1_002, 3], [150, 150]]), in_memory[[[1_002, 3], [150, 150]]]
    )
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(src)).read(0, 3), in_memory[:3])


def test_hdf5_chunked_base_is_read_by_slices(tmp_path):
    h5py = pytest.importorskip("h5py")
    base = _rng_base(500, 4)
    with h5py.File(tmp_path / "c.hdf5", "w") as fh:
        fh.create_dataset("train", data=base, chunks=(16, 4), compression="gzip")
        fh.create_dataset("test", data=base[:3])
        fh.attrs["distance"] = "euclidean"
    ds = load(tmp_path / "c.hdf5")
    assert isinstance(ds.base, HDF5Source)  # not decoded into memory whole
    with h5py.File(tmp_path / "c.hdf5", "r") as fh:
        in_memory = fh["train"][()]
    np.testing.assert_array_equal(_streamed(ds.base, 33), in_memory)
    np.testing.assert_array_equal(ds.rows([499, 0]), in_memory[[499, 0]])
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(ds.base)).read(1, 4), in_memory[1:4])


def test_array_source_and_protocol():
    base = _rng_base(10, 3)
    src = as_source(base)
    assert isinstance(src, ArraySource) and as_source(src) is src
    assert isinstance(src, BaseSource) and not isinstance(base, BaseSource)
    assert src.shape == (10, 3) and len(src) == 10 and src.ndim == 2
    np.testing.assert_array_equal(src[2:9:3], base[2:9:3])
    np.testing.assert_array_equal(src[base[:, 0] > 0], base[base[:, 0] > 0])
    blocks = list(iter_id_blocks(base, 4, start=2, stop=9))
    assert [ids.tolist() for ids, _ in blocks] == [[2, 3, 4, 5], [6, 7, 8]]
    assert src.read(5, 5).shape == (0, 3)


# --------------------------------------------------------------------------- ground truth


@pytest.mark.parametrize("metric", ["euclidean", "cosine", "ip"])
@pytest.mark.parametrize("use_faiss", [False, True])
def test_blockwise_ground_truth_equals_exact_knn(metric, use_faiss):
    if use_faiss:
        pytest.importorskip("faiss")
    params = {"n": N_MULTI, "dim": 8, "nq": 12, "seed": 2, "metric": metric}
    whole = load("synthetic", stream=False, **params)
    lazy = load("synthetic", stream=True, **params)
    ref = exact_knn(whole.base, whole.queries, 10, metric, block_size=N_MULTI, use_faiss=use_faiss)
    for block_size in (997, _GEN_ROWS + 1):
        got = exact_knn(lazy.base, lazy.queries, 10, metric, block_size=block_size, use_faiss=use_faiss)
        np.testing.assert_array_equal(got.ids, ref.ids)
        np.testing.assert_allclose(got.distances, ref.distances, rtol=1e-6, atol=1e-6)
    # and against a float64 brute force
    b, q = whole.base.astype(np.float64), whole.queries.astype(np.float64)
    if metric == "euclidean":
        d = np.sqrt(((q[:, None, :] - b[None]) ** 2).sum(-1))
    elif metric == "cosine":
        d = (
            1
            - (q / np.linalg.norm(q, axis=1, keepdims=True))
            @ (b / np.linalg.norm(b, axis=1, keepdims=True)).T
        )
    else:
        d = -(q @ b.T)
    np.testing.assert_allclose(ref.distances, np.sort(d, axis=1)[:, :10], rtol=1e-4, atol=1e-4)


class _CountingSource(BlockSource):
    """A source that records the rows it is asked for (to see the base is read once, in order)."""

    def __init__(self, base: np.ndarray) -> None:
        self.base, self.n, self.dim, self.dtype = base, base.shape[0], base.shape[1], base.dtype
        self.reads: list[tuple[int, int]] = []

    def _read(self, start: int, stop: int) -> np.ndarray:
        self.reads.append((start, stop))
        return self.base[start:stop]


def test_ground_truth_reads_the_base_once_in_order():
    base = _rng_base(1_000, 5)
    src = _CountingSource(base)
    got = exact_knn(src, base[:7] + 0.01, 5, "euclidean", block_size=128)
    assert src.reads == [(a, min(1_000, a + 128)) for a in range(0, 1_000, 128)]
    ref = exact_knn(base, base[:7] + 0.01, 5, "euclidean", block_size=1_000)
    np.testing.assert_array_equal(got.ids, ref.ids)


# --------------------------------------------------------------------------- harness


def test_harness_ingests_in_batches_and_matches_the_in_memory_run(monkeypatch):
    pytest.importorskip("faiss")
    from vecbench.adapters.faiss import FaissStore
    from vecbench.harness import run_index
    from vecbench.harness.cells import IndexSetting

    calls: list[int] = []
    real_upsert = FaissStore.upsert

    def counting_upsert(self, ids, vectors, *rest, **kw):
        calls.append(len(ids))
        return real_upsert(self, ids, vectors, *rest, **kw)

    monkeypatch.setattr(FaissStore, "upsert", counting_upsert)
    params = {"n": N_MULTI, "dim": 4, "nq": 10, "seed": 3}
    setting = IndexSetting("faiss", "flat", {}, [{}])
    settings = Settings(k=5, warmup=1, repeats=1, batch_size=10_000)
    results = {}
    for stream in (True, False):
        calls.clear()
        [res] = run_index(load("synthetic", stream=stream, **params), setting, settings, run_id="s")
        assert res.ok, res.error
        assert len(calls) == -(-N_MULTI // 10_000) and max(calls) <= 10_000 and sum(calls) == N_MULTI
        results[stream] = res
    np.testing.assert_array_equal(results[True].ids, results[False].ids)
    assert results[True].recall == results[False].recall == 1.0


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("rows", [0, -5, 2.5, "10"])
def test_bad_block_sizes_refused_before_work(rows):
    src = _CountingSource(_rng_base(10, 2))
    with pytest.raises(ConfigError):
        src.iter_blocks(rows)
    ds = load("synthetic", n=50, dim=2, nq=2)
    with pytest.raises(ConfigError):
        ds.batches(rows)
    with pytest.raises(ConfigError):
        exact_knn(src, _rng_base(2, 2), 1, "euclidean", block_size=rows)
    assert src.reads == []


def test_out_of_range_reads_refused():
    src = ArraySource(_rng_base(10, 2))
    for start, stop in [(-1, 3), (3, 2), (0, 11)]:
        with pytest.raises(DatasetError):
            src.read(start, stop)
    with pytest.raises(DatasetError):
        src.take([0, 10])
    with pytest.raises(DatasetError):
        src.iter_blocks(3, 0, 11)


def test_truncated_files_refused_at_load(tmp_path):
    base = _rng_base(100, 4)
    np.save(tmp_path / "q.npy", base[:2])
    np.save(tmp_path / "b.npy", base)
    data = (tmp_path / "b.npy").read_bytes()
    (tmp_path / "b.npy").write_bytes(data[: len(data) - 40])
    with pytest.raises(DatasetError):
        load(tmp_path / "b.npy", queries=tmp_path / "q.npy")
    rec = np.empty(10, dtype=[("d", "<i4"), ("v", "<f4", (4,))])
    rec["d"], rec["v"] = 4, base[:10]
    (tmp_path / "b.fvecs").write_bytes(rec.tobytes()[:-6])
    with pytest.raises(DatasetError, match="truncated"):
        load(tmp_path / "b.fvecs", queries=tmp_path / "q.npy")
    pq = pytest.importorskip("pyarrow.parquet")
    import pyarrow as pa

    pq.write_table(pa.table({"emb": [r.tolist() for r in base]}), tmp_path / "t.parquet")
    blob = (tmp_path / "t.parquet").read_bytes()
    (tmp_path / "t.parquet").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DatasetError):
        ParquetSource(tmp_path / "t.parquet")
    with pytest.raises(DatasetError, match="no column"):
        pq.write_table(pa.table({"x": [1]}), tmp_path / "x.parquet")
        ParquetSource(tmp_path / "x.parquet")
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "h.hdf5", "w") as fh:
        fh.create_dataset("train", data=base)
    blob = (tmp_path / "h.hdf5").read_bytes()
    (tmp_path / "h.hdf5").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DatasetError):
        HDF5Source(tmp_path / "h.hdf5")


def _rss_file_kb() -> int | None:
    try:
        with open("/proc/self/status") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("RssFile:"))
    except (OSError, StopIteration):
        return None


def test_memory_map_pages_dropped_after_each_block(tmp_path):
    if _rss_file_kb() is None:
        pytest.skip("needs Linux /proc/self/status")
    base = np.random.default_rng(0).standard_normal((80_000, 128)).astype(np.float32)  # 40 MB
    np.save(tmp_path / "b.npy", base)
    mm = np.load(tmp_path / "b.npy", mmap_mode="r")
    before = _rss_file_kb()
    total = 0.0
    for _, block in ArraySource(mm).iter_blocks(4_096):
        total += float(block[:, 0].sum())
    grown_kb = _rss_file_kb() - before
    assert grown_kb < 8 * 1024, f"a pass over a 40 MB map left {grown_kb} kB resident"
    assert total == pytest.approx(float(base[:, 0].sum()), rel=1e-4)
    np.testing.assert_array_equal(mm[:3], base[:3])  # the map still reads after its pages were dropped


class _PlainSource:
    """Only the protocol (no BlockSource, no numpy look-alike): what a third-party source may be."""

    def __init__(self, base: np.ndarray) -> None:
        self.base, self.n, self.dim, self.dtype = base, base.shape[0], base.shape[1], base.dtype

    def read(self, start: int, stop: int) -> np.ndarray:
        return self.base[start:stop]

    def iter_blocks(self, rows: int, start: int = 0, stop: int | None = None):
        stop = self.n if stop is None else stop
        return ((a, self.base[a : min(stop, a + rows)]) for a in range(start, stop, rows))


def test_a_plain_protocol_source_works_for_ground_truth_and_rows():
    from vecbench.measures.quality import returned_true_distances

    base = _rng_base(500, 4)
    src = _PlainSource(base)
    assert isinstance(src, BaseSource) and as_source(src) is src
    got = exact_knn(src, base[:6], 4, "euclidean", block_size=64)
    ref = exact_knn(base, base[:6], 4, "euclidean")
    np.testing.assert_array_equal(got.ids, ref.ids)
    np.testing.assert_array_equal(take_rows(src, [[499, 2]]), base[[[499, 2]]])
    np.testing.assert_array_equal(
        returned_true_distances(src, base[:6], got.ids, "euclidean"),
        returned_true_distances(base, base[:6], got.ids, "euclidean"),
    )
