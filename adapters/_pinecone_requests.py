"""Pure parts of the Pinecone store: names, index types, the requests it sends, stats, redaction.

Nothing here imports the pinecone SDK or talks to Pinecone; every request the store sends
is built here as plain data and unit-tested (tests/unit/test_pinecone_adapter.py).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vecbench.errors import ConfigError
from vecbench.metrics import Metric
from vecbench.spec import IndexType
from vecbench.workloads.filters import Eq, Filter, Range

from ._attributes import clauses, int_bounds

API_KEY_VARS = ("VECBENCH_PINECONE_API_KEY", "PINECONE_API_KEY")
CLOUD = "cloud"  # host value meaning Pinecone's own control plane (the SDK's default)
MAX_DIM = 20000  # dense indexes
MAX_TOP_K = 10000
MAX_NAME = 45
UPSERT_BATCH = 200  # vectors per upsert request (Pinecone caps a request at 2 MB and 1000 vectors)
DELETE_BATCH = 1000  # ids per delete request
EXACT_INT = 2**53  # Pinecone keeps metadata numbers as float64: larger integers are rounded
MAX_IN_VALUES = 10000  # Pinecone's limit on the values of one $in
METRICS = {Metric.EUCLIDEAN: "euclidean", Metric.COSINE: "cosine", Metric.IP: "dotproduct"}
METRIC_MAPPING = {
    Metric.EUCLIDEAN: "euclidean -> euclidean",
    Metric.COSINE: "cosine -> cosine",
    Metric.IP: "ip -> dotproduct",
}
INDEX_TYPES: dict[str, IndexType] = {
    "serverless": IndexType(
        "serverless",
        build={"cloud": "aws", "region": "us-east-1"},
        description="Pinecone serverless index (Pinecone chooses and tunes the index itself); cloud, region",
    ),
    "pod": IndexType(
        "pod",
        build={"environment": "us-east-1-aws", "pod_type": "p1.x1", "pods": 1, "replicas": 1},
        description="Pinecone pod-based index: environment, pod_type (s1, p1, p2 x1..x8), pods, replicas",
    ),
}
_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")


def api_key() -> str | None:
    """The API key from the environment (never from a config file or a record)."""
    for var in API_KEY_VARS:
        if os.environ.get(var):
            return os.environ[var]
    return None


def redact_key(text: str, key: str | None) -> str:
    """``text`` with the API key replaced by ``***``."""
    return text.replace(key, "***") if key else text


def index_name(collection: str) -> str:
    """Pinecone's index name for a collection: lower case, ``_`` as ``-`` (at most 45 characters)."""
    name = collection.lower().replace("_", "-").strip("-")
    if not _NAME.match(name) or len(name) > MAX_NAME:
        raise ConfigError(
            f"collection {collection!r} gives Pinecone index name {name!r}: Pinecone needs 1-{MAX_NAME} "
            "lower-case letters, digits and '-', starting and ending with a letter or digit"
        )
    return name


def check_dim(dim: int) -> None:
    if dim > MAX_DIM:
        raise ConfigError(f"pinecone refuses dense vectors longer than {MAX_DIM} dimensions, got dim={dim}")


def check_top_k(k: int) -> None:
    if k > MAX_TOP_K:
        raise ConfigError(f"pinecone answers at most top_k={MAX_TOP_K}, got k={k}")


def check_build_params(index_type: str, params: Mapping[str, Any]) -> None:
    for key in ("cloud", "region", "environment", "pod_type"):
        if key in params and (not isinstance(params[key], str) or not params[key]):
            raise ConfigError(f"pinecone {index_type} {key} must be a non-empty string, got {params[key]!r}")
    for key in ("pods", "replicas"):
        if key in params and (
            isinstance(params[key], bool) or not isinstance(params[key], int) or params[key] < 1
        ):
            raise ConfigError(f"pinecone {index_type} {key} must be an integer >= 1, got {params[key]!r}")


