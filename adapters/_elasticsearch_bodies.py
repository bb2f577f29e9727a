"""Elasticsearch request bodies and response readers for ``elasticsearch.py``: pure, no client.

Config and parameter checks, the ``Elasticsearch(...)`` arguments, the index mapping
(``mapping_body``), kNN search bodies (``knn_query_body``, ``effective_num_candidates``),
bulk operations (``bulk_actions``, ``delete_actions``), and what is read back from responses
(``ids_from_hits``, ``footprint_from_stats``, ``index_details``). Tests check them without
a server; ``vecbench.adapters.elasticsearch`` re-exports the public ones.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vecbench.errors import ConfigError, InvalidParameterError, InvalidVectorError, StoreError
from vecbench.metrics import Metric
from vecbench.spec import CollectionSpec, IndexType
from vecbench.store import FootprintStats
from vecbench.util.validation import is_number

from ._base import check_int_param
from ._search_filters import attribute_properties, check_attribute_names, document_attributes

VECTOR_FIELD = "embedding"
MAX_NUM_CANDIDATES = 10_000  # ES's limit on num_candidates (and on k)
MAX_DIMS = 4096
DEFAULT_REQUEST_TIMEOUT_S = 60.0

SIMILARITY = {Metric.EUCLIDEAN: "l2_norm", Metric.COSINE: "cosine", Metric.IP: "max_inner_product"}
METRIC_MAPPING = {
    Metric.EUCLIDEAN: "euclidean -> similarity l2_norm",
    Metric.COSINE: "cosine -> similarity cosine (zero vectors refused)",
    Metric.IP: "ip -> similarity max_inner_product (dot_product needs unit vectors)",
}

_HNSW_BUILD = {"m": 16, "ef_construction": 100}
INDEX_TYPES = {
    "hnsw": IndexType(
        "hnsw",
        build=dict(_HNSW_BUILD),
        search={"num_candidates": 100},
        description="dense_vector index_options hnsw (float32 graph)",
    ),
    "int8_hnsw": IndexType(
        "int8_hnsw",
        build={**_HNSW_BUILD, "confidence_interval": None},
        search={"num_candidates": 100},
        description="dense_vector index_options int8_hnsw (int8 scalar-quantized graph)",
    ),
    "flat": IndexType("flat", exact=True, description="dense_vector index_options flat: exact scan"),
    "int8_flat": IndexType(
        "int8_flat",
        build={"confidence_interval": None},
        search={"num_candidates": 100},
        description="dense_vector index_options int8_flat: scan of int8-quantized vectors",
    ),
}


# -- config and params ---------------------------------------------------------------------


def check_config(config: dict[str, Any], product: str = "elasticsearch") -> dict[str, Any]:
    """The store config checked (types, one kind of auth, URL scheme); ``config`` itself returned.

    Shared with the ``opensearch`` adapter (PRODUCT names the engine in the errors).
    """
    url = config.get("url")
    if url is not None and (not isinstance(url, str) or not url.startswith(("http://", "https://"))):
        raise ConfigError(f"{product} url must be http:// or https://, got {public_url(str(url))!r}")
    if config.get("api_key") is not None and config.get("basic_auth") is not None:
        raise ConfigError(f"{product}: give api_key or basic_auth, not both")
    auth = config.get("basic_auth")
    if auth is not None:
        ok = (isinstance(auth, str) and ":" in auth) or (
            isinstance(auth, (list, tuple)) and len(auth) == 2 and all(isinstance(a, str) for a in auth)
        )
        if not ok:
            raise ConfigError(f"{product} basic_auth must be 'user:password' or [user, password]")
    if "bulk_chunk" in config:
        check_int_param("bulk_chunk", config["bulk_chunk"], minimum=1)
    timeout = config.get("request_timeout_s")
    if timeout is not None and (not is_number(timeout) or timeout <= 0):
        raise ConfigError(f"request_timeout_s must be a positive number, got {timeout!r}")
    for key in ("verify_certs", "force_merge"):
        if key in config and not isinstance(config[key], bool):
            raise ConfigError(f"{product} {key} must be true or false, got {config[key]!r}")
    return config


def check_build_params(spec: CollectionSpec, params: dict[str, Any]) -> dict[str, Any]:
    """Index name, dims and the index_options values checked against ES's limits."""
    if spec.name.startswith("_"):
        raise ConfigError(f"elasticsearch index names cannot start with '_': {spec.name!r}")
    if spec.dim > MAX_DIMS:
        raise InvalidParameterError(f"elasticsearch dense_vector dims must be <= {MAX_DIMS}, got {spec.dim}")
    check_attribute_names(spec.attributes, "elasticsearch", VECTOR_FIELD)
    if "m" in params:
        check_int_param("m", params["m"], minimum=2, maximum=512)
        check_int_param("ef_construction", params["ef_construction"], minimum=1)
    ci = params.get("confidence_interval")
    if ci is not None and (not is_number(ci) or not (ci == 0 or 0.9 <= ci <= 1.0)):
        raise InvalidParameterError(f"confidence_interval must be 0 or in [0.9, 1.0], got {ci!r}")
    return params


