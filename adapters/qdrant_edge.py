"""Qdrant Edge: the Qdrant engine (Rust) in-process through qdrant-edge-py (import name ``qdrant_edge``).

``qdrant_edge`` is imported in ``__enter__``, never at module import. One collection is one
``EdgeShard`` in a directory under config ``path`` (default: a temporary directory made in
``__enter__`` and removed in ``__exit__``).

Facts checked by hand against qdrant-edge-py 0.9.0 (and kept in the unit tests):

- With the default optimizer config a small shard is never indexed: 5000 x 32 vectors
  (640 KB) stay in one plain segment, ``optimize()`` returns False, indexed count 0.
- ``EdgeOptimizersConfig(indexing_threshold=0)`` disables indexing (same result).
- ``indexing_threshold=1`` (KB) then ``optimize()`` builds HNSW over every segment holding
  at least 1 KB of vectors; a smaller tail (e.g. one replaced point) stays in the plain
  appendable segment and is scanned exactly.
- HNSW's ``full_scan_threshold`` (KB) also governs unfiltered search: with Qdrant's default
  10000 KB a 640 KB segment is scanned exactly whatever ``hnsw_ef`` says (recall 1.0 at
  ef=1); with 10 KB the graph is used and ``hnsw_ef`` changes recall.
- ``indexed_vectors_count`` keeps counting deleted vectors until a segment is vacuumed.

So ``hnsw`` here sets indexing_threshold 1 KB and full_scan_threshold 10 KB by default,
and ``wait_ready()`` runs the engine's optimizer (blocking, in a worker thread bounded by
the timeout) and records the indexed count. ``flat`` disables indexing and searches
with ``exact=True``.

Metrics: euclidean -> ``Distance.Euclid``, cosine -> ``Distance.Cosine`` (normalized on
insert), ip -> ``Distance.Dot``. Ids: int64 >= 0 map onto Qdrant's u64 point ids.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from vecbench.errors import CollectionExistsError, ConfigError, NotReadyError, StoreError
from vecbench.metrics import Metric
from vecbench.spec import IndexType
from vecbench.store import FootprintStats, StoreInfo
from vecbench.util.deps import import_optional

from ._base import BaseStore, check_int_param
from ._capabilities import BatchSearchMixin, DeletableMixin, FilterableMixin, FootprintMixin
from ._qdrant_filter import attribute_payloads, edge_filter, payload_index_schemas

__all__ = ["QdrantEdgeStore"]

DEFAULT_BATCH_SIZE = 1024
_DISTANCE = {Metric.EUCLIDEAN: "Euclid", Metric.COSINE: "Cosine", Metric.IP: "Dot"}
_METRIC_MAPPING = {
    Metric.EUCLIDEAN: "euclidean -> Distance.Euclid (L2 distance)",
    Metric.COSINE: "cosine -> Distance.Cosine (normalized on insert, then dot product)",
    Metric.IP: "ip -> Distance.Dot (inner product)",
}

_INDEX_TYPES = {
    "hnsw": IndexType(
        "hnsw",
        build={"m": 16, "ef_construct": 100, "full_scan_threshold": 10, "indexing_threshold": 1},
        search={"hnsw_ef": 128},
        description=(
            "Qdrant HNSW, built by the engine's optimizer in wait_ready; full_scan_threshold and "
            "indexing_threshold in KB (1 KB = one 256-dim float32 vector)"
        ),
    ),
    "flat": IndexType("flat", exact=True, description="indexing disabled (threshold 0); exact=True search"),
}


class QdrantEdgeStore(BatchSearchMixin, DeletableMixin, FilterableMixin, FootprintMixin, BaseStore):
    """Qdrant Edge in-process. Config: ``path``, ``upsert_batch_size``, ``max_search_threads``.

    Index types (defaults in brackets): ``hnsw`` m [16], ef_construct [100],
    full_scan_threshold [10 KB], indexing_threshold [1 KB]; search hnsw_ef [128].
    ``flat``: no index, exact search.

        with QdrantEdgeStore() as store:
            store.create(CollectionSpec("demo", dim=128, metric="cosine", index_type="hnsw"))
            store.upsert(ids, vectors)
            store.wait_ready()              # HNSW is built here (EdgeShard.optimize)
            store.set_search_params({"hnsw_ef": 64})
            store.search(query, k=10)
    """

    info: ClassVar[StoreInfo] = StoreInfo(
        name="qdrant-edge",
        engine="qdrant",
        extra="qdrant",
        client_modules=("qdrant_edge",),
        index_types=_INDEX_TYPES,
        embedded=True,
        description="Qdrant Edge (qdrant-edge-py): the Qdrant engine in-process; HNSW and exact.",
        config_keys={
            "path": "directory for the shards (default: a temporary directory removed on exit)",
            "upsert_batch_size": f"points per update operation (default {DEFAULT_BATCH_SIZE})",
            "max_search_threads": "threads of the shard's search pool (default: derived from the CPU count)",
        },
        # Checked with qdrant-edge-py 0.9.0: EdgeShard.load of a shard another process holds
        # fails ("failed to open WAL ... WouldBlock"), and there is no read-only open.
        unsupported={
            "Shareable": "the engine locks the shard's write-ahead log (a second EdgeShard.load fails) "
            "and has no read-only mode; use the qdrant server store for load tests",
        },
    )

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self._qe: ModuleType | None = None
        self._root: Path | None = None
        self._own_root = False
        self._shard: Any = None
        self._drop_old = False
        self._optimizer: threading.Thread | None = None
        self._optimize_result: dict[str, Any] = {}
        self._build: dict[str, Any] = {}

    # -- config and params ---------------------------------------------------------------

    def _check_config(self, config: dict[str, Any]) -> dict[str, Any]:
        if config.get("path") is not None and not isinstance(config["path"], (str, os.PathLike)):
            raise ConfigError(f"qdrant-edge path must be a string, got {config['path']!r}")
        if config.get("upsert_batch_size") is not None:
            check_int_param("upsert_batch_size", config["upsert_batch_size"], minimum=1)
        if config.get("max_search_threads") is not None:
            check_int_param("max_search_threads", config["max_search_threads"], minimum=1)
        return config

    def _check_build_params(self, spec: Any, params: dict[str, Any]) -> dict[str, Any]:
        if spec.index_type == "hnsw":
            check_int_param("m", params["m"], minimum=1)
            check_int_param("ef_construct", params["ef_construct"], minimum=4)
            check_int_param("full_scan_threshold", params["full_scan_threshold"], minimum=1)
            check_int_param("indexing_threshold", params["indexing_threshold"], minimum=1)
        return params

    def _check_search_params(self, params: dict[str, Any]) -> dict[str, Any]:
        if "hnsw_ef" in params:
            check_int_param("hnsw_ef", params["hnsw_ef"], minimum=1)
        return params

    # -- lifecycle ---------------------------------------------------------------------

    def _connect(self) -> None:
        self._qe = import_optional("qdrant_edge", "qdrant")
        path = self._config.get("path")
        if path is None:
            self._root = Path(tempfile.mkdtemp(prefix="vecbench-qdrant-edge-"))
            self._own_root = True
        else:
            self._root = Path(path)
            self._root.mkdir(parents=True, exist_ok=True)
            self._own_root = False

    def _disconnect(self) -> None:
        self._close_shard()
        if self._own_root and self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
        self._root, self._own_root, self._qe = None, False, None

    def edge_config(self) -> Any:
        """The ``EdgeConfig`` for the current spec and build params."""
        spec = self._require_collection()
        qe = self._client
        p = self._build_params
        vectors = qe.EdgeVectorParams(size=spec.dim, distance=getattr(qe.Distance, _DISTANCE[spec.metric]))
        kwargs: dict[str, Any] = {"vectors": vectors}
        if self._config.get("max_search_threads") is not None:
            kwargs["max_search_threads"] = int(self._config["max_search_threads"])
        if spec.index_type == "flat":
            kwargs["optimizers"] = qe.EdgeOptimizersConfig(indexing_threshold=0)
        else:
            kwargs["hnsw_config"] = qe.HnswIndexConfig(
                m=int(p["m"]),
                ef_construct=int(p["ef_construct"]),
                full_scan_threshold=int(p["full_scan_threshold"]),
            )
            kwargs["optimizers"] = qe.EdgeOptimizersConfig(indexing_threshold=int(p["indexing_threshold"]))
        return qe.EdgeConfig(**kwargs)

    def _do_create(self) -> None:
        self._close_shard()
        self._build, self._optimize_result = {}, {}
        path = self._shard_path
        if path.exists() and any(path.iterdir()):
            if not self._drop_old:
                raise CollectionExistsError(
                    f"a qdrant-edge shard already exists at {path}; pass drop_old=True to replace it"
                )
            shutil.rmtree(path)
        try:
            self._shard = self._client.EdgeShard.create(str(path), self.edge_config())
        except Exception as exc:
            raise StoreError(f"qdrant-edge could not create a shard at {path}: {exc}") from exc
        # Payload indexes before any vector is indexed, as on a server (see _qdrant_filter.py).
        schema = self._client.PayloadSchemaType
        for field, kind in payload_index_schemas(self._require_collection().attributes).items():
            op = self._client.UpdateOperation.create_field_index(field, getattr(schema, kind.capitalize()))
            self._shard.update(op)
        self._search_request_params = self._make_search_params()

    def _do_drop(self) -> None:
        path = self._shard_path if self._root is not None and self._spec is not None else None
        self._close_shard()
        if path is not None:
            shutil.rmtree(path, ignore_errors=True)

    def _close_shard(self) -> None:
        self._join_optimizer(None)
        shard, self._shard = self._shard, None
        if shard is not None:
            shard.close()

    # -- writes ----------------------------------------------------------------------------

    def _do_upsert(
        self, ids: NDArray[np.int64], vectors: NDArray[np.float32], attributes: Any = None
    ) -> None:
        self._require_idle()
        qe = self._client
        point, op, update = qe.Point, qe.UpdateOperation.upsert_points, self._shard.update
        batch = int(self._config.get("upsert_batch_size") or DEFAULT_BATCH_SIZE)
        id_list = ids.tolist()
        payloads = attribute_payloads(attributes, len(id_list)) if attributes else None
        for start in range(0, len(id_list), batch):
            stop = start + batch
            rows = zip(id_list[start:stop], vectors[start:stop], strict=True)
            # Point(int, list) is the fastest way in: a numpy row costs twice as much (measured).
            if payloads is None:
                update(op([point(i, v.tolist()) for i, v in rows]))
            else:
                update(
                    op(
                        [
                            point(i, v.tolist(), p)
                            for (i, v), p in zip(rows, payloads[start:stop], strict=True)
                        ]
                    )
                )

    def _do_delete(self, ids: NDArray[np.int64]) -> None:
        self._require_idle()
        self._shard.update(self._client.UpdateOperation.delete_points(ids.tolist()))

    # -- build -----------------------------------------------------------------------------

    def _do_wait_ready(self, timeout_s: float) -> None:
        t0 = time.perf_counter()
        if self._optimizer is None:
            shard, result = self._shard, self._optimize_result
            result.clear()

            def run() -> None:
                try:
                    result["optimized"] = bool(shard.optimize())
                except BaseException as exc:  # reported by the waiting thread
                    result["error"] = exc

            self._optimizer = threading.Thread(target=run, name="qdrant-edge-optimize", daemon=True)
            self._optimizer.start()
        self._join_optimizer(timeout_s)
        if "error" in self._optimize_result:
            exc = self._optimize_result.pop("error")
            raise StoreError(f"qdrant-edge optimize() failed: {exc}") from exc
        info = self._shard.info()
        self._build = {
            "optimize_s": time.perf_counter() - t0,
            "optimized": self._optimize_result.get("optimized"),
            "points_count": int(info.points_count),
            "indexed_vectors_count": int(info.indexed_vectors_count),
            "segments_count": int(info.segments_count),
        }

    def _join_optimizer(self, timeout_s: float | None) -> None:
        thread = self._optimizer
        if thread is None:
            return
        thread.join(timeout_s)
        if thread.is_alive():
            raise NotReadyError(
                f"qdrant-edge optimize() still running after {timeout_s:g} s (it goes on in the background)"
            )
        self._optimizer = None

    def _require_idle(self) -> None:
        # After a wait_ready() timeout the optimizer goes on; the shard is not touched meanwhile.
        if self._optimizer is not None and self._optimizer.is_alive():
            raise StoreError("qdrant-edge optimize() is still running; call wait_ready() again first")

    # -- search ----------------------------------------------------------------------------

    def _make_search_params(self) -> Any:
        spec = self._require_collection()
        if spec.index_type == "flat":
            return self._client.SearchParams(exact=True)
        return self._client.SearchParams(hnsw_ef=int(self._search_params["hnsw_ef"]))

    def _apply_search_params(self) -> None:
        self._search_request_params = self._make_search_params()

    def _do_search(self, queries: NDArray[np.float32], k: int) -> NDArray[np.int64]:
        return self._query(queries, k, None)

    def _do_search_filtered(self, queries: NDArray[np.float32], k: int, flt: Any) -> NDArray[np.int64]:
        return self._query(queries, k, edge_filter(flt, self._client))

    def _query(self, queries: NDArray[np.float32], k: int, query_filter: Any) -> NDArray[np.int64]:
        self._require_idle()
        qe = self._client
        params = self._search_request_params
        requests = [
            qe.QueryRequest(
                limit=k,
                query=qe.Query.Nearest(q.tolist()),
                filter=query_filter,
                params=params,
                with_payload=False,
                with_vector=False,
            )
            for q in queries
        ]
        if len(requests) == 1:
            results = [self._shard.query(requests[0])]
        else:
            results = self._shard.query_batch(qe.QueryBatchRequest(requests))
        out = np.full((queries.shape[0], k), -1, dtype=np.int64)
        for row, points in enumerate(results):
            if points:
                out[row, : len(points)] = [p.id for p in points]
        return out

    # -- reporting -------------------------------------------------------------------------

    def _do_footprint(self) -> FootprintStats:
        self._require_idle()
        self._shard.flush()
        total = 0
        for root, _dirs, files in os.walk(self._shard_path):
            for name in files:
                try:
                    total += os.path.getsize(os.path.join(root, name))
                except OSError:
                    pass
        return FootprintStats(
            memory_bytes=None,
            disk_bytes=total or None,
            method="sum of file sizes under the shard directory after flush() (WAL included); "
            "qdrant-edge 0.9 has no memory or size API",
        )

    def _do_describe(self) -> dict[str, Any]:
        spec = self._require_collection()
        try:
            edge_version: str | None = version("qdrant-edge-py")
        except PackageNotFoundError:
            edge_version = None
        out: dict[str, Any] = {
            "client_version": edge_version,
            "engine_version": f"qdrant-edge-py {edge_version} (the engine's own version is not exposed)",
            "metric_mapping": _METRIC_MAPPING[spec.metric],
            "qdrant_distance": _DISTANCE[spec.metric],
            "id_mapping": "vecbench int64 id >= 0 -> Qdrant unsigned 64-bit point id (identity)",
            "shard_path": str(self._shard_path),
            "search_request_params": (
                {"exact": True}
                if spec.index_type == "flat"
                else {"hnsw_ef": int(self._search_params["hnsw_ef"])}
            ),
            "build": dict(self._build),
        }
        if spec.attributes:
            out["filtering"] = (
                "native: declared attributes as payload with payload indexes (keyword / integer), "
                "filters as Filter(must=[FieldCondition MatchValue / MatchAny / RangeFloat])"
            )
        if not (self._optimizer is not None and self._optimizer.is_alive()) and self._shard is not None:
            info = self._shard.info()
            out.update(
                points_count=int(info.points_count),
                indexed_vectors_count=int(info.indexed_vectors_count),
                segments_count=int(info.segments_count),
                payload_schema={k: str(v.data_type).split(".")[-1] for k, v in info.payload_schema.items()},
            )
        cfg_file = self._shard_path / "edge_config.json"
        try:
            out["edge_config"] = json.loads(cfg_file.read_text())  # what the engine persisted
        except (OSError, ValueError) as exc:
            out["edge_config"] = f"unreadable ({exc})"
        return out

    # -- small accessors -------------------------------------------------------------------

    @property
    def _client(self) -> Any:
        if self._qe is None:
            raise StoreError("qdrant-edge store is not connected; use it as a context manager (with ...)")
        return self._qe

    @property
    def _shard_path(self) -> Path:
        if self._root is None:
            raise StoreError("qdrant-edge store is not connected; use it as a context manager (with ...)")
        return self._root / self._require_collection().name
