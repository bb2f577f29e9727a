"""Load a data set by name or path: synthetic, ann-benchmarks HDF5, TEXMEX vecs, .npy, manifests.

    from vecbench.datasets import load
    ds = load("synthetic", n=10_000, dim=64, metric="cosine", seed=1)
    ds = load("embedlike:minilm", n=100_000, nq=1_000, seed=0)   # statistics of MiniLM embeddings
    ds = load("data/sift-128-euclidean.hdf5")                  # ground truth from the file
    ds = load("sift_base.fvecs", queries="sift_query.fvecs", groundtruth="sift_groundtruth.ivecs")
    ds = load("base.npy", queries="queries.npy", metric="ip")
    ds = load("glove-25-angular")                               # after `vecbench datasets fetch`

Base vectors from files are memory-mapped (or read lazily) and may keep the file's dtype
(uint8 for .bvecs, for instance): read them through ``Dataset.batches`` or
``Dataset.rows``, which return float32. Queries are read whole, as float32.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vecbench.datasets.attributes import hdf5_attributes, read_attributes_file
from vecbench.datasets.base import Dataset, GroundTruth
from vecbench.datasets.checksums import file_sha256
from vecbench.datasets.stream import release_pages
from vecbench.datasets.synthetic import SYNTHETIC_DEFAULTS, load_synthetic, synthetic_attributes
from vecbench.errors import (
    ConfigError,
    DatasetError,
    EmptyDatasetError,
    InvalidVectorError,
    UnknownNameError,
)
from vecbench.metrics import Metric
from vecbench.util.paths import cache_dir

__all__ = [
    "load",
    "load_synthetic",
    "load_hdf5",
    "load_vecs",
    "load_npy",
    "synthetic_attributes",
    "SYNTHETIC_DEFAULTS",
]

_CHECK_ROWS = 65_536  # rows per step of the NaN/inf scan of a base set
_VECS: dict[str, np.dtype[Any]] = {
    ".fvecs": np.dtype("<f4"),
    ".ivecs": np.dtype("<i4"),
    ".bvecs": np.dtype("u1"),
}
_SUFFIXES = (".hdf5", ".h5", *_VECS, ".npy")


def load(name_or_path: str | os.PathLike[str], **params: Any) -> Dataset:
    """A Dataset from ``"synthetic"``, ``"embedlike:minilm"``, a manifest name, a path (.hdf5/.h5, .fvecs/.ivecs/.bvecs,
    .npy), or a VectorDBBench folder (``vdb:PATH``, or the folder's path).

    Params by kind: synthetic takes n, dim, nq, clusters, spread, metric, seed; embedlike
    (``vecbench.datasets.embedlike``) takes n, nq, dim, metric, seed; files take
    ``metric`` (overrides the file's), ``check_finite`` (default True); vecs and .npy also
    take ``queries=PATH`` (required), ``groundtruth=PATH`` (.ivecs or .npy ids) and
    ``attributes=PATH`` (.npz or .parquet); a VectorDBBench folder takes ``metric`` and
    ``shuffled`` (see ``vecbench.datasets.vdb``).
    """
    if isinstance(name_or_path, str) and name_or_path == "synthetic":
        return load_synthetic(**params)
    if isinstance(name_or_path, str):
        from vecbench.datasets import embedlike

        profile = embedlike.split_name(name_or_path)
        if profile is not None:
            return embedlike.load_embedlike(profile, **params)
    from vecbench.datasets import vdb

    if str(name_or_path).startswith(vdb.PREFIX) or vdb.is_vdb_folder(name_or_path):
        return _call(vdb.load_vdb, name_or_path, params)
    path = Path(name_or_path)
    suffix = path.suffix.lower()
    if suffix in (".hdf5", ".h5"):
        return _call(load_hdf5, path, params)
    if suffix in _VECS:
        return _call(load_vecs, path, params)
    if suffix == ".npy":
        return _call(load_npy, path, params)
    if path.is_dir():
        lacks = [f for f in ("test.parquet", "train*.parquet") if not any(path.glob(f"*{f}"))]
        raise DatasetError(
            f"{path}: a folder is read in VectorDBBench's layout (train*.parquet or shuffle_train*.parquet, "
            f"test.parquet, neighbors.parquet); this one has no {' and no '.join(lacks)}"
        )
    name = str(name_or_path)
    from vecbench.datasets.catalog import list_manifests

    every = list_manifests()
    text_sets = {m.name for m in every if m.is_beir}
    if name in text_sets or name.startswith("beir:"):
        raise DatasetError(
            f"{name!r} is a text corpus (BEIR), not a vector data set: use it in a retrieval "
            f"config (`vecbench rag run`) as dataset: beir:{name.removeprefix('beir:')}"
        )
    manifests = {m.name: m for m in every if not m.is_beir}
    if name in manifests:
        manifest = manifests[name]
        local = cache_dir() / "datasets" / manifest.filename
        if not local.is_file():
            raise DatasetError(
                f"data set {name!r} is not downloaded (looked for {local}); "
                f"run `vecbench datasets fetch {name}`"
            )
        params.setdefault("metric", manifest.metric)
        return _call(load_hdf5, local, {**params, "name": name})
    if path.exists():
        raise DatasetError(
            f"{path}: unsupported file type {suffix or '(none)'!r}; supported: {', '.join(_SUFFIXES)}"
        )
    err = UnknownNameError("dataset", name, ["synthetic", "embedlike:minilm", *manifests])
    err.args = (
        f"{err.args[0]} (a path to a {'/'.join(_SUFFIXES)} file, or to a VectorDBBench folder as "
        "vdb:PATH, is accepted too)",
    )
    raise err


def _call(loader: Any, path: Any, params: dict[str, Any]) -> Dataset:
    """``loader(path, **params)``, with ConfigError (not TypeError) for a parameter it lacks."""
    import inspect

    accepted = [name for name in inspect.signature(loader).parameters if name != "path"]
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ConfigError(f"{path}: unknown data set parameter(s) {unknown}; accepted: {accepted}")
    result: Dataset = loader(path, **params)
    return result


# --------------------------------------------------------------------------- checks


def _check_queries(queries: NDArray[Any], where: str) -> NDArray[np.float32]:
    if queries.ndim != 2:
        raise DatasetError(f"{where}: queries must be 2-D (nq, dim), got shape {queries.shape}")
    if queries.shape[0] == 0 or queries.shape[1] == 0:
        raise EmptyDatasetError(f"{where}: no queries")
    q = np.ascontiguousarray(queries, dtype=np.float32)
    if not np.isfinite(q).all():
        bad = int((~np.isfinite(q)).any(axis=1).sum())
        raise InvalidVectorError(f"{where}: queries contain NaN or inf in {bad} row(s)")
    return q


def _check_base(base: NDArray[Any], where: str, check_finite: bool) -> None:
    if base.ndim != 2:
        raise DatasetError(f"{where}: base vectors must be 2-D (n, dim), got shape {base.shape}")
    if base.shape[0] == 0 or base.shape[1] == 0:
        raise EmptyDatasetError(f"{where}: no base vectors")
    if not check_finite or not np.issubdtype(base.dtype, np.floating):
        return
    for start in range(0, base.shape[0], _CHECK_ROWS):
        block = np.asarray(base[start : start + _CHECK_ROWS])
        finite = np.isfinite(block)
        release_pages(base[start : start + _CHECK_ROWS])  # a memory map's RSS stays at one block
        if not finite.all():
            row = start + int(np.nonzero(~finite.all(axis=1))[0][0])
            raise InvalidVectorError(f"{where}: base vectors contain NaN or inf (first at row {row})")


def _combined_checksum(parts: dict[str, Path | None]) -> str:
    if list(parts.values()).count(None) == len(parts) - 1:
        return file_sha256(next(p for p in parts.values() if p is not None))
    record = {role: (file_sha256(p) if p is not None else None) for role, p in sorted(parts.items())}
    return "files:" + hashlib.sha256(json.dumps(record, sort_keys=True).encode("utf-8")).hexdigest()


def _require_file(path: Path, what: str) -> Path:
    if not path.is_file():
        raise DatasetError(f"{what} file not found: {path}")
    return path


# --------------------------------------------------------------------------- HDF5


def load_hdf5(
    path: str | os.PathLike[str],
    *,
    metric: Metric | str | None = None,
    name: str | None = None,
    check_finite: bool = True,
) -> Dataset:
    """An ann-benchmarks HDF5 file: ``train`` (base), ``test`` (queries), optional ``neighbors``/``distances``.

    The base is memory-mapped when ``train`` is stored contiguous and uncompressed (how
    ann-benchmarks writes it) and read by slices on demand otherwise (an ``HDF5Source``). The file's ``distance``
    attribute gives the metric (angular -> cosine) unless ``metric`` is passed. Stored
    distances are kept as they are: ann-benchmarks computes angular distance as scipy's
    cosine distance (1 - cos) and euclidean as L2, which are vecbench's conventions. For
    inner-product files the stored truth is dropped (its sign convention is not
    documented) and recomputed on demand by ``vecbench.measures.groundtruth``. An
    ``attributes`` group (one 1-D dataset per attribute) gives ``Dataset.attributes``.
    """
    import h5py

    path = _require_file(Path(path), "HDF5")
    where = str(path)
    try:
        fh = h5py.File(path, "r")
    except OSError as exc:
        raise DatasetError(f"{where}: not a readable HDF5 file ({exc})") from None
    with fh:
        missing = [key for key in ("train", "test") if key not in fh or not isinstance(fh[key], h5py.Dataset)]
        if missing:
            raise DatasetError(
                f"{where}: missing dataset(s) {missing} (ann-benchmarks files have train and test)"
            )
        if metric is None:
            attr = fh.attrs.get("distance")
            if attr is None:
                raise DatasetError(
                    f"{where}: no 'distance' attribute; pass metric= (euclidean, cosine or ip)"
                )
            attr = attr.decode() if isinstance(attr, bytes) else str(attr)
            try:
                metric = Metric.parse(attr)
            except ConfigError:
                raise DatasetError(
                    f"{where}: distance {attr!r} is not supported (euclidean, angular, dot)"
                ) from None
        metric = Metric.parse(metric)
        train = fh["train"]
        try:
            queries = _check_queries(np.asarray(fh["test"][()]), where)
            base = _hdf5_base(path, train)
            gt = _hdf5_truth(fh, where, int(train.shape[0]), queries.shape[0], metric)
            attributes = hdf5_attributes(fh, int(train.shape[0]), where)
        except OSError as exc:  # h5py raises OSError for damaged chunks or truncated data
            raise DatasetError(f"{where}: cannot read data ({exc})") from None
    _check_base(base, where, check_finite)
    try:
        checksum = file_sha256(path)
    except OSError as exc:
        raise DatasetError(f"{where}: cannot read ({exc})") from None
    return Dataset(
        name=name or path.stem,
        metric=metric,
        base=base,
        queries=queries,
        checksum=checksum,
        source=str(path.resolve()),
        ground_truth=gt,
        params={"format": "ann-benchmarks-hdf5", "path": str(path)},
        attributes=attributes,
    )


def _hdf5_base(path: Path, train: Any) -> NDArray[Any]:
    if train.ndim != 2:
        raise DatasetError(f"{path}: train must be 2-D (n, dim), got shape {train.shape}")
    offset = train.id.get_offset()
    contiguous = train.chunks is None and train.compression is None and offset is not None
    if contiguous and train.dtype.kind in "fiu" and train.size > 0:
        end = offset + train.size * train.dtype.itemsize
        if end > path.stat().st_size:
            raise DatasetError(f"{path}: truncated (train needs {end} bytes, file has {path.stat().st_size})")
        return np.memmap(path, dtype=train.dtype, mode="r", offset=offset, shape=train.shape)
    # Chunked or compressed: read by slices on demand (one block in memory at a time).
    from vecbench.datasets.stream import HDF5Source

    return HDF5Source(path, train.name.lstrip("/"))  # type: ignore[return-value]


def _hdf5_truth(fh: Any, where: str, n: int, nq: int, metric: Metric) -> GroundTruth | None:
    if "neighbors" not in fh:
        return None
    ids = np.asarray(fh["neighbors"][()]).astype(np.int64)
    if ids.ndim != 2 or ids.shape[0] != nq or ids.shape[1] == 0:
        raise DatasetError(f"{where}: neighbors has shape {ids.shape}, expected ({nq}, k)")
    if ids.min() < 0 or ids.max() >= n:
        raise DatasetError(f"{where}: neighbors holds ids outside 0..{n - 1}")
    if metric is Metric.IP:
        return None
    if "distances" in fh:
        dists = np.asarray(fh["distances"][()]).astype(np.float32)
        if dists.shape != ids.shape:
            raise DatasetError(f"{where}: distances has shape {dists.shape}, neighbors {ids.shape}")
        return GroundTruth(ids=ids, distances=dists)
    return None  # ids without distances: recompute on demand instead of guessing


# --------------------------------------------------------------------------- TEXMEX


def _vecs(path: Path, check_header: bool = True) -> NDArray[Any]:
    """(n, dim) memory-mapped view of a .fvecs/.ivecs/.bvecs file (records: int32 dim, then dim values)."""
    dtype = _VECS[path.suffix.lower()]
    _require_file(path, path.suffix.lower()[1:])
    size = path.stat().st_size
    if size == 0:
        raise EmptyDatasetError(f"{path}: empty file")
    if size < 4:
        raise DatasetError(f"{path}: truncated ({size} bytes, less than one header)")
    dim = int(np.fromfile(path, dtype="<i4", count=1)[0])
    if dim <= 0 or dim > 1 << 20:
        raise DatasetError(f"{path}: corrupt header (dimension {dim})")
    record = 4 + dim * dtype.itemsize
    if size % record:
        raise DatasetError(
            f"{path}: size {size} is not a multiple of the record size {record} (dim {dim}): truncated or corrupt"
        )
    rec = np.dtype([("dim", "<i4"), ("vec", dtype, (dim,))])
    mm = np.memmap(path, dtype=rec, mode="r", shape=(size // record,))
    if check_header:
        for start in range(0, mm.shape[0], _CHECK_ROWS):
            dims = np.array(mm["dim"][start : start + _CHECK_ROWS])
            release_pages(mm[start : start + _CHECK_ROWS])
            if (dims != dim).any():
                row = start + int(np.nonzero(dims != dim)[0][0])
                raise DatasetError(
                    f"{path}: inconsistent dimension at record {row} ({int(dims[row - start])} != {dim})"
                )
    return mm["vec"]


def _ids_file(path: Path, nq: int, n: int) -> NDArray[np.int64]:
    suffix = path.suffix.lower()
    if suffix == ".ivecs":
        ids = np.asarray(_vecs(path), dtype=np.int64)
    elif suffix == ".npy":
        ids = np.asarray(_npy(path, "ground truth"))
        if ids.ndim != 2 or not np.issubdtype(ids.dtype, np.integer):
            raise DatasetError(
                f"{path}: ground truth must be a 2-D integer array, got {ids.dtype} {ids.shape}"
            )
        ids = ids.astype(np.int64)
    else:
        raise ConfigError(f"groundtruth must be an .ivecs or .npy file of ids, got {path}")
    if ids.shape[0] != nq:
        raise DatasetError(f"{path}: ground truth has {ids.shape[0]} rows for {nq} queries")
    if ids.size and (ids.min() < 0 or ids.max() >= n):
        raise DatasetError(f"{path}: ground truth holds ids outside 0..{n - 1}")
    return ids


def _file_dataset(
    base_path: Path,
    base: NDArray[Any],
    files: dict[str, str | os.PathLike[str] | None],
    metric: Metric | str,
    check_finite: bool,
    read_queries: Any,
    fmt: str,
) -> Dataset:
    """A data set from a base array and its companion ``files``: ``queries`` (required),
    ``groundtruth`` (neighbour ids) and ``attributes`` (.npz or .parquet), each a path or None."""
    where = str(base_path)
    queries = files.get("queries")
    if queries is None:
        raise ConfigError(
            f"{where}: a {fmt} file holds one array; pass queries=PATH to a second file "
            "(and optionally groundtruth=PATH with neighbour ids)"
        )
    metric = Metric.parse(metric)
    q_path = Path(queries)
    gt_path, attr_path = (
        Path(p) if p is not None else None for p in (files.get("groundtruth"), files.get("attributes"))
    )
    q = _check_queries(read_queries(q_path), str(q_path))
    _check_base(base, where, check_finite)
    if q.shape[1] != base.shape[1]:
        from vecbench.errors import DimensionMismatchError

        raise DimensionMismatchError(
            f"{q_path}: queries have dimension {q.shape[1]}, base ({where}) {base.shape[1]}"
        )
    attributes = read_attributes_file(attr_path, int(base.shape[0])) if attr_path is not None else {}
    gt = None
    if gt_path is not None:
        from vecbench.measures.groundtruth import distances_for_ids

        ids = _ids_file(_require_file(gt_path, "ground truth"), q.shape[0], base.shape[0])
        gt = GroundTruth(ids=ids, distances=distances_for_ids(base, q, ids, metric))
    parts = {"base": base_path, "queries": q_path, "groundtruth": gt_path}
    if attr_path is not None:  # only then: the checksums of sets without attributes stay as they were
        parts["attributes"] = attr_path
    return Dataset(
        name=base_path.stem,
        metric=metric,
        base=base,
        queries=q,
        checksum=_combined_checksum(parts),
        source=str(base_path.resolve()),
        ground_truth=gt,
        params={
            "format": fmt,
            "path": str(base_path),
            "queries": str(q_path),
            "groundtruth": str(gt_path) if gt_path else None,
            **({"attributes": str(attr_path)} if attr_path is not None else {}),
        },
        attributes=attributes,
    )


def load_vecs(
    path: str | os.PathLike[str],
    *,
    queries: str | os.PathLike[str] | None = None,
    groundtruth: str | os.PathLike[str] | None = None,
    attributes: str | os.PathLike[str] | None = None,
    metric: Metric | str = "euclidean",
    check_finite: bool = True,
) -> Dataset:
    """TEXMEX .fvecs/.ivecs/.bvecs base (memory-mapped) with a queries file, optional .ivecs
    truth and optional ``attributes`` (.npz or .parquet, one value per base vector).

    Ids-only ground truth gets exact distances computed for its ids, in the file's order.
    """
    path = Path(path)
    base = _vecs(path)
    files = {"queries": queries, "groundtruth": groundtruth, "attributes": attributes}
    return _file_dataset(
        path, base, files, metric, check_finite, lambda p: np.asarray(_vecs(p)), "texmex-vecs"
    )


def _npy(path: Path, what: str) -> NDArray[Any]:
    _require_file(path, what)
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: not a readable .npy file ({exc})") from None


def load_npy(
    path: str | os.PathLike[str],
    *,
    queries: str | os.PathLike[str] | None = None,
    groundtruth: str | os.PathLike[str] | None = None,
    attributes: str | os.PathLike[str] | None = None,
    metric: Metric | str = "euclidean",
    check_finite: bool = True,
) -> Dataset:
    """A .npy base (memory-mapped) with ``queries=`` another .npy (required), optional ground
    truth ids and optional ``attributes=`` (.npz: one array per attribute; .parquet: one column
    per attribute), one value per base vector in base-row order."""
    path = Path(path)
    base = _npy(path, "base .npy")
    if base.dtype.kind not in "fiu":
        raise DatasetError(f"{path}: base must be numeric, got dtype {base.dtype}")
    files = {"queries": queries, "groundtruth": groundtruth, "attributes": attributes}
    return _file_dataset(
        path, base, files, metric, check_finite, lambda p: np.asarray(_npy(p, "queries .npy")), "npy"
    )