def spec_request(index_type: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The ``spec`` of the create-index request, as Pinecone's API spells it."""
    if index_type == "serverless":
        return {"serverless": {"cloud": params["cloud"], "region": params["region"]}}
    pod = {"environment": params["environment"], "pod_type": params["pod_type"]}
    pod.update(pods=int(params["pods"]), replicas=int(params["replicas"]))
    return {"pod": pod}


def create_request(
    name: str, dim: int, metric: Metric, index_type: str, params: Mapping[str, Any]
) -> dict[str, Any]:
    """Keyword arguments of ``Pinecone.create_index`` (the spec as plain data)."""
    return {
        "name": name,
        "dimension": int(dim),
        "metric": METRICS[metric],
        "spec": spec_request(index_type, params),
    }


def upsert_batches(
    ids: NDArray[np.int64],
    vectors: NDArray[np.float32],
    attributes: Mapping[str, NDArray[Any]] | None = None,
    batch: int = UPSERT_BATCH,
) -> Iterator[list[tuple[Any, ...]]]:
    """``(id as decimal string, values)`` records, ``batch`` per request; with ``attributes``
    (one column per declared attribute) ``(id, values, metadata)``."""
    columns = {a: col.tolist() for a, col in (attributes or {}).items()}
    for start in range(0, ids.shape[0], batch):
        chunk_ids = ids[start : start + batch].tolist()
        rows = vectors[start : start + batch].tolist()
        if not columns:
            yield [(str(i), v) for i, v in zip(chunk_ids, rows, strict=True)]
            continue
        yield [
            (str(i), v, {a: c[start + n] for a, c in columns.items()})
            for n, (i, v) in enumerate(zip(chunk_ids, rows, strict=True))
        ]


def check_metadata(columns: Mapping[str, NDArray[Any]], kinds: Mapping[str, str]) -> None:
    """Refuse integer attributes Pinecone would round (beyond +-2**53), before any request."""
    for attr, col in columns.items():
        if kinds[attr] == "int" and col.size and int(np.abs(col).max()) > EXACT_INT:
            bad = int(col[np.argmax(np.abs(col))])
            raise ConfigError(
                f"pinecone: attribute {attr!r} value {bad} is beyond +-2**53: Pinecone keeps metadata "
                "numbers as float64 and would store it rounded"
            )


def _storable(value: Any) -> bool:
    return isinstance(value, str) or abs(int(value)) <= EXACT_INT


def metadata_filter(flt: Filter) -> dict[str, Any] | None:
    """Pinecone's metadata filter for a parsed filter: ``$eq``, ``$in``, ``$gte``/``$lte`` on
    inclusive integer bounds (``int_bounds``), ``$and`` of several clauses; ``{}`` when every
    record passes, None when none can (no request is needed). A bound no stored value can
    cross is left out, and a value Pinecone cannot store exactly matches nothing."""
    parts: list[dict[str, Any]] = []
    for clause in clauses(flt):
        if isinstance(clause, Range):
            bounds = int_bounds(clause)
            if bounds is None or bounds[0] > EXACT_INT or bounds[1] < -EXACT_INT:
                return None
            cond = {"$gte": int(bounds[0])} if bounds[0] > -EXACT_INT else {}
            cond.update({"$lte": int(bounds[1])} if bounds[1] < EXACT_INT else {})
            if cond:
                parts.append({clause.attr: cond})
            continue
        values = [clause.value] if isinstance(clause, Eq) else list(dict.fromkeys(clause.values))
        values = [v if isinstance(v, str) else int(v) for v in values if _storable(v)]
        if not values:
            return None
        if len(values) > MAX_IN_VALUES:
            raise ConfigError(
                f"pinecone: an 'in' filter takes at most {MAX_IN_VALUES} values, got {len(values)}"
            )
        op = {"$eq": values[0]} if len(values) == 1 else {"$in": values}
        parts.append({clause.attr: op})
    if len(parts) <= 1:
        return parts[0] if parts else {}
    return {"$and": parts}


def delete_batches(ids: NDArray[np.int64], batch: int = DELETE_BATCH) -> Iterator[list[str]]:
    for start in range(0, ids.shape[0], batch):
        yield [str(i) for i in ids[start : start + batch].tolist()]


def query_request(
    query: NDArray[np.float32], k: int, namespace: str, metadata: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Keyword arguments of ``Index.query``; ``metadata`` is a ``metadata_filter``."""
    out = {"vector": query.tolist(), "top_k": int(k), "namespace": namespace, "include_values": False}
    if metadata:
        out["filter"] = dict(metadata)
    return out


def ids_from_matches(matches: Any, out: NDArray[np.int64]) -> int:
    """Write the ids of a query's matches into ``out``; return how many."""
    n = 0
    for n, match in enumerate(matches or (), start=1):
        raw = match["id"] if isinstance(match, Mapping) else match.id
        out[n - 1] = int(raw)
    return n


def namespace_count(stats: Any, namespace: str) -> int:
    """Vectors in ``namespace`` per ``describe_index_stats`` (0 when it is not listed)."""
    spaces = stats["namespaces"] if isinstance(stats, Mapping) else getattr(stats, "namespaces", None)
    entry = (spaces or {}).get(namespace)
    if entry is None:
        return 0
    count = entry["vector_count"] if isinstance(entry, Mapping) else entry.vector_count
    return int(count or 0)


def storage_estimate(count: int, dim: int, id_bytes: float) -> int:
    """Bytes Pinecone stores for ``count`` records without metadata: values (4 per dimension) and ids."""
    return int(count * (4 * dim + id_bytes))


def index_host(host: str, control_plane: str) -> str:
    """An index host with a scheme: Pinecone Local answers ``localhost:5081`` without one."""
    if host.startswith(("http://", "https://")):
        return host
    scheme = "http" if control_plane.startswith("http://") else "https"
    return f"{scheme}://{host}"
