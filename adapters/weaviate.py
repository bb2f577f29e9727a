"""Weaviate server through weaviate-client v4 (REST for the schema, gRPC for data and queries).

``weaviate`` is imported in ``__enter__``, never at module import. A collection is a
Weaviate class with one self-provided vector (``default``), no vectorizer, and a property
per declared attribute.

- Names: Weaviate class names start with an upper-case letter; ``bench_1`` becomes
  ``Bench_1`` (Weaviate capitalizes names itself), ``_x`` becomes ``V_x``.
- Ids: a vecbench id (int64 >= 0) is the 128-bit value of the object's UUID
  (``00000000-0000-0000-0000-00000000002a`` is 42), so no id table is kept.
- Metrics: euclidean -> ``l2-squared`` (the same ranking), cosine -> ``cosine``, ip -> ``dot``.
- Index types: ``hnsw`` (max_connections, ef_construction; ``compression`` None, ``pq``,
  ``bq`` or ``sq``; search ``ef``, -1 for Weaviate's dynamic ef), ``flat`` (exact), ``flat_bq``
  and ``dynamic`` (flat until ``threshold`` objects, then HNSW). ``ef`` is a setting of the
  collection, not of a query: ``set_search_params`` updates the collection's config.
- Indexing: with ``ASYNC_INDEXING`` (as ``vecbench services`` starts Weaviate) an import
  returns once the objects are stored and the vectors are indexed from a queue; ``wait_ready``
  polls the shards until the queue is empty and the index is READY, and, for PQ and SQ, until
  the shards report compressed vectors once more than ``training_limit`` objects are indexed
  (below it Weaviate keeps full vectors; ``describe()`` says which). Without async indexing
  the server indexes inside the import, PQ/SQ never train, and ``dynamic`` is refused.
- Batch search: none (Weaviate has no multi-query call), so no ``search_batch``.
- Filtered search (``Filterable``, ``_weaviate_filters``): attributes are properties (``int``
  -> INT, filterable and range-indexed; ``keyword`` -> TEXT with ``field`` tokenization, so a
  label matches exactly) sent with the objects; a filter becomes ``Filter.by_property(...)``
  conditions (``equal``, ``contains_any``, ``greater_or_equal`` / ``less_or_equal``) ANDed,
  passed as ``filters=`` to ``near_vector``. Weaviate pre-filters: the property indexes give
  an allow-list; one of fewer than ``flat_search_cutoff`` objects [40000] is answered by a
  flat scan of them (exact); a larger one goes through HNSW with ``filter_strategy``:
  ``sweeping`` walks the graph as usual and keeps passing nodes, ``acorn`` (1.27+, the default
  since 1.34) walks passing nodes only, reached through up to two hops of others, from a
  passing seed; it falls back to sweeping when over 40% of the objects (the server's
  ``HNSW_ACORN_FILTER_RATIO``) or of the entry point's neighbours pass. Weaviate changes both
  settings at once, so they are search parameters (like ``ef``); ``describe()`` gives them.
- Footprint: the collection's LSM segments and memtables from Weaviate's Prometheus metrics.

    with WeaviateStore({"url": "http://127.0.0.1:8080"}) as store:
        store.create(CollectionSpec("demo", dim=128, metric="cosine", index_type="hnsw"))
        store.upsert(ids, vectors)
        store.wait_ready(timeout_s=600)
        store.set_search_params({"ef": 128})
        store.search(query, k=10)
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from vecbench.engines import ENGINES
from vecbench.errors import CapabilityError, CollectionExistsError, ConfigError, NotReadyError, StoreError
from vecbench.spec import CollectionSpec
from vecbench.store import FootprintStats, StoreInfo
from vecbench.util.deps import import_optional
from vecbench.util.validation import is_number

from . import _weaviate_filters as wf
from . import _weaviate_hybrid as wh
from . import _weaviate_support as ws
from ._base import BaseStore, check_int_param
from ._capabilities import DeletableMixin, FilterableMixin, FootprintMixin, HybridSearchMixin, ShareableMixin
from ._weaviate_footprint import footprint_from_metrics, metrics_url

__all__ = ["WeaviateStore", "START_HINT"]

ENGINE = ENGINES["weaviate"]
START_HINT = f"start one with {ENGINE.start_hint} (it prints {ENGINE.env_var}=...)"
VECTOR = "default"
POLL_S = 0.2
DELETE_CHUNK = 5000  # ids per delete_many (the server caps matches at QUERY_MAXIMUM_RESULTS, 10000)
# The collection settings vecbench sets as search parameters (see _apply_search_params).
SETTINGS = ("ef", "filter_strategy", "flat_search_cutoff")


def client_version() -> str | None:
    try:
        return version("weaviate-client")
    except PackageNotFoundError:
        return None


class WeaviateStore(
    DeletableMixin, FilterableMixin, FootprintMixin, ShareableMixin, HybridSearchMixin, BaseStore
):
    """A Weaviate server. Config: ``url`` (default ``$VECBENCH_WEAVIATE_URL``; ``?grpc_port=N``
    allowed), ``grpc_port`` [50051], ``api_key``, ``timeout_s`` [120], ``batch_size`` [1000],
    ``metrics_url``. HybridSearch: Weaviate's ``hybrid`` query (``_weaviate_hybrid``)."""

    hybrid_fusions: ClassVar[Mapping[str, str]] = wh.METHODS
    hybrid_rrf_k: ClassVar[int | None] = wh.RRF_K

    info: ClassVar[StoreInfo] = StoreInfo(
        max_k=10_000,  # QUERY_MAXIMUM_RESULTS, the server's default limit on results
        name="weaviate",
        engine="weaviate",
        extra="weaviate",
        client_modules=("weaviate",),
        index_types=ws.INDEX_TYPES,
        embedded=False,
        server=ENGINE,
        description=(
            "Weaviate server via weaviate-client v4 (gRPC): HNSW (PQ, BQ, SQ), flat, flat+BQ, dynamic; "
            "filtered search on properties (ACORN or sweeping)."
        ),
        config_keys={
            "url": f"server HTTP URL, e.g. {ENGINE.compose_url} (default ${ENGINE.env_var}); ?grpc_port=N allowed",
            "grpc_port": f"the server's gRPC port (default: the URL's grpc_port, else {ws.DEFAULT_GRPC_PORT})",
            "api_key": "API key (secret: never recorded)",
            "timeout_s": "timeout of each call in seconds (default 120)",
            "batch_size": f"objects per import request (default {ws.DEFAULT_BATCH_SIZE})",
            "metrics_url": "the server's Prometheus page for footprint() (default: the port vecbench services "
            "recorded, else http://<url host>:2112/metrics)",
        },
        unsupported={
            "BatchSearch": "Weaviate answers one near-vector query per request (no multi-query call)",
        },
    )

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self._wv: Any = None
        self._client: Any = None
        self._coll: Any = None
        self._server_version: str | None = None
        self._in_effect: dict[str, Any] = {}  # SETTINGS as the server holds them
        self._props: dict[str, str] = {}  # attribute -> property name
        self._wait: dict[str, Any] = {}
        self._address: dict[str, Any]  # set by _check_config

    # -- config and parameters -------------------------------------------------------

    def _check_config(self, config: dict[str, Any]) -> dict[str, Any]:
        if not config.get("url") and os.environ.get(ENGINE.env_var):
            config["url"] = os.environ[ENGINE.env_var]
        url = config.get("url")
        if not isinstance(url, str) or not url.strip():
            raise ConfigError(f"weaviate store needs config 'url' or ${ENGINE.env_var}; {START_HINT}")
        self._address = ws.parse_url(url, config.get("grpc_port"))
        if config.get("api_key") is not None and not isinstance(config["api_key"], str):
            raise ConfigError("weaviate api_key must be a string")
        t = config.get("timeout_s")
        if t is not None and (not is_number(t) or t <= 0):
            raise ConfigError(f"weaviate timeout_s must be a positive number, got {t!r}")
        if config.get("batch_size") is not None:
            check_int_param("batch_size", config["batch_size"], minimum=1)
        return config

    def _check_build_params(self, spec: CollectionSpec, params: dict[str, Any]) -> dict[str, Any]:
        if spec.dim > ws.MAX_DIM:
            raise ConfigError(
                f"weaviate refuses vectors longer than {ws.MAX_DIM} dimensions, got dim={spec.dim}"
            )
        params = ws.check_build_params(spec.index_type, params)
        if params.get("compression") == "pq":
            ws.check_pq_segments(spec.dim, int(params["pq_segments"]))
        wf.property_names(spec.attributes)  # names Weaviate cannot take are refused before any work
        return params

    def _check_search_params(self, params: dict[str, Any]) -> dict[str, Any]:
        return ws.check_search_params(params, self._version or None)

    @property
    def _version(self) -> tuple[int, ...]:
        return ws.version_tuple(self._server_version)

    @property
    def _where(self) -> str:
        return str(self._config["url"])

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (StoreError, ConfigError):
            raise
        except Exception as exc:
            raise StoreError(
                f"Weaviate ({self._where}) failed to {what}: {type(exc).__name__}: {exc}"
            ) from exc

    # -- lifecycle -------------------------------------------------------------------

    def _connect(self) -> None:
        self._wv = import_optional("weaviate", "weaviate")
        addr = self._address
        from weaviate.classes.init import AdditionalConfig, Auth, Timeout

        t = float(self._config.get("timeout_s") or 120)
        key = self._config.get("api_key")
        try:
            client = self._wv.connect_to_custom(
                http_host=addr["host"],
                http_port=addr["port"],
                http_secure=addr["secure"],
                grpc_host=addr["host"],
                grpc_port=addr["grpc_port"],
                grpc_secure=addr["secure"],
                auth_credentials=Auth.api_key(key) if key else None,
                additional_config=AdditionalConfig(timeout=Timeout(init=min(t, 30), query=t, insert=t)),
            )
        except Exception as exc:
            raise StoreError(
                f"cannot reach Weaviate at {self._where} (gRPC port {addr['grpc_port']}): "
                f"{type(exc).__name__}: {exc}; {START_HINT}"
            ) from exc
        self._client = client
        try:
            self._server_version = str(client.get_meta().get("version"))
        except Exception as exc:
            self._disconnect()
            raise StoreError(f"Weaviate ({self._where}) did not answer /v1/meta: {exc}") from exc

    def _disconnect(self) -> None:
        client, self._client, self._coll = self._client, None, None
        if client is not None:
            try:
                client.close()
            except Exception:  # closing must not hide the error that brought us here
                pass

    def _reset_collection(self) -> None:
        super()._reset_collection()
        self._coll, self._in_effect, self._props, self._wait = None, {}, {}, {}

    @property
    def _class(self) -> str:
        return ws.class_name(self._require_collection().name)

    def _do_create(self) -> None:
        spec = self._require_collection()
        name = self._class
        if self._call("look up the collection", self._client.collections.exists, name):
            if not self._drop_old:
                raise CollectionExistsError(
                    f"collection {name!r} already exists in Weaviate ({self._where}); pass drop_old=True to replace it"
                )
            self._call("drop the old collection", self._client.collections.delete, name)
        ef = int(self._search_params.get("ef", -1))
        index = ws.vector_index_config(
            spec.index_type, spec.metric, self._build_params, ef, self._search_params
        )
        from weaviate.classes import config as wvc

        vectors = wvc.Configure.Vectors.self_provided(
            name=VECTOR, vector_index_config=ws.to_configure(wvc, index)
        )
        self._props = wf.property_names(spec.attributes)
        props = wf.to_client_properties(wvc, wf.properties(spec.attributes, self._props, self._version))
        if spec.full_text is not None:
            props.append(wh.text_property(wvc, wh.text_property_name(spec.attributes, spec.full_text)))
        self._coll = self._call(
            "create the collection",
            self._client.collections.create,
            name,
            vector_config=vectors,
            properties=props,
        )
        self._in_effect = self._server_settings()

    def _do_drop(self) -> None:
        if self._client is not None and self._spec is not None:
            self._call("drop the collection", self._client.collections.delete, self._class)

    # -- writes ----------------------------------------------------------------------

    def _do_upsert(
        self, ids: NDArray[np.int64], vectors: NDArray[np.float32], attributes: Any = None
    ) -> None:
        from weaviate.classes.data import DataObject

        spec = self._require_collection()
        attributes = dict(attributes or {})
        text = attributes.pop(spec.full_text, None) if spec.full_text is not None else None
        if attributes:
            wf.check_values(attributes, spec.attributes)
        columns = {self._props[a]: col.tolist() for a, col in attributes.items()}
        if text is not None:
            columns[wh.text_property_name(spec.attributes, str(spec.full_text))] = text.tolist()
        batch = int(self._config.get("batch_size") or ws.DEFAULT_BATCH_SIZE)
        uuids = ws.ids_to_uuids(ids.tolist())
        for start in range(0, len(uuids), batch):
            rows = vectors[start : start + batch].tolist()
            objs = [
                DataObject(properties={p: c[i] for p, c in columns.items()}, uuid=u, vector=v)
                for i, u, v in zip(
                    range(start, start + len(rows)), uuids[start : start + batch], rows, strict=True
                )
            ]
            result = self._call("import objects", self._coll.data.insert_many, objs)
            if result.has_errors:
                first = next(iter(result.errors.values()))
                raise StoreError(
                    f"Weaviate ({self._where}) refused {len(result.errors)} of {len(objs)} objects: {first.message}"
                )
        self._wait = {}

    def _do_delete(self, ids: NDArray[np.int64]) -> None:
        from weaviate.classes.query import Filter

        uuids = ws.ids_to_uuids(ids.tolist())
        for start in range(0, len(uuids), DELETE_CHUNK):
            where = Filter.by_id().contains_any(uuids[start : start + DELETE_CHUNK])
            self._call("delete objects", self._coll.data.delete_many, where=where)

    # -- build -----------------------------------------------------------------------

    def _shards(self) -> list[Any]:
        nodes = self._call("read the shard status", self._client.cluster.nodes, self._class, output="verbose")
        return [s for n in nodes for s in (n.shards or []) if s.collection == self._class]

    def count(self) -> int:
        got = self._call("count objects", self._coll.aggregate.over_all, total_count=True)
        return int(got.total_count or 0)

    def _needs_compression(self, n: int) -> bool:
        p = self._build_params
        return p.get("compression") in ("pq", "sq") and n > int(p["training_limit"])

    def _do_wait_ready(self, timeout_s: float) -> None:
        t0 = time.perf_counter()
        deadline = t0 + timeout_s
        n = self.count()
        want_compressed = self._needs_compression(n)
        polls = 0
        while True:
            shards = self._shards()
            polls += 1
            queued = sum(int(s.vector_queue_length or 0) for s in shards)
            statuses = sorted({str(s.vector_indexing_status) for s in shards})
            compressed = bool(shards) and all(s.compressed for s in shards)
            if queued == 0 and statuses == ["READY"] and (compressed or not want_compressed):
                self._wait = {"wait_s": time.perf_counter() - t0, "polls": polls, "objects": n}
                self._wait.update(compressed=compressed, vector_queue_length=queued)
                return
            if time.perf_counter() >= deadline:
                raise NotReadyError(
                    f"Weaviate collection {self._class!r} not ready after {timeout_s:g} s: status {statuses}, "
                    f"{queued} vectors queued, compressed={compressed} (wanted: {want_compressed})"
                )
            time.sleep(min(POLL_S, max(0.0, deadline - time.perf_counter())))

    # -- search ----------------------------------------------------------------------

    def _apply_search_params(self) -> None:
        """Write the changed HNSW settings (ef, filter_strategy, flat_search_cutoff) to the
        collection; filter_strategy None leaves the server's own."""
        if self._coll is None:
            return
        want = {s: self._search_params[s] for s in SETTINGS if self._search_params.get(s) is not None}
        changed = {s: v for s, v in want.items() if v != self._in_effect.get(s)}
        if not changed:
            return
        if self._attached:
            self._search_params.update({s: self._in_effect.get(s) for s in changed})
            names = ", ".join(f"{s}={v!r}" for s, v in changed.items())
            raise CapabilityError(
                f"weaviate: {', '.join(changed)} are settings of the collection; an attached store searches "
                f"with the owner's ({self._in_effect}): set {names} on the owner before share()"
            )
        from weaviate.classes.config import Reconfigure, VectorFilterStrategy

        kw = dict(changed)
        if "filter_strategy" in kw:
            kw["filter_strategy"] = VectorFilterStrategy(kw["filter_strategy"])
        hnsw = Reconfigure.VectorIndex.hnsw(**kw)
        index = hnsw if self._kind == "hnsw" else Reconfigure.VectorIndex.dynamic(hnsw=hnsw)
        update = Reconfigure.Vectors.update(name=VECTOR, vector_index_config=index)
        self._call(f"set {', '.join(changed)}", self._coll.config.update, vector_config=update)
        self._in_effect.update(changed)

    def _near(self, queries: NDArray[np.float32], k: int, where: Any = None) -> NDArray[np.int64]:
        out = np.full((queries.shape[0], k), -1, dtype=np.int64)
        near = self._coll.query.near_vector
        for row, q in enumerate(queries):
            res = self._call(
                "search", near, near_vector=q.tolist(), limit=k, filters=where, return_properties=[]
            )
            ws.uuids_to_ids((o.uuid for o in res.objects), out[row])
        return out

    def _do_search(self, queries: NDArray[np.float32], k: int) -> NDArray[np.int64]:
        return self._near(queries, k)

    def _do_search_filtered(self, queries: NDArray[np.float32], k: int, flt: Any) -> NDArray[np.int64]:
        conds = wf.conditions(flt, self._props)
        if conds is None:  # no stored value can pass: nothing to ask
            return np.full((queries.shape[0], k), -1, dtype=np.int64)
        from weaviate.classes.query import Filter

        return self._near(queries, k, wf.client_filter(Filter, conds))

    def _do_search_hybrid(
        self, query: NDArray[np.float32], text: str, k: int, fusion: str, alpha: float | None, rrf_k: int
    ) -> NDArray[np.int64]:
        spec = self._require_collection()
        return wh.search_hybrid(self._coll, self._call, VECTOR, spec, query, text, k, fusion, alpha)

    # -- sharing ---------------------------------------------------------------------

    def _do_share(self) -> dict[str, Any]:
        return {"class": self._class, "in_effect": dict(self._in_effect)}

    def _do_attach(self, state: Mapping[str, Any]) -> None:
        name = self._class
        if not self._call("look up the collection", self._client.collections.exists, name):
            raise StoreError(f"Weaviate ({self._where}) has no collection {name!r} to attach to")
        self._coll = self._client.collections.get(name)
        self._props = wf.property_names(self._require_collection().attributes)
        self._in_effect = self._server_settings()

    def _do_detach(self) -> None:
        self._coll = None

    def _server_settings(self) -> dict[str, Any]:
        """ef, filter_strategy and flat_search_cutoff as the collection holds them (HNSW part)."""
        if self._kind not in ("hnsw", "dynamic"):
            return {}
        cfg = self._call("read the collection config", self._coll.config.get)
        vic = cfg.vector_config[VECTOR].vector_index_config
        hnsw = getattr(vic, "hnsw", None) or vic
        strategy = getattr(hnsw, "filter_strategy", None)
        return {
            "ef": hnsw.ef,
            "filter_strategy": getattr(strategy, "value", strategy),
            "flat_search_cutoff": hnsw.flat_search_cutoff,
        }

    # -- reporting -------------------------------------------------------------------

    def _do_footprint(self) -> FootprintStats:
        url = metrics_url(self.info.name, self._config, self._address["host"])
        return footprint_from_metrics(url, self._class, float(self._config.get("timeout_s") or 30))

    def _do_describe(self) -> dict[str, Any]:
        spec = self._require_collection()
        out: dict[str, Any] = {
            "engine_version": self._server_version,
            "server_version": self._server_version,
            "client_version": client_version(),
            "weaviate_class": self._class,
            "metric_mapping": ws.METRIC_MAPPING[spec.metric],
            "id_mapping": "vecbench int64 id >= 0 -> the object UUID with that 128-bit value",
            "ef_in_effect": self._in_effect.get("ef"),
        }
        if self._in_effect:
            out["filter_strategy_in_effect"] = self._in_effect.get("filter_strategy")
            out["flat_search_cutoff_in_effect"] = self._in_effect.get("flat_search_cutoff")
        if self._props:
            out["attribute_properties"] = dict(self._props)
            out["filtered_search"] = wf.search_path(self._kind)
        try:
            cfg = self._coll.config.get()
            out["vector_index_config"] = cfg.vector_config[VECTOR].vector_index_config.to_dict()
            out["vector_index_type"] = cfg.vector_config[VECTOR].vector_index_config.vector_index_type()
            shards = self._shards()
            out["shards"] = [
                {"name": s.name, "objects": s.object_count, "status": str(s.vector_indexing_status)}
                | {"compressed": bool(s.compressed), "vector_queue_length": s.vector_queue_length}
                for s in shards
            ]
            out["compressed"] = bool(shards) and all(s.compressed for s in shards)
        except Exception as exc:  # describe is provenance: say what failed, don't raise
            out["collection_info_error"] = f"{type(exc).__name__}: {exc}"
        if self._wait:
            out["wait_ready"] = dict(self._wait)
        return out