def check_search_params(params: dict[str, Any]) -> dict[str, Any]:
    if "num_candidates" in params:
        check_int_param("num_candidates", params["num_candidates"], minimum=1, maximum=MAX_NUM_CANDIDATES)
    return params


def client_kwargs(config: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments of ``Elasticsearch(url, ...)``: timeout, TLS check and auth from the config."""
    kwargs: dict[str, Any] = {
        "request_timeout": float(config.get("request_timeout_s", DEFAULT_REQUEST_TIMEOUT_S)),
        "verify_certs": bool(config.get("verify_certs", True)),
    }
    if config.get("api_key") is not None:
        kwargs["api_key"] = config["api_key"]
    auth = config.get("basic_auth")
    if auth is not None:
        kwargs["basic_auth"] = tuple(auth.split(":", 1)) if isinstance(auth, str) else tuple(auth)
    return kwargs


def refusal_hint(status_code: int, message: str, client_version: str) -> str:
    """What to check when the server refuses the first request (``info``), as '; ...' or ''."""
    if status_code == 400 or "media_type" in message:
        return (
            f"; elasticsearch-py {client_version} speaks only to Elasticsearch "
            f"{client_version.split('.')[0]}.x: match the client and server majors"
        )
    if status_code in (401, 403):
        return "; check api_key / basic_auth"
    return ""


# -- request bodies ------------------------------------------------------------------------


def mapping_body(spec: CollectionSpec, params: Mapping[str, Any]) -> dict[str, Any]:
    """``settings`` and ``mappings`` for ``indices.create`` of ``spec``.

    >>> body = mapping_body(CollectionSpec("b", 4, "ip", "flat"), {})
    >>> body["mappings"]["properties"]["embedding"]
    {'type': 'dense_vector', 'dims': 4, 'element_type': 'float', 'index': True, 'similarity': 'max_inner_product', 'index_options': {'type': 'flat'}}
    """
    kind = spec.index_type
    if kind not in INDEX_TYPES:
        raise ConfigError(f"elasticsearch has no index type {kind!r}")
    options: dict[str, Any] = {"type": kind}
    if kind in ("hnsw", "int8_hnsw"):
        options["m"] = int(params["m"])
        options["ef_construction"] = int(params["ef_construction"])
    if kind.startswith("int8_") and params.get("confidence_interval") is not None:
        options["confidence_interval"] = float(params["confidence_interval"])
    return {
        "settings": {"number_of_shards": 1, "number_of_replicas": 0, "refresh_interval": "-1"},
        "mappings": {
            "dynamic": "strict",
            # The vectors live in the vector index; a second copy in _source only costs disk.
            "_source": {"excludes": [VECTOR_FIELD]},
            "properties": {
                VECTOR_FIELD: {
                    "type": "dense_vector",
                    "dims": spec.dim,
                    "element_type": "float",
                    "index": True,
                    "similarity": SIMILARITY[spec.metric],
                    "index_options": options,
                },
                **attribute_properties(spec.attributes),  # the declared attributes, for filters
            },
        },
    }


def effective_num_candidates(k: int, num_candidates: int | None) -> tuple[int, bool]:
    """``(num_candidates to send, whether it was raised to k)``; None means k (exact scan)."""
    sent, raised = beam_at_least_k(k, num_candidates, MAX_NUM_CANDIDATES, "elasticsearch kNN k")
    return (k if sent is None else sent), raised


def beam_at_least_k(k: int, beam: int | None, max_k: int, what: str) -> tuple[int | None, bool]:
    """``(beam to send, whether it was raised to k)`` for a search beam (num_candidates,
    ef_search) that must hold at least k; None stays None. WHAT names k in the error (shared
    with ``_opensearch_bodies``)."""
    if k > max_k:
        raise InvalidParameterError(f"{what} must be <= {max_k}, got {k}")
    if beam is None:
        return None, False
    if beam < k:
        return k, True
    return int(beam), False


def knn_query_body(
    vector: NDArray[np.float32], k: int, num_candidates: int, flt: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A ``_search`` body for the k nearest documents (among those passing the query DSL filter
    FLT, applied during the kNN search), ids only.

    >>> knn_query_body(np.array([1, 0], dtype=np.float32), 2, 10)
    {'knn': {'field': 'embedding', 'query_vector': [1.0, 0.0], 'k': 2, 'num_candidates': 10}, 'size': 2, '_source': False}
    """
    knn: dict[str, Any] = {
        "field": VECTOR_FIELD,
        "query_vector": vector.tolist(),
        "k": k,
        "num_candidates": num_candidates,
    }
    if flt is not None:
        knn["filter"] = dict(flt)
    return {"knn": knn, "size": k, "_source": False}


def refuse_zero_vectors(
    ids: NDArray[np.int64], vectors: NDArray[np.float32], product: str = "Elasticsearch"
) -> None:
    """InvalidVectorError when a vector is all zeros (Lucene's cosine refuses them)."""
    zero = ~np.any(vectors != 0, axis=1)
    if zero.any():
        raise InvalidVectorError(
            f"cosine: {int(zero.sum())} zero vector(s) ({product} refuses them), ids {ids[zero][:5].tolist()}"
        )


def bulk_actions(
    index: str,
    ids: NDArray[np.int64],
    vectors: NDArray[np.float32],
    attributes: Mapping[str, NDArray[Any]] | None = None,
) -> Iterator[dict[str, Any]]:
    """``index`` bulk operations (replace by ``_id``), one per vector, with its attribute values."""
    rows = vectors.tolist()
    attrs = document_attributes(attributes, len(rows))
    for i, vid in enumerate(ids.tolist()):
        source = {VECTOR_FIELD: rows[i], **attrs[i]}
        yield {"_op_type": "index", "_index": index, "_id": str(vid), "_source": source}


def delete_actions(index: str, ids: NDArray[np.int64]) -> Iterator[dict[str, Any]]:
    for vid in ids.tolist():
        yield {"_op_type": "delete", "_index": index, "_id": str(vid)}


# -- responses -----------------------------------------------------------------------------


def ids_from_hits(response: Mapping[str, Any]) -> list[int]:
    """The int ids of a search response's hits, in order (a filtered empty response has no 'hits')."""
    hits = (response.get("hits") or {}).get("hits") or []
    try:
        return [int(h["_id"]) for h in hits]
    except (KeyError, ValueError) as exc:
        raise StoreError(f"elasticsearch: a hit without an integer _id ({exc})") from exc


def ids_matrix(responses: list[Any], k: int, product: str = "elasticsearch") -> NDArray[np.int64]:
    """The hit ids of one ``_search`` response per query as a (nq, k) array padded with -1;
    StoreError for a failed search (an ``error`` entry of ``_msearch``)."""
    out = np.full((len(responses), k), -1, dtype=np.int64)
    for row, resp in enumerate(responses):
        if isinstance(resp, Mapping) and resp.get("error"):
            raise StoreError(f"{product}: search failed: {resp['error']}")
        found = ids_from_hits(resp)
        out[row, : len(found)] = found
    return out


def versions(server: Mapping[str, Any], client_version: str) -> dict[str, Any]:
    """Server version and build, Lucene and client versions from an ``info`` response (or the
    same shape made by ``info_from_node``)."""
    version = dig(server, "version") or {}
    return {
        "server_version": version.get("number"),
        "server_build_hash": version.get("build_hash"),
        "server_build_date": version.get("build_date"),
        "server_build_type": version.get("build_type"),
        "lucene_version": version.get("lucene_version"),
        "build_flavor": version.get("build_flavor"),
        "server_version_from": dig(server, "version_from") or "GET /",
        "client_version": client_version,
    }


def info_from_node(nodes: Any) -> dict[str, Any]:
    """An ``info``-shaped answer from ``GET _nodes/_local`` (for servers without ``GET /``).

    >>> info_from_node({"nodes": {"x": {"version": "9.5.3", "build_hash": "ab", "build_type": "zip"}}})
    {'version': {'number': '9.5.3', 'build_hash': 'ab', 'build_type': 'zip', 'build_flavor': None}}
    """
    found = dig(nodes, "nodes") or {}
    node = next(iter(found.values()), None) if isinstance(found, Mapping) else None
    if not isinstance(node, Mapping) or "version" not in node:
        raise StoreError(f"no node version in the _nodes answer: {str(dig(nodes))[:200]}")
    keys = ("build_hash", "build_type", "build_flavor")
    return {"version": {"number": node["version"], **{k: node.get(k) for k in keys}}}


def lucene_from_segments(segments: Any, index_name: str) -> str | None:
    """The Lucene version that wrote the index's first segment (``GET INDEX/_segments``)."""
    for copies in (dig(segments, "indices", index_name, "shards") or {}).values():
        for copy in copies or []:
            for seg in (dig(copy, "segments") or {}).values():
                if isinstance(seg, Mapping) and seg.get("version"):
                    return str(seg["version"])
    return None


def footprint_from_stats(stats: Any) -> FootprintStats:
    """Disk and off-heap vector memory from an ``indices.stats`` response."""
    primaries = dig(stats, "_all", "primaries") or {}
    disk = dig(primaries, "store", "size_in_bytes")
    off_heap = dig(primaries, "dense_vector", "off_heap", "total_size_bytes")
    method = "_stats primaries store.size_in_bytes (disk)"
    if off_heap is not None:
        method += (
            " + dense_vector.off_heap.total_size_bytes (memory: vectors, quantized vectors and graph "
            "that kNN search wants in the page cache; ES >= 9.1)"
        )
    else:
        method += "; memory not reported (dense_vector off-heap stats need ES >= 9.1)"
    return FootprintStats(
        memory_bytes=int(off_heap) if off_heap is not None else None,
        disk_bytes=int(disk) if disk is not None else None,
        method=method,
    )


def index_details(
    index_name: str, mapping: Any, settings: Any, stats: Any, extra_settings: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The vector field mapping, shard settings (and EXTRA_SETTINGS), segment and doc counts of
    an index, for describe() (shared with the ``opensearch`` adapter)."""
    index_settings = dig(settings, index_name, "settings", "index") or {}
    keys = ("number_of_shards", "number_of_replicas", "refresh_interval", *extra_settings)
    return {
        "mapping": dig(mapping, index_name, "mappings", "properties", VECTOR_FIELD),
        "settings": {k: index_settings.get(k) for k in keys},
        "segments": dig(stats, "_all", "primaries", "segments", "count"),
        "docs": dig(stats, "_all", "primaries", "docs", "count"),
    }


def dig(obj: Any, *path: str) -> Any:
    obj = getattr(obj, "body", obj)  # the client's ObjectApiResponse wraps a dict
    for key in path:
        if not isinstance(obj, Mapping) or key not in obj:
            return None
        obj = obj[key]
    return obj


def public_url(url: str) -> str:
    from vecbench.results import public_config

    return str(public_config({"url": url})["url"])
