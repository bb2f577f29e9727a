"""Result records: one JSON Lines record per benchmark cell, plus raw-data sidecars.

A cell is store x store config x data set x index type x build params x search params x k.
Each record is appended with one ``os.write`` of one complete line on an ``O_APPEND``
file descriptor followed by ``fsync``, so a crash leaves either the whole record or (at
worst) a torn final line, which readers ignore and writers cut off.

Per-query ids and latencies go to ``<results-stem>.sidecar/<cell_id>.npz`` next to the
results file (``vecbench.sidecar``; ``write_sidecar`` and ``read_sidecar`` are re-exported here).

    writer = ResultsWriter("out/run.jsonl")
    writer.append(record)
    records = read_results("out/run.jsonl")
    done = completed_cells("out/run.jsonl")  # cell ids to skip on --resume
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vecbench.atomic import fsync_dir
from vecbench.errors import ConfigError, ResultsFormatError
from vecbench.redact import public_config as _public_config
from vecbench.sidecar import read_sidecar, sidecar_dir, write_sidecar

__all__ = [
    "SCHEMA",
    "SCHEMA_VERSION",
    "RECORD_KEYS",
    "RAG_RECORD_KEYS",
    "KINDS",
    "cell_id",
    "public_config",
    "make_record",
    "validate_record",
    "upgrade_record",
    "READABLE_VERSIONS",
    "ResultsWriter",
    "read_results",
    "completed_cells",
    "write_sidecar",
    "read_sidecar",
]

SCHEMA = "vecbench.result"
SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)
RECORD_KEYS = (
    "schema",
    "schema_version",
    "kind",
    "run_id",
    "cell_id",
    "status",
    "created_at",
    "versions",
    "machine",
    "store",
    "dataset",
    "index",
    "search",
    "timings",
    "quality",
    "latency",
    "qps",
    "footprint",
    "load",
    "cost",
    "ci",
    "error",
    "sidecar",
)
# Retrieval-harness (text) records: kind "rag", made by vecbench.rag.run.
RAG_RECORD_KEYS = (
    "schema",
    "schema_version",
    "kind",
    "run_id",
    "cell_id",
    "status",
    "created_at",
    "versions",
    "machine",
    "dataset",
    "chunker",
    "embedder",
    "store",
    "index",
    "search",
    "reranker",
    "quality",
    "cost",
    "latency",
    "footprint",
    "counts",
    "ci",
    "error",
    "sidecar",
)
# Sections that hold measurements: null in a failed record, never numbers.
MEASURED = ("timings", "quality", "latency", "qps", "footprint", "load", "cost", "ci")
RAG_MEASURED = ("quality", "cost", "latency", "footprint", "ci")
# Keys that version 2 added; a version 1 record read back gets them as null.
_ADDED_IN_V2 = {"vector": ("load", "cost", "ci"), "rag": ("ci",)}
# kind -> (its keys, in file order; its measured sections)
KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "vector": (RECORD_KEYS, MEASURED),
    "rag": (RAG_RECORD_KEYS, RAG_MEASURED),
}
# Written first and compactly, so a torn fragment of a record is recognisable.
_PREFIX = b'{"schema":"vecbench.result"'


def _jsonable(value: Any) -> Any:
    """Plain JSON types from numpy scalars/arrays, tuples, Paths and enums."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "value") and isinstance(getattr(value, "value", None), (str, int)):
        return value.value  # Enum (Metric)
    return value


