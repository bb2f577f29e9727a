"""Pure parts of the Weaviate store: names, ids, index types, the vector index config, metrics.

Nothing here imports weaviate-client or talks to a server; ``vector_index_config`` builds the
plain ``vectorIndexConfig`` mapping Weaviate's schema uses, and ``weaviate.py`` hands it to
the client's ``Configure`` helpers (unit-tested without a server).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
from numpy.typing import NDArray

from vecbench.errors import ConfigError, InvalidParameterError
from vecbench.metrics import Metric
from vecbench.spec import IndexType

from ._base import check_int_param

DEFAULT_GRPC_PORT = 50051  # Weaviate's own default
MAX_DIM = 65535  # Weaviate refuses longer vectors
DEFAULT_BATCH_SIZE = 1000
COMPRESSIONS = (None, "pq", "bq", "sq")
# Weaviate's names for vecbench's metrics (VectorDistances values).
DISTANCES = {Metric.EUCLIDEAN: "l2-squared", Metric.COSINE: "cosine", Metric.IP: "dot"}
METRIC_MAPPING = {
    Metric.EUCLIDEAN: "euclidean -> l2-squared (squared L2: the same ranking as L2)",
    Metric.COSINE: "cosine -> cosine (Weaviate normalizes vectors on insert; distance 1 - cos)",
    Metric.IP: "ip -> dot (distance = -dot product)",
}

# Collection settings vecbench treats as search parameters: Weaviate applies a change at
# once (no rebuild), so one build serves every value. filter_strategy None keeps the
# server's default (acorn since 1.34, sweeping from 1.27 to 1.33, or the server's
# HNSW_DEFAULT_FILTER_STRATEGY); describe() reports the one in effect.
FILTER_STRATEGIES = (None, "sweeping", "acorn")
FILTER_STRATEGY_SINCE = (1, 27)
DEFAULT_FLAT_SEARCH_CUTOFF = 40000  # Weaviate's own default
_HNSW_SEARCH = {"ef": -1, "filter_strategy": None, "flat_search_cutoff": DEFAULT_FLAT_SEARCH_CUTOFF}
_HNSW_BUILD = {
    "max_connections": 32,
    "ef_construction": 128,
    "compression": None,
    "pq_segments": 0,
    "pq_centroids": 256,
    "training_limit": 100000,
    "rescore_limit": 20,
}
INDEX_TYPES: dict[str, IndexType] = {
    "hnsw": IndexType(
        "hnsw",
        build=_HNSW_BUILD,
        search=_HNSW_SEARCH,
        description=(
            "Weaviate HNSW: max_connections, ef_construction; compression None|'pq'|'bq'|'sq' "
            "(pq_segments 0 = auto, pq_centroids; PQ and SQ train once training_limit vectors are indexed; "
            "rescore_limit for SQ and BQ); search ef (-1: Weaviate's dynamic ef), and for filtered search "
            "filter_strategy (None: the server's default; 'sweeping', 'acorn') and flat_search_cutoff (a filter "
            "passing fewer objects is answered by a flat scan of them)"
        ),
    ),
    "flat": IndexType("flat", exact=True, description="Weaviate flat index: brute force, no compression"),
    "flat_bq": IndexType(
        "flat_bq",
        build={"rescore_limit": 200},
        description="Weaviate flat index over binary-quantized vectors, rescored with the full vectors",
    ),
    "dynamic": IndexType(
        "dynamic",
        build={"threshold": 10000, "max_connections": 32, "ef_construction": 128},
        search=_HNSW_SEARCH,
        description=(
            "Weaviate dynamic index: flat until threshold objects, then HNSW (needs ASYNC_INDEXING on the "
            "server); search ef, filter_strategy and flat_search_cutoff of the HNSW part"
        ),
    ),
}


# -- names and ids -----------------------------------------------------------------------


def class_name(name: str) -> str:
    """Weaviate's class name for a vecbench collection name (its first letter upper case).

    Weaviate capitalizes class names itself; a name starting with ``_`` gets a ``V`` in front.
    """
    return name[0].upper() + name[1:] if name[0].isalpha() else "V" + name


def ids_to_uuids(ids: Iterable[int]) -> list[uuid.UUID]:
    """vecbench ids (int64 >= 0) as the UUIDs whose 128-bit value they are."""
    return [uuid.UUID(int=int(i)) for i in ids]


def uuids_to_ids(uuids: Iterable[Any], out: NDArray[np.int64]) -> int:
    """Write the ids of ``uuids`` into ``out``; return how many were written."""
    n = 0
    for n, u in enumerate(uuids, start=1):
        out[n - 1] = (u if isinstance(u, uuid.UUID) else uuid.UUID(str(u))).int
    return n


# -- the server address ------------------------------------------------------------------


def parse_url(url: str, grpc_port: Any = None) -> dict[str, Any]:
    """HTTP host, port and TLS, and the gRPC port, from ``url`` (``?grpc_port=N`` allowed)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"weaviate url must be http(s)://host[:port], got {url!r}")
    secure = parts.scheme == "https"
    try:
        port = parts.port or (443 if secure else 8080)
    except ValueError:
        raise ConfigError(f"weaviate url has a bad port: {url!r}") from None
    query = parse_qs(parts.query)
    unknown = sorted(set(query) - {"grpc_port"})
    if unknown:
        raise ConfigError(f"weaviate url: unknown query parameter(s) {', '.join(unknown)}; known: grpc_port")
    if grpc_port is None and query.get("grpc_port"):
        raw = query["grpc_port"][-1]
        if not raw.isdigit():
            raise ConfigError(f"weaviate url: grpc_port must be a port number, got {raw!r}")
        grpc_port = int(raw)
    grpc = check_int_param("grpc_port", DEFAULT_GRPC_PORT if grpc_port is None else grpc_port, maximum=65535)
    return {"host": parts.hostname, "port": port, "secure": secure, "grpc_port": grpc}


