"""OpenSearch k-NN request bodies and response readers for ``opensearch.py``: pure, no client.

What OpenSearch and Elasticsearch share (config checks, bulk and delete operations, hit ids,
versions, response digging, describe's index details) comes from ``_elasticsearch_bodies``; what differs is here: the
``knn_vector`` mapping with its ``method`` (engine, space type, m, ef_construction), the
``knn`` query with ``method_parameters.ef_search``, the exact ``knn_score`` script, the
client's arguments, and the footprint figures. Tests check them without a server.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vecbench.errors import CapabilityError, ConfigError, InvalidParameterError
from vecbench.metrics import Metric
from vecbench.spec import CollectionSpec, IndexType
from vecbench.store import FootprintStats

from ._base import check_int_param
from ._elasticsearch_bodies import DEFAULT_REQUEST_TIMEOUT_S, VECTOR_FIELD, beam_at_least_k, dig
from ._search_filters import attribute_properties, check_attribute_names

MAX_DIMS = 16_000  # the k-NN plugin's limit for the lucene and faiss engines
MAX_K = 10_000  # index.max_result_window: size (and k) of one search
ENGINES = ("lucene", "faiss")
NATIVE_ENGINES = ("faiss",)
NATIVE_ATTR = "vecbench_knn_native"  # node attribute set by ``vecbench services up opensearch``

SPACE_TYPE = {Metric.EUCLIDEAN: "l2", Metric.COSINE: "cosinesimil", Metric.IP: "innerproduct"}
METRIC_MAPPING = {
    Metric.EUCLIDEAN: "euclidean -> space_type l2",
    Metric.COSINE: "cosine -> space_type cosinesimil (zero vectors refused)",
    Metric.IP: "ip -> space_type innerproduct",
}

INDEX_TYPES = {
    "hnsw": IndexType(
        "hnsw",
        build={"m": 16, "ef_construction": 100, "engine": "lucene"},
        search={"ef_search": 100},
        description="knn_vector method hnsw (engine lucene; faiss where its native library is present)",
    ),
    "flat": IndexType(
        "flat",
        exact=True,
        description="knn_vector without a graph, searched exactly with the knn_score script",
    ),
}


def check_build_params(spec: CollectionSpec, params: dict[str, Any]) -> dict[str, Any]:
    """Index name, dimension and the HNSW method parameters checked against OpenSearch's limits."""
    if spec.name.startswith(("_", "-", "+")):
        raise ConfigError(f"opensearch index names cannot start with '_', '-' or '+': {spec.name!r}")
    if spec.dim > MAX_DIMS:
        raise InvalidParameterError(f"opensearch knn_vector dimension must be <= {MAX_DIMS}, got {spec.dim}")
    check_attribute_names(spec.attributes, "opensearch", VECTOR_FIELD)
    if "m" in params:
        check_int_param("m", params["m"], minimum=2, maximum=512)
        check_int_param("ef_construction", params["ef_construction"], minimum=2)
        if params["engine"] not in ENGINES:
            raise InvalidParameterError(
                f"opensearch hnsw engine must be one of {', '.join(ENGINES)}, got {params['engine']!r}"
            )
    return params


def check_search_params(params: dict[str, Any]) -> dict[str, Any]:
    if "ef_search" in params:
        check_int_param("ef_search", params["ef_search"], minimum=1, maximum=MAX_K)
    return params


def refuse_native_engine(engine: str, node_attributes: Mapping[str, Any]) -> None:
    """CapabilityError when a native engine is asked of a node that says it has no native library.

    A faiss index on such a node brings the node down at its first flush (UnsatisfiedLinkError),
    so the adapter asks first. Nodes without the attribute (any other install) are trusted.
    """
    if engine in NATIVE_ENGINES and str(node_attributes.get(NATIVE_ATTR, "")).lower() == "false":
        raise CapabilityError(
            f"opensearch engine {engine!r}: this node's k-NN plugin has no native libraries "
            f"(node attribute {NATIVE_ATTR}=false: the Maven Central plugin archive that "
            "`vecbench services up opensearch` runs); use engine 'lucene', or a full OpenSearch distribution"
        )


