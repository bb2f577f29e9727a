"""What the ``qdrant`` and ``qdrant-local`` stores share: the qdrant-client calls themselves.

``QdrantClientStore`` checks the build and search parameters, builds the
``create_collection`` arguments and ``SearchParams`` (pure: unit-tested without a server),
and runs create, upsert, delete, the ``wait_ready`` poll (see ``qdrant.py`` for why it
turns indexing on), search and describe. The subclasses in ``qdrant.py`` connect.
"""

from __future__ import annotations

import time
from importlib.metadata import PackageNotFoundError, version
from types import ModuleType
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from vecbench.errors import (
    CollectionExistsError,
    ConfigError,
    InvalidParameterError,
    NotReadyError,
    StoreError,
)
from vecbench.metrics import Metric
from vecbench.util.deps import import_optional

from ._base import BaseStore, check_int_param
from ._capabilities import BatchSearchMixin, DeletableMixin, FilterableMixin
from ._qdrant_filter import attribute_payloads, payload_index_schemas, qdrant_filter

# Qdrant's names for vecbench's metrics (models.Distance values).
DISTANCE_NAMES = {Metric.EUCLIDEAN: "Euclid", Metric.COSINE: "Cosine", Metric.IP: "Dot"}
_METRIC_MAPPING = {
    Metric.EUCLIDEAN: "euclidean -> Distance.EUCLID (L2 distance)",
    Metric.COSINE: "cosine -> Distance.COSINE (Qdrant normalizes vectors on insert, then dot product)",
    Metric.IP: "ip -> Distance.DOT (inner product)",
}
POLL_INTERVAL_S = 0.25
# Polls of an unchanged green collection after which a sub-threshold tail is accepted as final.
STABLE_GREEN_POLLS = 8
DEFAULT_BATCH_SIZE = 256
_QUANTIZATIONS = (None, "scalar", "product")
_PQ_COMPRESSIONS = ("x4", "x8", "x16", "x32", "x64")


def client_version() -> str | None:
    try:
        return version("qdrant-client")
    except PackageNotFoundError:
        return None


