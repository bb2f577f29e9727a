"""Base vectors as a streamable source: read in blocks of rows, never whole.

A data set's base set may be larger than memory (10M x 128 float32 is 5 GB). Everything
that walks it (ingest into a store, exact ground truth, checks) reads it through the small
interface below, so memory stays at one block whatever ``n`` is.

``BaseSource`` (the protocol; check with ``isinstance(x, BaseSource)``):

- ``n``, ``dim``: rows and columns; ``dtype``: the dtype the data is *stored* in (uint8 for a
  .bvecs file, float32 for most); every read returns float32 whatever it is;
- ``read(start, stop)``: rows ``[start, stop)`` as a C-contiguous float32 array of shape
  ``(stop - start, dim)``; any range in ``0 <= start <= stop <= n``, in any order;
- ``iter_blocks(rows, start=0, stop=None)``: ``(first_row, block)`` pairs covering
  ``[start, stop)`` in order, each block at most ``rows`` rows (float32, as ``read``).

To write a new source (a generator, a file format) subclass ``BlockSource``: set ``n``,
``dim`` and ``dtype`` in ``__init__`` (no I/O there beyond reading a header) and implement
``_read(start, stop)`` for a validated, non-empty range. ``BlockSource`` gives the rest:
``read``/``iter_blocks`` with their checks, ``take(ids)`` (rows by id, each block read
once; ``take_rows(base, ids)`` does the same for any base), and enough of numpy's array interface (``shape``, ``ndim``, ``len``, slicing and
integer-array indexing, ``np.asarray``) that a source can stand wherever vecbench accepts a
base array, ``Dataset.base`` included. A source must be picklable (a worker process may
rebuild it): keep paths and parameters, open files lazily.

    from vecbench.datasets.stream import ArraySource, iter_id_blocks
    src = ArraySource(np.load("base.npy", mmap_mode="r"))
    for first, block in src.iter_blocks(10_000):
        store.upsert(np.arange(first, first + len(block)), block)

Sources here: ``ArraySource`` (an in-memory array or a memory map: .npy, .fvecs/.bvecs,
contiguous HDF5), ``ParquetSource`` (a list-of-floats column, decoded one row group at a
time) and ``HDF5Source`` (an HDF5 dataset read by slices, for chunked or compressed files);
the synthetic generator's is ``vecbench.datasets.synthetic.SyntheticSource``.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from vecbench.errors import ConfigError, DatasetError
from vecbench.util.validation import is_int

__all__ = [
    "BaseSource",
    "BlockSource",
    "ArraySource",
    "ParquetSource",
    "HDF5Source",
    "as_source",
    "check_block_rows",
    "iter_id_blocks",
    "take_rows",
    "release_pages",
    "base_shape",
]


@runtime_checkable
class BaseSource(Protocol):
    """Base vectors readable by row range; see the module's docstring."""

    n: int
    dim: int
    dtype: np.dtype[Any]

    def read(self, start: int, stop: int) -> NDArray[np.float32]: ...

    def iter_blocks(
        self, rows: int, start: int = 0, stop: int | None = None
    ) -> Iterator[tuple[int, NDArray[np.float32]]]: ...


def check_block_rows(rows: Any, what: str = "block size") -> int:
    """``rows`` as a positive int, or ConfigError (before any work)."""
    if not is_int(rows) or rows <= 0:
        raise ConfigError(f"{what} must be a positive integer, got {rows!r}")
    return int(rows)