def client_kwargs(config: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments of ``OpenSearch(hosts=[url], ...)``: timeout, TLS check and auth."""
    kwargs: dict[str, Any] = {
        "timeout": float(config.get("request_timeout_s", DEFAULT_REQUEST_TIMEOUT_S)),
        "verify_certs": bool(config.get("verify_certs", True)),
    }
    auth = config.get("basic_auth")
    if auth is not None:
        kwargs["http_auth"] = tuple(auth.split(":", 1)) if isinstance(auth, str) else tuple(auth)
    return kwargs


def mapping_body(spec: CollectionSpec, params: Mapping[str, Any]) -> dict[str, Any]:
    """The ``indices.create`` body of ``spec``: settings and a ``knn_vector`` mapping.

    >>> body = mapping_body(CollectionSpec("b", 4, "cosine", "hnsw"), {"m": 8, "ef_construction": 64, "engine": "lucene"})
    >>> body["mappings"]["properties"]["embedding"]["method"]
    {'name': 'hnsw', 'engine': 'lucene', 'space_type': 'cosinesimil', 'parameters': {'m': 8, 'ef_construction': 64}}
    """
    kind = spec.index_type
    if kind not in INDEX_TYPES:
        raise ConfigError(f"opensearch has no index type {kind!r}")
    field: dict[str, Any] = {"type": "knn_vector", "dimension": spec.dim}
    if kind == "hnsw":
        field["method"] = {
            "name": "hnsw",
            "engine": params["engine"],
            "space_type": SPACE_TYPE[spec.metric],
            "parameters": {"m": int(params["m"]), "ef_construction": int(params["ef_construction"])},
        }
    return {
        "settings": {
            "index": {
                "knn": kind == "hnsw",  # flat: no graph is built; the knn_score script scans
                "number_of_shards": 1,
                "number_of_replicas": 0,
                "refresh_interval": "-1",
            }
        },
        "mappings": {
            "dynamic": "strict",
            "_source": {"excludes": [VECTOR_FIELD]},
            "properties": {VECTOR_FIELD: field, **attribute_properties(spec.attributes)},
        },
    }


def effective_ef_search(k: int, ef_search: int | None) -> tuple[int | None, bool]:
    """``(ef_search to send, whether it was raised to k)``: HNSW needs a beam of at least k."""
    return beam_at_least_k(k, ef_search, MAX_K, "opensearch k")


def knn_query_body(
    vector: NDArray[np.float32], k: int, ef_search: int | None, flt: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A ``_search`` body for the k nearest documents on an HNSW field, ids only; with FLT (a
    query DSL filter) the k nearest among the documents that pass it (the k-NN plugin filters
    during the graph search, or scans the passing documents exactly when they are few).

    >>> knn_query_body(np.array([1, 0], dtype=np.float32), 2, 16)
    {'size': 2, '_source': False, 'query': {'knn': {'embedding': {'vector': [1.0, 0.0], 'k': 2, 'method_parameters': {'ef_search': 16}}}}}
    """
    knn: dict[str, Any] = {"vector": vector.tolist(), "k": k}
    if ef_search is not None:
        knn["method_parameters"] = {"ef_search": ef_search}
    if flt is not None:
        knn["filter"] = dict(flt)
    return {"size": k, "_source": False, "query": {"knn": {VECTOR_FIELD: knn}}}


def exact_query_body(
    vector: NDArray[np.float32], k: int, metric: Metric, flt: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A ``_search`` body scoring every document (that passes FLT) with the k-NN plugin's
    ``knn_score`` script.

    The script's scores fall as the distance grows (l2: 1 / (1 + d), cosinesimil: 1 + cos,
    innerproduct: a monotone map of the dot product), so the top k by score are the k nearest.
    """
    script = {
        "source": "knn_score",
        "lang": "knn",
        "params": {"field": VECTOR_FIELD, "query_value": vector.tolist(), "space_type": SPACE_TYPE[metric]},
    }
    return {
        "size": k,
        "_source": False,
        "query": {
            "script_score": {
                "query": {"bool": {"filter": [dict(flt)]}} if flt is not None else {"match_all": {}},
                "script": script,
            }
        },
    }


def footprint_from_stats(
    stats: Any, index_name: str, engine: str | None, knn_stats: Any | None
) -> FootprintStats:
    """Disk from ``_stats``; memory from the Lucene vector files (lucene engine) or the k-NN
    plugin's native graph cache (faiss), read from ``_stats`` segment file sizes and
    ``_plugins/_knn/stats``; ENGINE None is the flat index (no vector index: no memory figure)."""
    primaries = dig(stats, "_all", "primaries") or {}
    disk = dig(primaries, "store", "size_in_bytes")
    method = "_stats primaries store.size_in_bytes (disk)"
    memory: int | None = None
    if engine in NATIVE_ENGINES:
        kb = 0.0
        found = False
        for node in (dig(knn_stats, "nodes") or {}).values():
            cached = dig(node, "indices_in_cache", index_name, "graph_memory_usage")
            if cached is not None:
                kb, found = kb + float(cached), True
        memory = int(kb * 1024) if found else None
        method += " + _plugins/_knn/stats indices_in_cache.graph_memory_usage (native graph memory)"
    elif engine is None:  # flat: index.knn false, no vector files
        method += (
            "; memory not reported (flat: the vectors live in binary doc values, scanned by the "
            "knn_score script, not in a vector index)"
        )
    else:
        sizes = dig(primaries, "segments", "file_sizes") or {}
        vector_files = {
            ext: dig(info, "size_in_bytes") for ext, info in sizes.items() if ext.startswith("ve")
        }
        if vector_files:
            memory = int(sum(int(v or 0) for v in vector_files.values()))
        method += (
            " + the Lucene vector files (" + ", ".join(sorted(vector_files)) + ") from segment file sizes: "
            "vectors and graph that kNN search wants in the page cache"
            if vector_files
            else "; memory not reported (no Lucene vector files in the segment file sizes)"
        )
    return FootprintStats(
        memory_bytes=memory, disk_bytes=int(disk) if disk is not None else None, method=method
    )


def versions(server: Mapping[str, Any], client_version: str) -> dict[str, Any]:
    """Server version and build, Lucene and client versions from an ``info`` response."""
    version = dig(server, "version") or {}
    return {
        "server_version": version.get("number"),
        "server_distribution": version.get("distribution"),
        "server_build_hash": version.get("build_hash"),
        "server_build_date": version.get("build_date"),
        "server_build_type": version.get("build_type"),
        "lucene_version": version.get("lucene_version"),
        "client_version": client_version,
    }
