"""One record builder for every kind of cell (vector and text), and the stable cell id.

record = make_record(kind="vector", run_id=..., cell_id=..., ..., quality={...})
failed = make_record(kind="rag", ..., error=exc)  # every measurement null
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from vecbench.errors import ResultsFormatError
from vecbench.results.redact import public_config as _public_config
from vecbench.results.schema import KINDS, SCHEMA, SCHEMA_VERSION, validate_record

__all__ = ["make_record", "cell_id", "public_config", "jsonable", "canonical"]

# Keys of a record that the builder fills itself, and identity keys that may be null.
_OWN = ("schema", "schema_version", "kind", "status", "error", "sidecar")
_MAY_BE_NULL = ("reranker",)


def jsonable(value: Any) -> Any:
    """Plain JSON types from numpy scalars/arrays, tuples, Paths and enums."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "value") and isinstance(getattr(value, "value", None), (str, int)):
        return value.value  # Enum (Metric)
    return value


def public_config(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """A store config safe to record (see ``vecbench.results.redact.public_config``).

    >>> public_config({"url": "http://u:pw@host:6333", "api_key": "abc", "timeout_s": 5})
    {'url': 'http://u:***@host:6333', 'api_key': '***', 'timeout_s': 5}
    """
    return _public_config(config, jsonable)


def canonical(value: Any) -> str:
    return json.dumps(jsonable(value), sort_keys=True, separators=(",", ":"), default=str)


def cell_id(
    store_name: str,
    store_config: Mapping[str, Any] | None,
    dataset_checksum: str,
    metric: str,
    index_type: str,
    build_params: Mapping[str, Any],
    search_params: Mapping[str, Any],
    k: int,
    workload: Mapping[str, Any] | None = None,
) -> str:
    """A stable sha256 identifying a benchmark cell (secrets in the store config excluded).

    ``workload`` (a filter and its strategy) is part of the identity when given; a plain
    top-k cell has none and keeps the id it always had.

    Key order does not matter; the same inputs give the same id in any process.

    >>> a = cell_id("faiss", {}, "abc", "cosine", "hnsw", {"m": 16}, {"ef_search": 64}, 10)
    >>> a == cell_id("faiss", {}, "abc", "cosine", "hnsw", {"m": 16}, {"ef_search": 64}, 10), len(a)
    (True, 64)
    """
    payload = {
        "store": store_name,
        "config": public_config(store_config),
        "dataset": dataset_checksum,
        "metric": jsonable(metric),
        "index_type": index_type,
        "build": dict(build_params),
        "search": dict(search_params),
        "k": int(k),
    }
    if workload:
        payload["workload"] = dict(workload)
    return hashlib.sha256(canonical(payload).encode()).hexdigest()


def make_record(
    *,
    kind: str = "vector",
    error: BaseException | Mapping[str, str] | None = None,
    sidecar: str | None = None,
    **sections: Any,
) -> dict[str, Any]:
    """A complete, validated record of ``kind`` ("vector", "rag", "runbook", "freshness",
    "ingest_load").

    ``sections`` are the record's other keys (``vecbench.results.schema.KINDS``): the
    identity of the cell (run_id, cell_id, created_at, versions, machine, store, dataset,
    index, search; for "rag" also chunker, embedder, reranker, counts; for "runbook" also
    runbook) must be given; a
    measurement section left out is null. With ``error`` it is a failed record and every
    measurement is null, never a number.
    """
    if kind not in KINDS:
        raise ResultsFormatError(f"unknown record kind {kind!r}; known: {', '.join(KINDS)}")
    keys, measured = KINDS[kind]
    unknown = sorted(set(sections) - set(keys) | set(sections) & set(_OWN))
    if unknown:
        raise TypeError(f"make_record(kind={kind!r}) got unexpected section(s): {', '.join(unknown)}")
    missing = [
        k for k in keys if k not in _OWN and k not in measured and k not in _MAY_BE_NULL and k not in sections
    ]
    if missing:
        raise TypeError(f"make_record(kind={kind!r}) is missing: {', '.join(missing)}")
    failed = error is not None
    if isinstance(error, BaseException):
        error = {"type": type(error).__name__, "message": str(error)}
    rec: dict[str, Any] = {}
    for key in keys:
        value = sections.get(key)
        if key in measured and failed:
            value = None
        rec[key] = dict(value) if isinstance(value, Mapping) else value
    rec.update(
        schema=SCHEMA,
        schema_version=SCHEMA_VERSION,
        kind=kind,
        status="failed" if failed else "ok",
        error=dict(error) if error is not None else None,
        sidecar=None if failed else sidecar,
    )
    out = jsonable(rec)
    validate_record(out)
    return out