class BlockSource(ABC):
    """A ``BaseSource`` built from one method, ``_read(start, stop)``; see the module's docstring."""

    n: int
    dim: int
    dtype: np.dtype[Any]

    @abstractmethod
    def _read(self, start: int, stop: int) -> NDArray[Any]:
        """Rows ``[start, stop)``, ``0 <= start < stop <= n`` (checked by the caller)."""

    # ------------------------------------------------------------------ reading
    def read(self, start: int, stop: int) -> NDArray[np.float32]:
        """Rows ``[start, stop)`` as C-contiguous float32."""
        if not (is_int(start) and is_int(stop) and 0 <= start <= stop <= self.n):
            raise DatasetError(f"rows [{start}, {stop}) are outside 0..{self.n} of this base set")
        if start == stop:
            return np.empty((0, self.dim), dtype=np.float32)
        return np.ascontiguousarray(self._read(int(start), int(stop)), dtype=np.float32)

    def iter_blocks(
        self, rows: int, start: int = 0, stop: int | None = None
    ) -> Iterator[tuple[int, NDArray[np.float32]]]:
        """``(first_row, block)`` over ``[start, stop)`` in order, blocks of at most ``rows``."""
        rows = check_block_rows(rows)
        stop = self.n if stop is None else stop
        if not (is_int(start) and is_int(stop) and 0 <= start <= stop <= self.n):
            raise DatasetError(f"rows [{start}, {stop}) are outside 0..{self.n} of this base set")
        return self._blocks(rows, int(start), int(stop))

    def _blocks(self, rows: int, start: int, stop: int) -> Iterator[tuple[int, NDArray[np.float32]]]:
        for a in range(start, stop, rows):
            yield a, self.read(a, min(stop, a + rows))

    def take(self, ids: Any) -> NDArray[np.float32]:
        """Rows ``ids`` (any shape of integers) as float32 of shape ``ids.shape + (dim,)``.

        Ids are read in sorted order, grouped into runs that share a block of
        ``_take_span`` rows, so a generator makes each block once and a file is read forward.
        """
        return _take_by_runs(self, ids, self._take_span())

    def _take_span(self) -> int:
        """Rows one ``take`` read may cover (reads of whole runs are cheaper than row by row)."""
        return max(1, (4 << 20) // max(1, 4 * self.dim))

    # ------------------------------------------------------------------ numpy look-alike
    @property
    def shape(self) -> tuple[int, int]:
        return (self.n, self.dim)

    @property
    def ndim(self) -> int:
        return 2

    @property
    def size(self) -> int:
        return self.n * self.dim

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, key: Any) -> NDArray[np.float32]:
        """``src[a:b]`` (step 1), ``src[i]``, ``src[ids]``: float32 rows, read on demand."""
        if isinstance(key, tuple):
            rows = self[key[0]]
            rest = tuple(key[1:])
            return rows[(slice(None),) + rest] if rows.ndim == 2 else rows[rest]
        if isinstance(key, slice):
            start, stop, step = key.indices(self.n)
            if step != 1:
                return self.take(np.arange(start, stop, step))
            return self.read(start, max(start, stop))
        if is_int(key):
            i = int(key) + (self.n if int(key) < 0 else 0)
            return self.read(i, i + 1)[0] if 0 <= i < self.n else self.take([i])[0]
        idx = np.asarray(key)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        return self.take(idx)

    def __array__(self, dtype: Any = None, copy: Any = None) -> NDArray[Any]:
        # The whole base in memory: for small sets and for callers that need an array.
        out = self.read(0, self.n)
        return out if dtype is None else out.astype(dtype, copy=False)

    def __repr__(self) -> str:
        shown = ", ".join(f"{a}={getattr(self, a, '?')}" for a in ("n", "dim", "dtype"))
        return f"{type(self).__name__}({shown})"


class ArraySource(BlockSource):
    """An (n, dim) numeric array or memory map; reads are slices converted to float32."""

    def __init__(self, array: NDArray[Any]) -> None:
        if np.ndim(array) != 2:
            raise DatasetError(f"base vectors must be 2-D (n, dim), got shape {np.shape(array)}")
        self.array = array
        self.n, self.dim = (int(s) for s in array.shape)
        self.dtype = np.dtype(array.dtype)

    def _read(self, start: int, stop: int) -> NDArray[Any]:
        return self.array[start:stop]

    def _blocks(self, rows: int, start: int, stop: int) -> Iterator[tuple[int, NDArray[np.float32]]]:
        for a in range(start, stop, rows):
            yield a, self.read(a, min(stop, a + rows))
            release_pages(self.array[a : min(stop, a + rows)])

    def take(self, ids: Any) -> NDArray[np.float32]:
        idx = _checked_ids(ids, self.n)
        if isinstance(self.array, np.memmap):
            return super().take(idx)  # sorted, forward reads of the file
        return np.asarray(self.array[idx.ravel()], dtype=np.float32).reshape(*idx.shape, self.dim)


