"""Qdrant through qdrant-client: a Qdrant server (``qdrant``) and the client's local mode (``qdrant-local``).

``qdrant_client`` is imported in ``__enter__``, never at module import.

Metrics: euclidean -> ``Distance.EUCLID``; cosine -> ``Distance.COSINE`` (Qdrant normalizes
vectors on insert); ip -> ``Distance.DOT``. Ids: vecbench ids are int64 >= 0 and map one to
one onto Qdrant's unsigned 64-bit point ids.

Indexing on a server (verified facts, see also ``adapters/qdrant_edge.py``):

- Qdrant indexes a segment only once its vectors exceed the optimizer's
  ``indexing_threshold`` (in KB; 1 KB = one 256-dim float32 vector; server default 20000 KB).
  Below it the segment stays plain and is searched brute force, so a benchmark of a
  small collection with the defaults measures a flat scan while claiming HNSW.
- ``indexing_threshold = 0`` *disables* indexing (Qdrant's bulk-upload guide; checked with
  qdrant-edge 0.9, which builds no index with 0).
- HNSW's ``full_scan_threshold`` (KB, default 10000) applies to unfiltered searches too:
  a segment smaller than it is scanned exactly even when its graph exists.

So the ``hnsw`` index type here creates the collection with indexing disabled
(``defer_indexing``, the bulk-upload recipe), and ``wait_ready()`` sets
``indexing_threshold`` (default 1 KB) and polls until the collection is green and its
``indexed_vectors_count`` covers the points; ``full_scan_threshold`` defaults to 10 KB, so
the graph is searched. ``describe()`` reads all of it back from the server. ``flat`` keeps
indexing disabled and searches with ``exact=True``.

Local mode (``qdrant-local``) is a pure-Python re-implementation inside qdrant-client: exact
numpy search, no HNSW, no optimizer, not the Qdrant engine. It offers only ``flat``.

    with QdrantStore({"url": "http://127.0.0.1:6333"}) as store:
        store.create(CollectionSpec("demo", dim=128, metric="cosine", index_type="hnsw"))
        store.upsert(ids, vectors)
        store.wait_ready(timeout_s=600)     # the HNSW build is timed here
        store.set_search_params({"hnsw_ef": 64})
        store.search(query, k=10)
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Mapping
from typing import Any, ClassVar

from vecbench.engines import ENGINES
from vecbench.errors import ConfigError, StoreError
from vecbench.spec import IndexType
from vecbench.store import FootprintStats, StoreInfo
from vecbench.util.validation import is_number

from ._base import check_int_param
from ._capabilities import FootprintMixin, ShareableMixin
from ._qdrant_base import DEFAULT_BATCH_SIZE, DISTANCE_NAMES, QdrantClientStore, client_version
from ._qdrant_base import POLL_INTERVAL_S as POLL_INTERVAL_S
from ._qdrant_base import STABLE_GREEN_POLLS as STABLE_GREEN_POLLS

__all__ = ["QdrantStore", "QdrantLocalStore", "DISTANCE_NAMES", "START_HINT"]

ENGINE = ENGINES["qdrant"]
# Qdrant's server runs only in docker compose (no local route): say so, with the address.
START_HINT = f"start one with {ENGINE.start_hint} and set {ENGINE.env_var}={ENGINE.compose_url}"

_HNSW = IndexType(
    "hnsw",
    build={
        "m": 16,
        "ef_construct": 100,
        "full_scan_threshold": 10,
        "indexing_threshold": 1,
        "defer_indexing": True,
        "quantization": None,
        "quantile": None,
        "always_ram": True,
        "pq_compression": "x16",
    },
    search={"hnsw_ef": 128, "exact": False, "rescore": True, "oversampling": None},
    description=(
        "Qdrant HNSW. full_scan_threshold and indexing_threshold in KB (1 KB = one 256-dim float32 vector); "
        "defer_indexing: create with indexing disabled, enable it in wait_ready (bulk-upload recipe); "
        "quantization None|'scalar' (int8, quantile, always_ram)|'product' (pq_compression x4..x64); "
        "search hnsw_ef, exact, rescore/oversampling (quantized only)"
    ),
)
_FLAT = IndexType(
    "flat",
    exact=True,
    description="no vector index (indexing_threshold 0); every search runs with exact=True",
)
_LOCAL_FLAT = IndexType(
    "flat",
    exact=True,
    description="qdrant-client local mode: exact numpy scan in Python (not the Qdrant engine)",
)

_CLIENT_CONFIG_KEYS = {
    "upload_batch_size": f"points per upsert request (default {DEFAULT_BATCH_SIZE})",
}


class QdrantStore(ShareableMixin, FootprintMixin, QdrantClientStore):
    """A Qdrant server or Qdrant Cloud cluster. Config: ``url`` (required), ``api_key``,
    ``prefer_grpc``, ``timeout_s``, ``upload_parallel``, ``upload_batch_size``.

    Index types (defaults in brackets): ``hnsw`` m [16], ef_construct [100],
    full_scan_threshold [10 KB], indexing_threshold [1 KB], defer_indexing [True],
    quantization [None] | "scalar" (quantile, always_ram) | "product" (pq_compression
    ["x16"], always_ram); search hnsw_ef [128], exact [False], rescore [True] and
    oversampling [None] (quantized collections only). ``flat``: no vector index, exact search.
    """

    info: ClassVar[StoreInfo] = StoreInfo(
        name="qdrant",
        engine="qdrant",
        extra="qdrant",
        client_modules=("qdrant_client",),
        index_types={"hnsw": _HNSW, "flat": _FLAT},
        embedded=False,
        server=ENGINE,
        description="Qdrant server or cloud through qdrant-client (REST or gRPC): HNSW (optionally quantized), exact.",
        config_keys={
            "url": f"server URL, e.g. {ENGINE.compose_url} (default ${ENGINE.env_var})",
            "api_key": "API key (secret: never recorded)",
            "prefer_grpc": "use gRPC (port 6334) instead of REST for data calls (default false)",
            "timeout_s": "request timeout in seconds (default 60)",
            "upload_parallel": "parallel upload processes for upsert (qdrant-client upload_collection; default 1)",
            **_CLIENT_CONFIG_KEYS,
        },
    )

    def _check_config(self, config: dict[str, Any]) -> dict[str, Any]:
        config = super()._check_config(config)
        if not config.get("url") and os.environ.get(ENGINE.env_var):
            config["url"] = os.environ[ENGINE.env_var]  # as docker compose's label says
        url = config.get("url")
        if not isinstance(url, str) or not url.strip():
            raise ConfigError(f"qdrant store needs config 'url' (a server URL); {START_HINT}")
        if config.get("api_key") is not None and not isinstance(config["api_key"], str):
            raise ConfigError("qdrant api_key must be a string")
        if "prefer_grpc" in config and not isinstance(config["prefer_grpc"], bool):
            raise ConfigError(f"qdrant prefer_grpc must be true or false, got {config['prefer_grpc']!r}")
        t = config.get("timeout_s")
        if t is not None and (not is_number(t) or t <= 0):
            raise ConfigError(f"qdrant timeout_s must be a positive number, got {t!r}")
        if config.get("upload_parallel") is not None:
            check_int_param("upload_parallel", config["upload_parallel"], minimum=1)
        return config

    def __repr__(self) -> str:
        shown = {k: ("***" if k == "api_key" else v) for k, v in self._config.items()}
        state = "connected" if self._connected else "not connected"
        return f"{type(self).__name__}({shown!r}) [{state}]"

    @property
    def _where(self) -> str:
        return str(self._config["url"])

    @property
    def _upload_parallel(self) -> int:
        return int(self._config.get("upload_parallel") or 1)

    def _connect(self) -> None:
        self._import_client()
        assert self._qc is not None
        url = self._config["url"]
        timeout = self._config.get("timeout_s") or 60
        try:
            client = self._qc.QdrantClient(
                url=url,
                api_key=self._config.get("api_key"),
                prefer_grpc=bool(self._config.get("prefer_grpc", False)),
                timeout=int(max(1, round(timeout))),
                check_compatibility=False,  # checked below, with an error that names the URL
            )
        except Exception as exc:
            raise StoreError(f"cannot connect to Qdrant at {url}: {type(exc).__name__}: {exc}") from exc
        try:
            self._server = client.info()
        except Exception as exc:
            try:
                client.close()
            except Exception:
                pass
            raise StoreError(
                f"cannot reach Qdrant at {url}: {type(exc).__name__}: {exc}; {START_HINT}"
            ) from exc
        self._client = client

    def _do_describe(self) -> dict[str, Any]:
        out = super()._do_describe()
        server = getattr(self, "_server", None)
        out["server_version"] = getattr(server, "version", None)
        out["server_commit"] = getattr(server, "commit", None)
        out["engine_version"] = out["server_version"]
        out["transport"] = "grpc" if self._config.get("prefer_grpc") else "rest"
        return out

    # -- sharing -----------------------------------------------------------------------------

    def _do_share(self) -> dict[str, Any]:
        # Searches need only the collection name (in the spec) and the search params, which
        # go with every query (search_request_params): nothing is set on the server.
        return {}

    def _do_attach(self, state: Mapping[str, Any]) -> None:
        spec = self._require_collection()
        if not self._call("check the collection", self._client.collection_exists, spec.name):
            raise StoreError(f"Qdrant ({self._where}) has no collection {spec.name!r} to attach to")
        self._index_wait = {}
        # An attached store never changes the collection: wait_ready only polls, and never
        # turns on indexing the owner deferred (the owner's wait_ready does that).
        self._indexing_enabled = True

    def _do_detach(self) -> None:
        self._index_wait = {}

    # -- footprint -------------------------------------------------------------------------

    def _do_footprint(self) -> FootprintStats:
        """RAM and disk of the collection's segments, from the server's ``/telemetry``."""
        spec = self._require_collection()
        base = str(self._config["url"]).rstrip("/")
        req = urllib.request.Request(f"{base}/telemetry?details_level=10")
        if self._config.get("api_key"):
            req.add_header("api-key", str(self._config["api_key"]))
        timeout = float(self._config.get("timeout_s") or 60)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (URL from config)
                telemetry = json.loads(resp.read())
        except Exception as exc:
            return FootprintStats(None, None, f"GET /telemetry failed: {type(exc).__name__}: {exc}")
        return footprint_from_telemetry(telemetry, spec.name)


def footprint_from_telemetry(telemetry: Mapping[str, Any], collection: str) -> FootprintStats:
    """Sum the segment sizes Qdrant's telemetry reports for ``collection``."""
    colls = (((telemetry.get("result") or {}).get("collections") or {}).get("collections")) or []
    segments: list[Mapping[str, Any]] = []
    for coll in colls:
        if not isinstance(coll, Mapping) or coll.get("id") != collection:
            continue
        for shard in coll.get("shards") or []:
            local = (shard or {}).get("local") or {}
            for seg in local.get("segments") or []:
                info = (seg or {}).get("info")
                if isinstance(info, Mapping):
                    segments.append(info)
    if not segments:
        return FootprintStats(
            None, None, "telemetry lists no segments for this collection (details_level too low?)"
        )

    def total(key: str) -> int:
        return sum(int(s.get(key) or 0) for s in segments)

    ram, disk = total("ram_usage_bytes"), total("disk_usage_bytes")
    if ram or disk:
        return FootprintStats(
            ram or None,
            disk or None,
            "Qdrant /telemetry: sum of segments' ram_usage_bytes / disk_usage_bytes",
        )
    raw = total("vectors_size_bytes") + total("payloads_size_bytes")
    return FootprintStats(
        raw or None,
        None,
        "Qdrant /telemetry reports no ram/disk usage: memory is the segments' vectors_size_bytes + "
        "payloads_size_bytes (raw data, a lower bound)",
    )