class QdrantClientStore(BatchSearchMixin, DeletableMixin, FilterableMixin, BaseStore):
    """What the server and local-mode stores share: the qdrant-client calls themselves."""

    _local: ClassVar[bool] = False

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self._qc: ModuleType | None = None
        self._models: ModuleType | None = None
        self._client: Any = None
        self._drop_old = False
        self._index_wait: dict[str, Any] = {}
        self._indexing_enabled = False

    # -- config and params ---------------------------------------------------------------

    def _check_config(self, config: dict[str, Any]) -> dict[str, Any]:
        if config.get("upload_batch_size") is not None:
            check_int_param("upload_batch_size", config["upload_batch_size"], minimum=1)
        return config

    def _check_build_params(self, spec: Any, params: dict[str, Any]) -> dict[str, Any]:
        if spec.index_type != "hnsw":
            return params
        check_int_param("m", params["m"], minimum=0)
        check_int_param("ef_construct", params["ef_construct"], minimum=4)
        check_int_param("full_scan_threshold", params["full_scan_threshold"], minimum=10)
        check_int_param("indexing_threshold", params["indexing_threshold"], minimum=1)
        if not isinstance(params["defer_indexing"], bool):
            raise InvalidParameterError(
                f"defer_indexing must be true or false, got {params['defer_indexing']!r}"
            )
        q = params["quantization"]
        if q not in _QUANTIZATIONS:
            raise InvalidParameterError(f"quantization must be one of None, 'scalar', 'product'; got {q!r}")
        quantile = params["quantile"]
        if quantile is not None and (
            isinstance(quantile, bool) or not isinstance(quantile, (int, float)) or not 0.5 <= quantile <= 1.0
        ):
            raise InvalidParameterError(f"quantile must be a number in [0.5, 1.0] or None, got {quantile!r}")
        if not isinstance(params["always_ram"], bool):
            raise InvalidParameterError(f"always_ram must be true or false, got {params['always_ram']!r}")
        if params["pq_compression"] not in _PQ_COMPRESSIONS:
            raise InvalidParameterError(
                f"pq_compression must be one of {', '.join(_PQ_COMPRESSIONS)}, got {params['pq_compression']!r}"
            )
        return params

    def _check_search_params(self, params: dict[str, Any]) -> dict[str, Any]:
        if "hnsw_ef" in params:
            check_int_param("hnsw_ef", params["hnsw_ef"], minimum=1)
        for flag in ("exact", "rescore"):
            if flag in params and not isinstance(params[flag], bool):
                raise InvalidParameterError(f"{flag} must be true or false, got {params[flag]!r}")
        over = params.get("oversampling")
        if over is not None and (isinstance(over, bool) or not isinstance(over, (int, float)) or over < 1.0):
            raise InvalidParameterError(f"oversampling must be a number >= 1 or None, got {over!r}")
        return params

    # -- request objects (pure: unit-tested without a server) --------------------------

    def collection_request(self) -> dict[str, Any]:
        """Keyword arguments of ``create_collection`` for the current spec and build params."""
        spec = self._require_collection()
        m = self._m
        p = self._build_params
        kwargs: dict[str, Any] = {
            "collection_name": spec.name,
            "vectors_config": m.VectorParams(size=spec.dim, distance=m.Distance(DISTANCE_NAMES[spec.metric])),
        }
        if self._local:
            return kwargs
        if spec.index_type == "flat":
            kwargs["optimizers_config"] = m.OptimizersConfigDiff(indexing_threshold=0)
            return kwargs
        kwargs["hnsw_config"] = m.HnswConfigDiff(
            m=int(p["m"]),
            ef_construct=int(p["ef_construct"]),
            full_scan_threshold=int(p["full_scan_threshold"]),
        )
        threshold = 0 if p["defer_indexing"] else int(p["indexing_threshold"])
        kwargs["optimizers_config"] = m.OptimizersConfigDiff(indexing_threshold=threshold)
        if p["quantization"] == "scalar":
            kwargs["quantization_config"] = m.ScalarQuantization(
                scalar=m.ScalarQuantizationConfig(
                    type=m.ScalarType.INT8,
                    quantile=None if p["quantile"] is None else float(p["quantile"]),
                    always_ram=p["always_ram"],
                )
            )
        elif p["quantization"] == "product":
            kwargs["quantization_config"] = m.ProductQuantization(
                product=m.ProductQuantizationConfig(
                    compression=m.CompressionRatio(p["pq_compression"]), always_ram=p["always_ram"]
                )
            )
        return kwargs

    def search_request_params(self) -> Any:
        """The ``models.SearchParams`` sent with every query (None in local mode: it is exact anyway)."""
        spec = self._require_collection()
        if self._local:
            return None
        m = self._m
        if spec.index_type == "flat":
            return m.SearchParams(exact=True)
        p = self._search_params
        quantization = None
        if self._build_params.get("quantization"):
            over = p.get("oversampling")
            quantization = m.QuantizationSearchParams(
                rescore=bool(p["rescore"]), oversampling=None if over is None else float(over)
            )
        return m.SearchParams(hnsw_ef=int(p["hnsw_ef"]), exact=bool(p["exact"]), quantization=quantization)

    # -- lifecycle ---------------------------------------------------------------------

    def _import_client(self) -> None:
        self._qc = import_optional("qdrant_client", "qdrant")
        self._models = import_optional("qdrant_client.models", "qdrant")

    def _disconnect(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except Exception:  # closing must not hide the error that brought us here
                pass

    def _do_create(self) -> None:
        spec = self._require_collection()
        self._index_wait = {}
        self._indexing_enabled = not (spec.index_type == "hnsw" and self._build_params["defer_indexing"])
        exists = self._call("check the collection", self._client.collection_exists, spec.name)
        if exists:
            if not self._drop_old:
                raise CollectionExistsError(
                    f"collection {spec.name!r} already exists in {self._where}; pass drop_old=True to replace it"
                )
            self._call("drop the old collection", self._client.delete_collection, spec.name)
        self._call("create the collection", self._client.create_collection, **self.collection_request())
        if self._local:
            return  # local mode has no payload indexes (it warns and ignores them): filters scan
        # Before any vector is indexed, so the HNSW build adds the filter-aware links.
        for field, schema in payload_index_schemas(spec.attributes).items():
            self._call(
                f"create the payload index of {field!r}",
                self._client.create_payload_index,
                spec.name,
                field,
                field_schema=self._m.PayloadSchemaType(schema),
                wait=True,
            )

    def _do_drop(self) -> None:
        spec = self._spec
        if spec is not None and self._client is not None:
            self._call("drop the collection", self._client.delete_collection, spec.name)

    # -- writes ----------------------------------------------------------------------------

    def _do_upsert(
        self, ids: NDArray[np.int64], vectors: NDArray[np.float32], attributes: Any = None
    ) -> None:
        spec = self._require_collection()
        batch = int(self._config.get("upload_batch_size") or DEFAULT_BATCH_SIZE)
        self._call(
            "upsert points",
            self._client.upload_collection,
            collection_name=spec.name,
            vectors=vectors,
            ids=ids.tolist(),
            payload=attribute_payloads(attributes, ids.shape[0]) if attributes else None,
            batch_size=batch,
            parallel=self._upload_parallel,
            wait=True,
        )

    def _do_delete(self, ids: NDArray[np.int64]) -> None:
        spec = self._require_collection()
        selector = self._m.PointIdsList(points=ids.tolist())
        self._call("delete points", self._client.delete, spec.name, points_selector=selector, wait=True)

    # -- build -----------------------------------------------------------------------------

    def _do_wait_ready(self, timeout_s: float) -> None:
        spec = self._require_collection()
        if self._local:
            return  # local mode applies writes synchronously and builds no index
        t0 = time.perf_counter()
        deadline = t0 + timeout_s
        if not self._indexing_enabled:
            threshold = int(self._build_params["indexing_threshold"])
            self._call(
                "enable indexing",
                self._client.update_collection,
                spec.name,
                optimizers_config=self._m.OptimizersConfigDiff(indexing_threshold=threshold),
            )
            self._indexing_enabled = True
        want_index = spec.index_type == "hnsw"
        stable, last, polls = 0, None, 0
        while True:
            info = self._call("read collection info", self._client.get_collection, spec.name)
            polls += 1
            status = enum_value(info.status)
            points = int(info.points_count or 0)
            indexed = int(info.indexed_vectors_count or 0)
            green = status == "green"
            state = (status, points, indexed)
            stable = stable + 1 if green and state == last else 0
            last = state
            covered = not want_index or points == 0 or indexed >= points
            # Green can be reported before the optimizer picks up fresh writes; a green
            # collection whose counts stop changing is done even when a tail below the
            # indexing threshold stays in a plain segment (searched exactly).
            if green and (covered or stable >= STABLE_GREEN_POLLS):
                self._index_wait = {
                    "wait_s": time.perf_counter() - t0,
                    "polls": polls,
                    "points_count": points,
                    "indexed_vectors_count": indexed,
                    "unindexed_tail": None if covered else points - indexed,
                }
                return
            now = time.perf_counter()
            if now >= deadline:
                raise NotReadyError(
                    f"Qdrant collection {spec.name!r} not ready after {timeout_s:g} s: status {status}, "
                    f"{indexed} of {points} vectors indexed"
                )
            time.sleep(min(POLL_INTERVAL_S, deadline - now))

    # -- search ----------------------------------------------------------------------------

    def _do_search(self, queries: NDArray[np.float32], k: int) -> NDArray[np.int64]:
        return self._query(queries, k, None)

    def _do_search_filtered(self, queries: NDArray[np.float32], k: int, flt: Any) -> NDArray[np.int64]:
        return self._query(queries, k, qdrant_filter(flt, self._m))

    def _query(self, queries: NDArray[np.float32], k: int, query_filter: Any) -> NDArray[np.int64]:
        spec = self._require_collection()
        params = self.search_request_params()
        out = np.full((queries.shape[0], k), -1, dtype=np.int64)
        if queries.shape[0] == 1:
            resp = self._call(
                "search",
                self._client.query_points,
                spec.name,
                query=queries[0],
                limit=k,
                query_filter=query_filter,
                search_params=params,
                with_payload=False,
                with_vectors=False,
            )
            hits = [resp.points]
        else:
            m = self._m
            requests = [
                m.QueryRequest(
                    query=q.tolist(),
                    limit=k,
                    filter=query_filter,
                    params=params,
                    with_payload=False,
                    with_vector=False,
                )
                for q in queries
            ]
            hits = [
                r.points
                for r in self._call("batch search", self._client.query_batch_points, spec.name, requests)
            ]
        for row, points in enumerate(hits):
            if points:
                out[row, : len(points)] = [p.id for p in points]
        return out

    # -- reporting -------------------------------------------------------------------------

    def _do_describe(self) -> dict[str, Any]:
        spec = self._require_collection()
        out: dict[str, Any] = {
            "client_version": client_version(),
            "metric_mapping": _METRIC_MAPPING[spec.metric],
            "qdrant_distance": DISTANCE_NAMES[spec.metric],
            "id_mapping": "vecbench int64 id >= 0 -> Qdrant unsigned 64-bit point id (identity)",
        }
        params = self.search_request_params()
        out["search_request_params"] = params.model_dump(exclude_none=True) if params is not None else None
        try:
            info = self._client.get_collection(spec.name)
        except Exception as exc:  # describe is provenance: report what failed, don't raise
            out["collection_info_error"] = f"{type(exc).__name__}: {exc}"
            return out
        cfg = info.config
        out.update(
            status=enum_value(info.status),
            optimizer_status=str(enum_value(info.optimizer_status)),
            points_count=info.points_count,
            indexed_vectors_count=info.indexed_vectors_count,
            segments_count=info.segments_count,
            hnsw_config=cfg.hnsw_config.model_dump(),
            optimizer_config=cfg.optimizer_config.model_dump(),
            quantization=cfg.quantization_config.model_dump()
            if cfg.quantization_config is not None
            else None,
        )
        if spec.attributes:
            out["filtering"] = (
                "native: declared attributes as payload, filters as Filter(must=[FieldCondition "
                "MatchValue / MatchAny / Range])"
                + ("; no payload index (local mode has none)" if self._local else "; payload indexes")
            )
            out["payload_schema"] = {
                k: str(enum_value(v.data_type)) for k, v in (info.payload_schema or {}).items()
            }
        if self._index_wait:
            out["wait_ready"] = dict(self._index_wait)
        return out

    # -- small helpers -----------------------------------------------------------------------

    @property
    def _m(self) -> Any:
        if self._models is None:
            raise StoreError(
                f"{self.info.name} store is not connected; use it as a context manager (with ...)"
            )
        return self._models

    @property
    def _upload_parallel(self) -> int:
        return 1

    @property
    def _where(self) -> str:
        return "Qdrant"

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)``; a client or transport error becomes StoreError naming the server."""
        try:
            return fn(*args, **kwargs)
        except (StoreError, ConfigError):
            raise
        except Exception as exc:
            raise StoreError(f"Qdrant ({self._where}) failed to {what}: {type(exc).__name__}: {exc}") from exc


def enum_value(x: Any) -> Any:
    return getattr(x, "value", x)