def _checked_ids(ids: Any, n: int) -> NDArray[np.int64]:
    idx = np.asarray(ids, dtype=np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise DatasetError(f"row ids outside 0..{n - 1} of this base set")
    return idx


def _take_by_runs(source: BaseSource, ids: Any, span: int) -> NDArray[np.float32]:
    idx = _checked_ids(ids, source.n)
    uniq, inverse = np.unique(idx.ravel(), return_inverse=True)
    out = np.empty((uniq.size, source.dim), dtype=np.float32)
    cuts = np.flatnonzero(np.diff(uniq // span)) + 1
    for part in np.split(np.arange(uniq.size), cuts) if uniq.size else []:
        lo, hi = int(uniq[part[0]]), int(uniq[part[-1]]) + 1
        out[part] = source.read(lo, hi)[uniq[part] - lo]
    return out[inverse].reshape(*idx.shape, source.dim)


def take_rows(base: Any, ids: Any) -> NDArray[np.float32]:
    """Rows ``ids`` of any base (array, memory map or source) as float32, shaped ``ids.shape + (dim,)``;
    a source is read in id order, each block once."""
    if isinstance(base, BlockSource):
        return base.take(ids)
    if isinstance(base, BaseSource):
        return _take_by_runs(base, ids, 65_536)
    return ArraySource(base).take(ids)


def release_pages(view: Any) -> None:
    """Drop a memory map's pages under ``view`` from this process (``MADV_DONTNEED``).

    Pages of a file mapping that were read count in the process's RSS (as RssFile) until
    the kernel needs the memory; a pass over a 5 GB file would show 5 GB. Dropping the
    pages of each block once it is consumed keeps RSS at one block. The data stay valid:
    a later read faults them in again from the page cache. Best effort: anything that is
    not a read-only file map of this kind is left alone.
    """
    mm = getattr(view, "_mmap", None)
    if mm is None or not isinstance(view, np.memmap) or view.size == 0 or not hasattr(mm, "madvise"):
        return
    try:
        import mmap

        try:
            from numpy.lib.array_utils import byte_bounds
        except ImportError:  # numpy < 2
            byte_bounds = np.byte_bounds  # type: ignore[attr-defined]

        lo, hi = byte_bounds(view)
        origin = np.frombuffer(mm, dtype=np.uint8).ctypes.data
        first = (lo - origin) // mmap.PAGESIZE * mmap.PAGESIZE
        # Whole pages inside the view only: a neighbour's partial page may still be in use.
        last = (hi - origin) // mmap.PAGESIZE * mmap.PAGESIZE
        if last > first:
            mm.madvise(mmap.MADV_DONTNEED, first, last - first)
    except (ImportError, ValueError, OSError, AttributeError, TypeError):
        return


def base_shape(base: Any) -> tuple[int, ...]:
    """``(n, dim)`` of a source, or the shape of an array, without reading any row."""
    if isinstance(base, BaseSource):
        return (int(base.n), int(base.dim))
    return tuple(int(x) for x in np.shape(base))


def as_source(base: Any) -> BaseSource:
    """``base`` as a BaseSource: a source as it is, an array or memory map wrapped."""
    if isinstance(base, BaseSource):
        return base
    return ArraySource(base)


def iter_id_blocks(
    base: Any, rows: int, start: int = 0, stop: int | None = None
) -> Iterator[tuple[NDArray[np.int64], NDArray[np.float32]]]:
    """``(ids, vectors)`` blocks of any base (array, memory map or source): what stores ingest."""
    for first, block in as_source(base).iter_blocks(rows, start, stop):
        yield np.arange(first, first + len(block), dtype=np.int64), block


class ParquetSource(BlockSource):
    """A Parquet file's list-of-floats ``column`` (VectorDBBench's ``emb``), one row group
    decoded at a time (the last one kept, so reads in order decode each group once)."""

    def __init__(self, path: str | os.PathLike[str], column: str = "emb") -> None:
        from vecbench.util.deps import import_optional

        pq = import_optional("pyarrow.parquet", "parquet")
        self.path, self.column = Path(path), column
        if not self.path.is_file():
            raise DatasetError(f"Parquet file not found: {self.path}")
        try:
            pfile = pq.ParquetFile(self.path)
            meta, names = pfile.metadata, pfile.schema_arrow.names
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several kinds for a damaged file
            raise DatasetError(f"{self.path}: not a readable Parquet file ({exc})") from None
        if column not in names:
            raise DatasetError(f"{self.path}: no column {column!r} (has {names})")
        counts = [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]
        self._starts = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)])
        self.n = int(self._starts[-1])
        if self.n == 0:
            from vecbench.errors import EmptyDatasetError

            raise EmptyDatasetError(f"{self.path}: no rows")
        self.dim = int(self._group(0).shape[1])
        self.dtype = np.dtype(np.float32)

    def _group(self, g: int) -> NDArray[np.float32]:
        cached = self.__dict__.get("_cache")
        if cached is not None and cached[0] == g:
            return cached[1]  # type: ignore[no-any-return]
        import pyarrow.parquet as pq

        try:
            table = pq.ParquetFile(self.path).read_row_group(g, columns=[self.column])
        except Exception as exc:  # noqa: BLE001
            raise DatasetError(f"{self.path}: cannot read row group {g} ({exc})") from None
        col = table.column(0).combine_chunks()
        values = np.asarray(col.flatten().to_numpy(zero_copy_only=False), dtype=np.float32)
        rows = len(col)
        if rows == 0 or values.size % rows or col.null_count:
            raise DatasetError(f"{self.path}: column {self.column!r} has rows of unequal length or nulls")
        block = values.reshape(rows, values.size // rows)
        if getattr(self, "dim", block.shape[1]) != block.shape[1]:
            raise DatasetError(f"{self.path}: row group {g} has dimension {block.shape[1]}, not {self.dim}")
        self._cache = (g, block)
        return block

    def _read(self, start: int, stop: int) -> NDArray[np.float32]:
        first = int(np.searchsorted(self._starts, start, side="right")) - 1
        last = int(np.searchsorted(self._starts, stop, side="left")) - 1
        parts = []
        for g in range(first, last + 1):
            g0 = int(self._starts[g])
            block = self._group(g)
            parts.append(block[max(start, g0) - g0 : min(stop, g0 + len(block)) - g0])
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def _take_span(self) -> int:
        return max(1, int(np.diff(self._starts).max()))

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_cache"}


class HDF5Source(BlockSource):
    """One 2-D dataset (``name``, e.g. ann-benchmarks' ``train``) of an HDF5 file, read by
    slices; the file is opened on first read and reopened after unpickling."""

    def __init__(self, path: str | os.PathLike[str], name: str = "train") -> None:
        import h5py

        self.path, self.name = Path(path), name
        try:
            with h5py.File(self.path, "r") as fh:
                if name not in fh or not isinstance(fh[name], h5py.Dataset) or fh[name].ndim != 2:
                    raise DatasetError(f"{self.path}: no 2-D dataset {name!r}")
                self.n, self.dim = (int(s) for s in fh[name].shape)
                self.dtype = np.dtype(fh[name].dtype)
        except OSError as exc:
            raise DatasetError(f"{self.path}: not a readable HDF5 file ({exc})") from None
        if self.dtype.kind not in "fiu":
            raise DatasetError(f"{self.path}: {name} must be numeric, got dtype {self.dtype}")

    def _read(self, start: int, stop: int) -> NDArray[Any]:
        fh = self.__dict__.get("_fh")
        if fh is None:
            import h5py

            fh = self._fh = h5py.File(self.path, "r")
        try:
            return np.asarray(fh[self.name][start:stop])
        except OSError as exc:  # a damaged chunk or truncated data
            raise DatasetError(f"{self.path}: cannot read rows {start}..{stop} ({exc})") from None

    def _take_span(self) -> int:
        return 65_536

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_fh"}