class QdrantLocalStore(FootprintMixin, QdrantClientStore):
    """qdrant-client's local mode, in-process. Config: ``path`` (None: in memory), ``upload_batch_size``.

    Local mode is a pure-Python re-implementation of Qdrant's API inside qdrant-client:
    every search is an exact numpy scan, HNSW and quantization settings are ignored, and
    nothing of the Qdrant engine (Rust) runs. Hence only the ``flat`` index type.
    """

    _local: ClassVar[bool] = True

    info: ClassVar[StoreInfo] = StoreInfo(
        name="qdrant-local",
        engine="qdrant-client-local",
        extra="qdrant",
        client_modules=("qdrant_client",),
        index_types={"flat": _LOCAL_FLAT},
        embedded=True,
        description=(
            "qdrant-client local mode: a Python re-implementation with exact search, NOT the Qdrant engine "
            "(use qdrant-edge for the engine in-process, qdrant for a server)"
        ),
        config_keys={
            "path": "directory to persist the local collection in (default: in memory)",
            **_CLIENT_CONFIG_KEYS,
        },
        unsupported={
            "Shareable": "local mode keeps the collection in this process (in memory, or under a path "
            "it locks against any other QdrantClient); use the qdrant server store for load tests",
        },
    )

    def _check_config(self, config: dict[str, Any]) -> dict[str, Any]:
        config = super()._check_config(config)
        if config.get("path") is not None and not isinstance(config["path"], str):
            raise ConfigError(f"qdrant-local path must be a string, got {config['path']!r}")
        return config

    @property
    def _where(self) -> str:
        return f"local mode at {self._config.get('path') or ':memory:'}"

    def _connect(self) -> None:
        self._import_client()
        assert self._qc is not None
        path = self._config.get("path")
        try:
            self._client = self._qc.QdrantClient(path=path) if path else self._qc.QdrantClient(":memory:")
        except Exception as exc:
            raise StoreError(f"cannot open qdrant-client local mode ({self._where}): {exc}") from exc

    def _do_describe(self) -> dict[str, Any]:
        out = super()._do_describe()
        out["engine_version"] = f"qdrant-client {client_version()} local mode"
        out["implementation"] = (
            "qdrant-client local mode: pure-Python re-implementation, exact numpy search; HNSW, optimizer "
            "and quantization settings do not apply (the config it reports back is a placeholder)"
        )
        out["mode"] = "disk" if self._config.get("path") else "memory"
        for placeholder in ("hnsw_config", "optimizer_config", "quantization", "indexed_vectors_count"):
            out.pop(placeholder, None)
        return out

    def _do_footprint(self) -> FootprintStats:
        spec = self._require_collection()
        path = self._config.get("path")
        if path:
            return FootprintStats(None, _dir_bytes(path) or None, f"sum of file sizes under {path}")
        info = self._call("read collection info", self._client.get_collection, spec.name)
        points = int(info.points_count or 0)
        return FootprintStats(
            points * spec.dim * 4 or None,
            None,
            "estimate: points_count x dim x 4 bytes (raw float32 vectors); local mode reports no footprint",
        )


def _dir_bytes(path: str) -> int:
    """Total size of the regular files under ``path``."""
    import os

    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:  # a file removed while walking
                pass
    return total
