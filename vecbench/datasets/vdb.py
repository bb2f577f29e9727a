"""VectorDBBench's local data set layout, read as it is.

VectorDBBench keeps each data set in one folder (``<its dataset dir>/<name>/<name>_<size
label>_<n>``, e.g. ``cohere/cohere_medium_1m``) of Parquet files:

- ``train.parquet``, or ``train-00-of-10.parquet`` ... ``train-09-of-10.parquet`` when split;
  ``shuffle_train...`` for the shuffled copies (ids in any order): columns ``id`` (integer)
  and ``emb`` (a list of floats);
- ``test.parquet``: ``id``, ``emb`` (the queries);
- ``neighbors.parquet``: ``id`` (a query's id), ``neighbors_id`` (train ids, nearest first);
  optional: without it vecbench computes exact ground truth itself;
- ``scalar_labels.parquet`` (optional): ``id`` (a train id) and label columns (``labels``),
  which become ``Dataset.attributes`` for filtered search.

    ds = load("vdb:/data/vectordb_bench/dataset/cohere/cohere_medium_1m")
    ds = load("/data/.../cohere_medium_1m")                 # a folder in this layout: the same
    ds = load("vdb:/data/my_set", metric="ip", shuffled=False)

Base rows are the train rows in file order: the shuffled files' order when those are read,
which is the order VectorDBBench inserts them in. Train ids are mapped to those row numbers,
and neighbours and labels follow the mapping. When a folder holds both copies, the shuffled
one is read (VectorDBBench's default) unless ``shuffled=False``.

The train files are streamed once, batch by batch (about 8 MB of vectors at a time), into a
float32 memory map under ``$VECBENCH_CACHE/datasets/vdb/<digest>/`` (``base.npy`` and the
train ids, ``ids.npy``), reused by every later load of the same files: vecbench reads base rows
at random (ground truth of the neighbours, filters, runbooks), which Parquet cannot do
without decoding whole row groups. Memory stays at one batch; the disk holds one float32
copy of the base set.

The metric is not in the files: VectorDBBench declares it in each data set's definition
(``metric_type`` in its ``backend/dataset.py``), and the folder name says which data set it
is (cohere, openai, bioasq, glove: cosine; sift, gist, laion: L2). For any other folder (a
VectorDBBench custom data set, whose metric is in its own case config) pass ``metric=``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vecbench.datasets.base import Dataset, GroundTruth
from vecbench.datasets.checksums import file_sha256
from vecbench.errors import ConfigError, DatasetError, EmptyDatasetError, InvalidVectorError
from vecbench.metrics import Metric
from vecbench.util.paths import cache_dir

__all__ = ["load_vdb", "is_vdb_folder", "train_files", "vdb_metric", "PREFIX", "VDB_METRICS"]

PREFIX = "vdb:"
"""A data set name of this form, ``vdb:PATH``, reads the folder PATH in this layout."""

VDB_METRICS = {
    "cohere": Metric.COSINE,
    "openai": Metric.COSINE,
    "bioasq": Metric.COSINE,
    "glove": Metric.COSINE,
    "sift": Metric.EUCLIDEAN,
    "gist": Metric.EUCLIDEAN,
    "laion": Metric.EUCLIDEAN,
}
"""VectorDBBench's data sets and the metric each declares (its ``metric_type``; L2 is euclidean)."""

_TRAIN = re.compile(r"^(shuffle_train|train)(?:-(\d+)-of-(\d+))?\.parquet$")
_BATCH_BYTES = 8 << 20  # vectors decoded per step while converting (as float64, the widest)
_READ_BUFFER = 1 << 20  # bytes read from a train file at a time
_CACHE_VERSION = 1  # bump when the converted layout changes: it is in the cache key


def _pq() -> Any:
    from vecbench.util.deps import import_optional

    return import_optional("pyarrow.parquet", "parquet")