def public_config(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """A store config safe to record (see ``vecbench.redact.public_config``).

    >>> public_config({"url": "http://u:pw@host:6333", "api_key": "abc", "timeout_s": 5})
    {'url': 'http://u:***@host:6333', 'api_key': '***', 'timeout_s': 5}
    """
    return _public_config(config, _jsonable)


def _canonical(value: Any) -> str:
    return json.dumps(_jsonable(value), sort_keys=True, separators=(",", ":"), default=str)


def cell_id(
    store_name: str,
    store_config: Mapping[str, Any] | None,
    dataset_checksum: str,
    metric: str,
    index_type: str,
    build_params: Mapping[str, Any],
    search_params: Mapping[str, Any],
    k: int,
) -> str:
    """A stable sha256 identifying a benchmark cell (secrets in the store config excluded).

    Key order does not matter; the same inputs give the same id in any process.

    >>> a = cell_id("faiss", {}, "abc", "cosine", "hnsw", {"m": 16}, {"ef_search": 64}, 10)
    >>> a == cell_id("faiss", {}, "abc", "cosine", "hnsw", {"m": 16}, {"ef_search": 64}, 10), len(a)
    (True, 64)
    """
    payload = {
        "store": store_name,
        "config": public_config(store_config),
        "dataset": dataset_checksum,
        "metric": _jsonable(metric),
        "index_type": index_type,
        "build": dict(build_params),
        "search": dict(search_params),
        "k": int(k),
    }
    return hashlib.sha256(_canonical(payload).encode()).hexdigest()


def make_record(
    *,
    run_id: str,
    cell_id: str,
    created_at: str,
    versions: Mapping[str, Any],
    machine: Mapping[str, Any],
    store: Mapping[str, Any],
    dataset: Mapping[str, Any],
    index: Mapping[str, Any],
    search: Mapping[str, Any],
    timings: Mapping[str, Any] | None = None,
    quality: Mapping[str, Any] | None = None,
    latency: Mapping[str, Any] | None = None,
    qps: Mapping[str, Any] | None = None,
    footprint: Mapping[str, Any] | None = None,
    load: Mapping[str, Any] | None = None,
    cost: Mapping[str, Any] | None = None,
    ci: Mapping[str, Any] | None = None,
    error: BaseException | Mapping[str, str] | None = None,
    sidecar: str | None = None,
) -> dict[str, Any]:
    """A complete record. With ``error`` it is a failed record and every measurement is null.

    ``load`` is the load-test section (None when no load test was asked for), ``cost``
    the dollar figures (``vecbench.cost``), ``ci`` the bootstrap confidence intervals
    (``vecbench.stats``).
    """
    failed = error is not None
    if isinstance(error, BaseException):
        error = {"type": type(error).__name__, "message": str(error)}
    rec: dict[str, Any] = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "kind": "vector",
        "run_id": run_id,
        "cell_id": cell_id,
        "status": "failed" if failed else "ok",
        "created_at": created_at,
        "versions": dict(versions),
        "machine": dict(machine),
        "store": dict(store),
        "dataset": dict(dataset),
        "index": dict(index),
        "search": dict(search),
        "timings": None if failed or timings is None else dict(timings),
        "quality": None if failed or quality is None else dict(quality),
        "latency": None if failed or latency is None else dict(latency),
        "qps": None if failed or qps is None else dict(qps),
        "footprint": None if failed or footprint is None else dict(footprint),
        "load": None if failed or load is None else dict(load),
        "cost": None if failed or cost is None else dict(cost),
        "ci": None if failed or ci is None else dict(ci),
        "error": dict(error) if error is not None else None,
        "sidecar": None if failed else sidecar,
    }
    out = _jsonable(rec)
    validate_record(out)
    return out


def validate_record(record: Mapping[str, Any]) -> None:
    """Raise ResultsFormatError unless ``record`` follows the schema's shape rules.

    The keys depend on ``kind``: "vector" (the default when absent) or "rag".
    """
    keys = tuple(record)
    kind = record.get("kind", "vector")
    if kind not in KINDS:
        raise ResultsFormatError(f"unknown record kind {kind!r}; known: {', '.join(KINDS)}")
    record_keys, measured = KINDS[kind]
    if set(keys) != set(record_keys):
        missing = sorted(set(record_keys) - set(keys))
        extra = sorted(set(keys) - set(record_keys))
        raise ResultsFormatError(f"record keys differ from the schema: missing {missing}, unexpected {extra}")
    if record["schema"] != SCHEMA or record["schema_version"] != SCHEMA_VERSION:
        raise ResultsFormatError(f"not a {SCHEMA} v{SCHEMA_VERSION} record")
    status = record["status"]
    if status not in ("ok", "failed"):
        raise ResultsFormatError(f"status must be 'ok' or 'failed', got {status!r}")
    if status == "failed":
        err = record["error"]
        if not isinstance(err, Mapping) or not {"type", "message"} <= set(err):
            raise ResultsFormatError("a failed record needs error {type, message}")
        numbers = [s for s in measured if record[s] is not None]
        if numbers:
            raise ResultsFormatError(f"a failed record must not hold measurements: {numbers}")
    elif record["error"] is not None:
        raise ResultsFormatError("an ok record must have error null")