# -- index parameters ----------------------------------------------------------------------


def check_build_params(index_type: str, params: dict[str, Any]) -> dict[str, Any]:
    """Value checks of the build parameters (names were checked by IndexType)."""
    if index_type in ("hnsw", "dynamic"):
        check_int_param("max_connections", params["max_connections"], minimum=2)
        check_int_param("ef_construction", params["ef_construction"], minimum=4)
    if index_type == "dynamic":
        check_int_param("threshold", params["threshold"], minimum=1)
    if "rescore_limit" in params:
        check_int_param("rescore_limit", params["rescore_limit"], minimum=-1)
    if index_type != "hnsw":
        return params
    if params["compression"] not in COMPRESSIONS:
        raise InvalidParameterError(
            f"compression must be one of None, 'pq', 'bq', 'sq'; got {params['compression']!r}"
        )
    check_int_param("pq_segments", params["pq_segments"], minimum=0)
    check_int_param("pq_centroids", params["pq_centroids"], minimum=2, maximum=256)
    check_int_param("training_limit", params["training_limit"], minimum=1)
    return params


def check_pq_segments(dim: int, segments: int) -> None:
    """PQ segments must divide the dimension (0 lets Weaviate choose)."""
    if segments and dim % segments:
        divisors = [d for d in range(1, min(dim, 256) + 1) if dim % d == 0]
        raise InvalidParameterError(
            f"pq_segments={segments} must divide dim={dim} (or be 0: Weaviate chooses); "
            f"divisors: {', '.join(map(str, divisors))}"
        )


def check_search_params(params: dict[str, Any], server: tuple[int, ...] | None = None) -> dict[str, Any]:
    """Value checks; ``server`` (the version, once connected) refuses a filter strategy the
    server does not have."""
    if "ef" in params and params["ef"] != -1:
        check_int_param("ef", params["ef"], minimum=1)
    if "flat_search_cutoff" in params:
        check_int_param("flat_search_cutoff", params["flat_search_cutoff"], minimum=0)
    strategy = params.get("filter_strategy")
    if strategy not in FILTER_STRATEGIES:
        raise InvalidParameterError(f"filter_strategy must be None, 'sweeping' or 'acorn'; got {strategy!r}")
    if strategy is not None and server is not None and server < FILTER_STRATEGY_SINCE:
        raise InvalidParameterError(
            f"filter_strategy needs Weaviate 1.27 or newer; this server is {'.'.join(map(str, server))}"
        )
    return params


def version_tuple(text: str | None) -> tuple[int, ...]:
    """``"1.35.2"`` -> ``(1, 35, 2)``; the leading numbers of a pre-release; () when unknown."""
    parts = []
    for piece in str(text or "").lstrip("v").split("."):
        digits = "".join(itertools.takewhile(str.isdigit, piece))
        if digits:
            parts.append(int(digits))
        if not digits or digits != piece:  # "0-rc" ends the version
            break
    return tuple(parts)