def is_vdb_folder(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a folder with VectorDBBench's ``test.parquet`` and train files."""
    folder = Path(path)
    if not folder.is_dir() or not (folder / "test.parquet").is_file():
        return False
    return any(_TRAIN.match(p.name) for p in folder.iterdir())


def train_files(folder: str | os.PathLike[str], shuffled: bool | None = None) -> list[Path]:
    """The train files to read, in order: ``train.parquet`` or the complete ``-NN-of-MM``
    set, of the shuffled copy (``shuffled=True``), the plain one (``False``) or, with
    None, the shuffled one where both are there."""
    folder = Path(folder)
    found: dict[str, dict[int | None, tuple[Path, int | None]]] = {}
    for path in sorted(folder.iterdir()):
        m = _TRAIN.match(path.name)
        if m:
            part = int(m.group(2)) if m.group(2) else None
            found.setdefault(m.group(1), {})[part] = (path, int(m.group(3)) if m.group(3) else None)
    if shuffled is None:
        prefix = "shuffle_train" if "shuffle_train" in found else "train"
    else:
        prefix = "shuffle_train" if shuffled else "train"
    parts = found.get(prefix)
    if not parts:
        have = ", ".join(sorted(found)) or "none"
        raise DatasetError(f"{folder}: no {prefix}*.parquet files (train file sets there: {have})")
    if None in parts:
        if len(parts) > 1:
            raise DatasetError(f"{folder}: both {prefix}.parquet and split {prefix}-NN-of-MM files")
        return [parts[None][0]]
    totals = {total for _, total in parts.values()}
    if len(totals) != 1:
        raise DatasetError(
            f"{folder}: {prefix} files of different splits (-of-{sorted(t or 0 for t in totals)})"
        )
    total = totals.pop() or 0
    missing = [i for i in range(total) if i not in parts]
    extra = [i for i in parts if i is not None and i >= total]
    if missing or extra:
        raise DatasetError(
            f"{folder}: incomplete split of {total} {prefix} files: missing part(s) {missing or 'none'}"
            + (f", parts beyond the count {extra}" if extra else "")
        )
    return [parts[i][0] for i in range(total)]


def vdb_metric(folder: str | os.PathLike[str]) -> tuple[Metric, str] | None:
    """The metric VectorDBBench declares for the data set in ``folder`` (by the folder's name,
    ``cohere_medium_1m``, or its parent's, ``cohere``), and where it came from; None when
    the name is none of VectorDBBench's data sets."""
    folder = Path(folder).resolve()
    for name in (folder.name, folder.parent.name):
        key = name.lower().split("_")[0]
        if key in VDB_METRICS:
            metric = VDB_METRICS[key]
            return metric, f"VectorDBBench's {key} data set (folder {name!r}) declares {metric.value}"
    return None


# --------------------------------------------------------------------------- columns


def _vectors(col: Any, where: str) -> NDArray[np.float32]:
    """(rows, dim) float32 from an Arrow list column of equal-length float lists."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if col.null_count:
        raise DatasetError(f"{where}: {col.null_count} missing vector(s) in column emb")
    typ = col.type
    if pa.types.is_fixed_size_list(typ):
        dim = int(typ.list_size)
    elif pa.types.is_list(typ) or pa.types.is_large_list(typ):
        lengths = pc.list_value_length(col).to_numpy(zero_copy_only=False)
        dim = int(lengths[0]) if len(lengths) else 0
        if (lengths != dim).any():
            raise DatasetError(
                f"{where}: vectors of different lengths in column emb ({lengths.min()}..{lengths.max()})"
            )
    else:
        raise DatasetError(f"{where}: column emb has type {typ}, expected a list of floats")
    values = col.flatten()
    if not (pa.types.is_floating(values.type) or pa.types.is_integer(values.type)) or values.null_count:
        raise DatasetError(f"{where}: column emb holds {values.type} values with nulls or not numbers")
    if dim == 0 and len(col):
        raise DatasetError(f"{where}: empty vectors in column emb")
    flat = values.to_numpy(zero_copy_only=False)
    return np.asarray(flat, dtype=np.float32).reshape(len(col), dim)


def _ids(col: Any, where: str, what: str = "id") -> NDArray[np.int64]:
    import pyarrow as pa

    if not pa.types.is_integer(col.type):
        raise DatasetError(f"{where}: column {what} has type {col.type}, expected integers")
    if col.null_count:
        raise DatasetError(f"{where}: {col.null_count} missing value(s) in column {what}")
    return np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.int64)


def _read(path: Path, columns: list[str], *, every: bool = False) -> Any:
    """The table of ``path``: ``columns`` (which must be there), or every column with ``every``."""
    pq = _pq()
    try:
        have = pq.read_schema(path).names
    except Exception as exc:  # ArrowInvalid, OSError: not Parquet
        raise DatasetError(f"{path}: not a readable Parquet file ({exc})") from None
    missing = [c for c in columns if c not in have]
    if missing:
        raise DatasetError(f"{path}: missing column(s) {missing}; it has {have}")
    return pq.read_table(path, columns=None if every else columns)


class _RowsOfIds:
    """Row number of each id of a column of unique integer ids (train ids, query ids)."""

    def __init__(self, ids: NDArray[np.int64], where: str) -> None:
        self.n = int(ids.shape[0])
        self.where = where
        self.inverse: NDArray[np.int64] | None = None
        if self.n and ids.min() == 0 and ids.max() == self.n - 1:
            inverse = np.full(self.n, -1, dtype=np.int64)
            inverse[ids] = np.arange(self.n, dtype=np.int64)
            if (inverse < 0).any():  # n ids in 0..n-1 with one missing: another repeats
                raise DatasetError(f"{where}: repeated id(s) in column id")
            self.inverse = inverse
            return
        self.order = np.argsort(ids, kind="stable")
        self.sorted = ids[self.order]
        repeated = np.nonzero(self.sorted[1:] == self.sorted[:-1])[0]
        if repeated.size:
            raise DatasetError(f"{where}: id {int(self.sorted[repeated[0]])} appears more than once")

    def rows(self, ids: NDArray[np.int64], source: str) -> NDArray[np.int64]:
        """Row numbers of ``ids`` (any shape); DatasetError naming ``source`` for an unknown id."""
        flat = np.asarray(ids, dtype=np.int64).ravel()
        if self.inverse is not None:
            bad = (flat < 0) | (flat >= self.n)
            if bad.any():
                self._unknown(int(flat[bad][0]), source)
            return self.inverse[flat].reshape(np.shape(ids))
        pos = np.minimum(np.searchsorted(self.sorted, flat), max(self.n - 1, 0))
        found = self.sorted[pos] == flat if self.n else np.zeros(flat.shape, dtype=bool)
        if not found.all():
            self._unknown(int(flat[~found][0]), source)
        return self.order[pos].reshape(np.shape(ids))

    def _unknown(self, value: int, source: str) -> None:
        raise DatasetError(f"{source}: id {value} is not in {self.where}")


# --------------------------------------------------------------------------- train files


def _cache_folder(files: list[Path]) -> Path:
    record = {"version": _CACHE_VERSION, "train": [file_sha256(p) for p in files]}
    digest = hashlib.sha256(json.dumps(record, sort_keys=True).encode("utf-8")).hexdigest()
    return cache_dir() / "datasets" / "vdb" / digest[:32]


def _converted(files: list[Path]) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """The train vectors as a float32 memory map and their ids, converted once and cached."""
    target = _cache_folder(files)
    if not (target / "base.npy").is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=target.name + ".", suffix=".tmp", dir=target.parent))
        try:
            _convert(files, tmp)
            try:
                os.replace(tmp, target)
            except OSError:  # another process converted the same files first
                if not (target / "base.npy").is_file():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    try:
        base = np.load(target / "base.npy", mmap_mode="r", allow_pickle=False)
        ids = np.load(target / "ids.npy", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DatasetError(
            f"{target}: unreadable converted base ({exc}); delete the folder to convert again"
        ) from None
    return base, ids


def _convert(files: list[Path], folder: Path) -> None:
    """Stream the train files into ``folder``/base.npy (float32) and ids.npy, batch by batch."""
    pq = _pq()
    import pyarrow as pa

    handles = []
    for path in files:
        try:
            # pyarrow's defaults read a whole row group at once (VectorDBBench's files hold up
            # to 1M rows in one); a small read buffer and small batches keep memory to a batch.
            handle = pq.ParquetFile(path, pre_buffer=False, buffer_size=_READ_BUFFER)
        except Exception as exc:  # ArrowInvalid, OSError: not Parquet
            raise DatasetError(f"{path}: not a readable Parquet file ({exc})") from None
        missing = [c for c in ("id", "emb") if c not in handle.schema_arrow.names]
        if missing:
            raise DatasetError(f"{path}: missing column(s) {missing}; it has {handle.schema_arrow.names}")
        handles.append(handle)
    n = sum(h.metadata.num_rows for h in handles)
    if n == 0:
        raise EmptyDatasetError(f"{files[0].parent}: the train files hold no vectors")
    first = next(h for h in handles if h.metadata.num_rows)
    dim = _vectors(
        next(first.iter_batches(batch_size=1, columns=["emb"])).column("emb"), str(files[0])
    ).shape[1]
    rows = max(1, _BATCH_BYTES // (8 * dim))
    pool = pa.default_memory_pool()
    base = np.lib.format.open_memmap(folder / "base.npy", mode="w+", dtype=np.float32, shape=(n, dim))
    ids = np.empty(n, dtype=np.int64)
    row = 0
    for path, handle in zip(files, handles, strict=True):
        start = row
        for batch in handle.iter_batches(batch_size=rows, columns=["id", "emb"]):
            vec = _vectors(batch.column("emb"), str(path))
            if vec.shape[1] != dim:
                raise DatasetError(f"{path}: vectors of dimension {vec.shape[1]}, earlier ones {dim}")
            finite = np.isfinite(vec).all(axis=1)
            if not finite.all():
                at = row - start + int(np.argmin(finite))
                raise InvalidVectorError(f"{path}: vector at row {at} holds NaN or inf")
            base[row : row + len(vec)] = vec
            ids[row : row + len(vec)] = _ids(batch.column("id"), str(path))
            row += len(vec)
            pool.release_unused()  # mimalloc, Arrow's default pool, would keep freed batches
    base.flush()
    del base
    np.save(folder / "ids.npy", ids)
    meta = {"train": [str(p) for p in files], "n": n, "dim": dim, "version": _CACHE_VERSION}
    (folder / "source.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")


# --------------------------------------------------------------------------- the data set


def load_vdb(
    path: str | os.PathLike[str],
    *,
    metric: Metric | str | None = None,
    shuffled: bool | None = None,
    name: str | None = None,
) -> Dataset:
    """The data set in a VectorDBBench folder (see the module's docstring).

    ``metric`` overrides the one VectorDBBench declares for the folder's data set (and is
    required for a folder that is none of them); ``shuffled`` picks the shuffled or plain
    train files where both are there.
    """
    folder = Path(str(path).removeprefix(PREFIX))
    if not folder.is_dir():
        raise DatasetError(f"VectorDBBench data set folder not found: {folder}")
    if not (folder / "test.parquet").is_file():
        raise DatasetError(f"{folder}: no test.parquet (VectorDBBench's queries); not its layout")
    if shuffled is not None and not isinstance(shuffled, bool):
        raise ConfigError(f"{folder}: shuffled must be true or false, got {shuffled!r}")
    metric, metric_from = _metric(folder, metric)
    files = train_files(folder, shuffled)
    base, train_ids = _converted(files)
    rows_of = _RowsOfIds(train_ids, f"the train files of {folder}")
    from vecbench.datasets.loaders import _check_queries, _combined_checksum

    test = _read(folder / "test.parquet", ["id", "emb"])
    queries = _check_queries(
        _vectors(test.column("emb"), str(folder / "test.parquet")), str(folder / "test.parquet")
    )
    if queries.shape[1] != base.shape[1]:
        from vecbench.errors import DimensionMismatchError

        raise DimensionMismatchError(
            f"{folder}: queries have dimension {queries.shape[1]}, train {base.shape[1]}"
        )
    parts: dict[str, Path | None] = {f"train{i:03d}": p for i, p in enumerate(files)}
    parts["test"] = folder / "test.parquet"
    gt = None
    if (folder / "neighbors.parquet").is_file():
        parts["neighbors"] = folder / "neighbors.parquet"
        query_ids = _ids(test.column("id").combine_chunks(), str(parts["test"]))
        gt = _neighbours(folder / "neighbors.parquet", query_ids, rows_of, base, queries, metric)
    attributes: dict[str, Any] = {}
    if (folder / "scalar_labels.parquet").is_file():
        parts["scalar_labels"] = folder / "scalar_labels.parquet"
        attributes = _labels(folder / "scalar_labels.parquet", rows_of)
    return Dataset(
        name=name or folder.name,
        metric=metric,
        base=base,
        queries=queries,
        checksum=_combined_checksum(parts),
        source=str(folder.resolve()),
        ground_truth=gt,
        params={
            "format": "vectordbbench",
            "path": str(folder),
            "train": [p.name for p in files],
            "metric_from": metric_from,
        },
        attributes=attributes,
    )


def _metric(folder: Path, metric: Metric | str | None) -> tuple[Metric, str]:
    if metric is not None:
        return Metric.parse(metric), "given"
    declared = vdb_metric(folder)
    if declared is None:
        raise ConfigError(
            f"{folder}: VectorDBBench keeps a data set's metric in its definition, not in the files, "
            f"and {folder.name!r} is none of its data sets ({', '.join(VDB_METRICS)}); "
            "pass metric=euclidean, cosine or ip (vecbench run --metric)"
        )
    return declared


def _neighbours(
    path: Path,
    query_ids: NDArray[np.int64],
    rows_of: _RowsOfIds,
    base: NDArray[np.float32],
    queries: NDArray[np.float32],
    metric: Metric,
) -> GroundTruth:
    """neighbors.parquet as ground truth: rows matched to the queries by id, neighbour ids
    mapped to base rows, distances computed (the file has none)."""
    import pyarrow.compute as pc

    table = _read(path, ["id", "neighbors_id"])
    col = table.column("neighbors_id").combine_chunks()
    lengths = pc.list_value_length(col).to_numpy(zero_copy_only=False)
    if len(lengths) == 0 or lengths.min() != lengths.max() or lengths[0] == 0 or col.null_count:
        raise DatasetError(f"{path}: neighbors_id must hold lists of one length k >= 1 for every query")
    k = int(lengths[0])
    ids = _ids(col.flatten(), str(path), "neighbors_id").reshape(len(col), k)
    at = _RowsOfIds(query_ids, "test.parquet").rows(
        _ids(table.column("id").combine_chunks(), str(path)), str(path)
    )
    if len(at) != len(query_ids) or len(np.unique(at)) != len(at):
        raise DatasetError(
            f"{path}: {len(at)} neighbour rows for {len(query_ids)} queries (one per query id)"
        )
    placed = np.empty_like(ids)
    placed[at] = rows_of.rows(ids, str(path))
    from vecbench.measures.groundtruth import distances_for_ids

    return GroundTruth(ids=placed, distances=distances_for_ids(base, queries, placed, metric))


def _labels(path: Path, rows_of: _RowsOfIds) -> dict[str, Any]:
    from vecbench.datasets.attributes import arrow_attributes

    table = _read(path, ["id"], every=True)
    label_ids = _ids(table.column("id").combine_chunks(), str(path))
    if len(label_ids) != rows_of.n:
        raise ConfigError(
            f"{path}: {len(label_ids)} label rows for {rows_of.n} train vectors (one per train id)"
        )
    rows = rows_of.rows(label_ids, str(path))
    if len(np.unique(rows)) != len(rows):
        raise ConfigError(f"{path}: a train id has more than one label row")
    names = [c for c in table.column_names if c != "id"]
    return arrow_attributes(table, names, rows_of.n, str(path), rows=rows)