def _encode(record: Mapping[str, Any]) -> bytes:
    validate_record(record)
    ordered = {k: record[k] for k in KINDS[record["kind"]][0]}  # schema first: see _PREFIX
    try:
        line = json.dumps(ordered, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    except ValueError as exc:  # NaN/inf are not JSON
        raise ResultsFormatError(f"record holds a value JSON cannot represent: {exc}") from exc
    return (line + "\n").encode("utf-8")


def _check_existing(path: Path) -> None:
    """Refuse a non-vecbench file; cut off a torn final record left by a crash."""
    with open(path, "rb") as f:
        data = f.read()
    if not data:
        return
    first_nl = data.find(b"\n")
    if first_nl == -1:  # no complete line: only a torn record of ours may be cut off
        frag = data.strip()
        if frag.startswith(_PREFIX) or _PREFIX.startswith(frag):
            _truncate(path, 0, len(data))
            return
        raise ResultsFormatError(f"{path} is not a vecbench results file")
    _check_header(data[:first_nl], path)
    if not data.endswith(b"\n"):
        keep = data.rfind(b"\n") + 1
        _truncate(path, keep, len(data) - keep)


def _check_header(line: bytes, path: Path | str) -> None:
    try:
        first = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        raise ResultsFormatError(f"{path} is not a vecbench results file (line 1 is not JSON)") from None
    if not isinstance(first, dict) or first.get("schema") != SCHEMA:
        raise ResultsFormatError(f"{path} is not a vecbench results file (line 1 lacks schema {SCHEMA!r})")
    _check_version(first, path, 1)


def _check_version(record: Mapping[str, Any], path: Path | str, lineno: int) -> None:
    version = record.get("schema_version")
    if isinstance(version, bool) or version not in READABLE_VERSIONS:
        raise ResultsFormatError(
            f"{path}:{lineno}: unknown schema version {version!r}; this vecbench reads "
            f"{READABLE_VERSIONS[0]}-{READABLE_VERSIONS[-1]}"
        )


def upgrade_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """A record of any readable version as a current-version record (in memory only).

    Version 1 lacks ``load``, ``cost`` and ``ci`` (``ci`` only, for kind "rag"): they are
    added as null, in file order, and ``schema_version`` becomes the current one. A current
    record comes back as a plain copy.

    >>> old = {"schema": SCHEMA, "schema_version": 1, "kind": "rag", "counts": {}, "error": None}
    >>> list(upgrade_record(old)), upgrade_record(old)["schema_version"]
    (['schema', 'schema_version', 'kind', 'counts', 'ci', 'error'], 2)
    """
    if record.get("schema_version") == SCHEMA_VERSION:
        return dict(record)
    kind = record.get("kind", "vector")
    if kind not in KINDS:
        return dict(record)
    added = _ADDED_IN_V2[kind]
    order = [k for k in KINDS[kind][0] if k in record or k in added]
    order += [k for k in record if k not in order]  # keep whatever else is there for validation
    out = {k: record.get(k) for k in order}
    out["schema_version"] = SCHEMA_VERSION
    return out


def _truncate(path: Path, size: int, dropped: int) -> None:
    warnings.warn(
        f"{path}: dropping a torn final record ({dropped} bytes) left by an interrupted write", stacklevel=3
    )
    with open(path, "r+b") as f:
        f.truncate(size)
        f.flush()
        os.fsync(f.fileno())


class ResultsWriter:
    """Appends records to a JSON Lines file, one atomic write + fsync per record.

    Parent folders are created. An existing file must be vecbench's (its first line a
    record of schema ``vecbench.result`` and a known version), else ResultsFormatError is
    raised here, before anything is written.

    >>> import tempfile, pathlib
    >>> w = ResultsWriter(pathlib.Path(tempfile.mkdtemp()) / "sub" / "run.jsonl")
    >>> w.path.parent.is_dir()
    True
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.exists():
            if not self.path.is_file():
                raise ConfigError(f"results path {self.path} exists and is not a file")
            _check_existing(self.path)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    @property
    def sidecar_dir(self) -> Path:
        return sidecar_dir(self.path)

    def append(self, record: Mapping[str, Any]) -> None:
        """Write one record as one line: a single os.write on an O_APPEND fd, then fsync."""
        data = _encode(record)
        created = not self.path.exists()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            written = os.write(fd, data)
            # Regular files take the whole buffer in one call; should a kernel ever split
            # it, finish the line rather than leave it torn.
            while written < len(data):
                written += os.write(fd, data[written:])
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            fsync_dir(self.path.parent)

    def write_sidecar(
        self,
        cell: str,
        ids: NDArray[np.int64],
        latencies_ns: NDArray[np.int64],
        batch_ids: NDArray[np.int64] | None = None,
        per_query: Mapping[str, ArrayLike] | None = None,
    ) -> str:
        """Write this cell's raw arrays; returns the path to record, relative to the results folder."""
        return write_sidecar(self.path, cell, ids, latencies_ns, batch_ids, per_query)


def read_results(path: str | Path) -> list[dict[str, Any]]:
    """Every record of a results file, in order.

    A final line without a newline (a write torn by a crash) is ignored with a warning.
    A file that is not vecbench's, a record of an unknown schema version, or a corrupt
    line in the middle raise ResultsFormatError. Records of an older readable version are
    upgraded in memory (see ``upgrade_record``).
    """
    path = Path(path)
    data = path.read_bytes()
    if not data:
        return []
    lines = data.split(b"\n")
    torn = lines.pop()  # b"" when the file ends with a newline
    if torn.strip():
        if len(lines) == 0 and not (torn.startswith(_PREFIX) or _PREFIX.startswith(torn.strip())):
            raise ResultsFormatError(f"{path} is not a vecbench results file")
        warnings.warn(f"{path}: ignoring a torn final line ({len(torn)} bytes)", stacklevel=2)
    records: list[dict[str, Any]] = []
    for lineno, raw in enumerate(lines, start=1):
        if lineno == 1:
            _check_header(raw, path)
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ResultsFormatError(f"{path}:{lineno}: corrupt record: {exc}") from None
        if not isinstance(rec, dict) or rec.get("schema") != SCHEMA:
            raise ResultsFormatError(f"{path}:{lineno}: not a {SCHEMA} record")
        _check_version(rec, path, lineno)
        records.append(upgrade_record(rec))
    return records


def completed_cells(path: str | Path) -> set[str]:
    """Cell ids with status ok in a results file (empty if the file does not exist)."""
    path = Path(path)
    if not path.exists():
        return set()
    return {r["cell_id"] for r in read_results(path) if r.get("status") == "ok"}