def _quantizer(p: Mapping[str, Any]) -> dict[str, Any]:
    kind = p.get("compression")
    if kind == "pq":
        pq: dict[str, Any] = {"enabled": True, "centroids": int(p["pq_centroids"])}
        pq.update(segments=int(p["pq_segments"]), trainingLimit=int(p["training_limit"]))
        return {"pq": pq}
    if kind == "sq":
        return {
            "sq": {
                "enabled": True,
                "trainingLimit": int(p["training_limit"]),
                "rescoreLimit": int(p["rescore_limit"]),
            }
        }
    if kind == "bq":
        return {"bq": {"enabled": True, "rescoreLimit": int(p["rescore_limit"])}}
    # Say "no compression" outright: a server with DEFAULT_QUANTIZATION set would add one.
    return {"skipDefaultQuantization": True}


def _hnsw(p: Mapping[str, Any], distance: str, ef: int, search: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"distance": distance, "maxConnections": int(p["max_connections"])}
    out.update(efConstruction=int(p["ef_construction"]), ef=int(ef))
    if "flat_search_cutoff" in search:
        out["flatSearchCutoff"] = int(search["flat_search_cutoff"])
    if search.get("filter_strategy") is not None:
        out["filterStrategy"] = str(search["filter_strategy"])
    return out


def vector_index_config(
    index_type: str,
    metric: Metric,
    build: Mapping[str, Any],
    ef: int,
    search: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``(vectorIndexType, vectorIndexConfig)`` of Weaviate's schema, as one mapping; ``search``
    adds the filtered-search settings of the HNSW graph (flat_search_cutoff, filter_strategy)."""
    distance = DISTANCES[metric]
    search = search or {}
    if index_type == "hnsw":
        return {"type": "hnsw", "config": {**_hnsw(build, distance, ef, search), **_quantizer(build)}}
    if index_type == "flat":
        return {"type": "flat", "config": {"distance": distance, "skipDefaultQuantization": True}}
    if index_type == "flat_bq":
        bq = {"enabled": True, "rescoreLimit": int(build["rescore_limit"])}
        return {"type": "flat", "config": {"distance": distance, "bq": bq}}
    if index_type == "dynamic":
        config = {"distance": distance, "threshold": int(build["threshold"])}
        config.update(hnsw=_hnsw(build, distance, ef, search), flat={"distance": distance})
        return {"type": "dynamic", "config": config}
    raise InvalidParameterError(f"no Weaviate vector index for index type {index_type!r}")


def to_configure(wvc: Any, index: Mapping[str, Any]) -> Any:
    """The client's ``Configure.VectorIndex`` object for ``vector_index_config``'s mapping."""
    vi = wvc.Configure.VectorIndex
    q = vi.Quantizer
    cfg = index["config"]
    dist = wvc.VectorDistances(cfg["distance"])

    def quantizer(c: Mapping[str, Any]) -> Any:
        if "pq" in c:
            pq = c["pq"]
            kw = {
                "centroids": pq["centroids"],
                "segments": pq["segments"],
                "training_limit": pq["trainingLimit"],
            }
            return q.pq(**kw)
        if "sq" in c:
            return q.sq(training_limit=c["sq"]["trainingLimit"], rescore_limit=c["sq"]["rescoreLimit"])
        if "bq" in c:
            return q.bq(rescore_limit=c["bq"]["rescoreLimit"])
        return q.none()

    def hnsw(c: Mapping[str, Any], with_quantizer: bool) -> Any:
        kw = {"max_connections": c["maxConnections"], "ef_construction": c["efConstruction"], "ef": c["ef"]}
        kw["flat_search_cutoff"] = c.get("flatSearchCutoff")
        if c.get("filterStrategy"):
            kw["filter_strategy"] = wvc.VectorFilterStrategy(c["filterStrategy"])
        return vi.hnsw(distance_metric=dist, quantizer=quantizer(cfg) if with_quantizer else None, **kw)

    if index["type"] == "hnsw":
        return hnsw(cfg, True)
    if index["type"] == "flat":
        return vi.flat(distance_metric=dist, quantizer=quantizer(cfg))
    return vi.dynamic(
        distance_metric=dist,
        threshold=cfg["threshold"],
        hnsw=hnsw(cfg["hnsw"], False),
        flat=vi.flat(distance_metric=dist),
    )
