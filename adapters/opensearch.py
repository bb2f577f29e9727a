"""OpenSearch k-NN as a server store: ``knn_vector`` HNSW (lucene engine, or faiss) and exact.

``opensearchpy`` (opensearch-py) is imported in ``__enter__``, never at module import.

Layout, as for ``elasticsearch``: one index per collection, named after it in lower case (1
primary shard, 0 replicas, ``refresh_interval: -1``, ``index.knn: true`` for hnsw), one
document per vector with ``_id`` = ``str(id)`` and a ``knn_vector`` field ``embedding``
kept out of ``_source``. Indexing a present ``_id`` replaces the document.

Metrics: euclidean -> ``l2``; cosine -> ``cosinesimil`` (zero vectors are refused first,
as Lucene refuses them); ip -> ``innerproduct``.

Index types: ``hnsw`` (``method`` hnsw; build m [16], ef_construction [100], engine
[``lucene``]; search ef_search [100], sent as ``method_parameters.ef_search`` and raised to
k where lower) and ``flat`` (no graph, ``index.knn: false``; every search scores all
documents with the k-NN plugin's ``knn_score`` script: exact). Engine ``faiss`` needs the
plugin's native library: a node started by ``vecbench services up opensearch`` has none
(the Maven Central plugin archive carries no native code) and says so in a node attribute,
and the adapter then refuses faiss with CapabilityError before creating anything; describe()
records the engine that ran.

Filtered search (``Filterable``): each declared attribute is a field (keyword, or long for
int); a filter is a query DSL filter (``_search_filters``) inside the ``knn`` query (hnsw:
the plugin filters while it searches, exactly when few pass) or under the ``knn_score``
script (flat).

Build time lands as in ``elasticsearch``: Lucene HNSW graphs are written per segment during
upsert; ``wait_ready`` refreshes, force-merges to one segment (``force_merge``, default
True) and checks the document count.

    with OpenSearchStore({"url": "http://127.0.0.1:19210"}) as store:
        store.create(CollectionSpec("demo", dim=128, metric="cosine", index_type="hnsw"))
        store.upsert(ids, vectors)
        store.wait_ready()
        store.set_search_params({"ef_search": 200})
        store.search(query, k=10)
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from vecbench.engines import ENGINES
from vecbench.errors import CollectionExistsError, ConfigError, NotReadyError, StoreError
from vecbench.metrics import Metric
from vecbench.spec import CollectionSpec
from vecbench.store import FootprintStats, StoreInfo
from vecbench.util.deps import import_optional

from ._base import BaseStore
from ._capabilities import (
    BatchSearchMixin,
    DeletableMixin,
    FilterableMixin,
    FootprintMixin,
    ShareableMixin,
)
from ._client_errors import ClientErrors
from ._elasticsearch_bodies import (
    DEFAULT_REQUEST_TIMEOUT_S,
    VECTOR_FIELD,
    bulk_actions,
    check_config,
    delete_actions,
    dig,
    ids_matrix,
    public_url,
    refuse_zero_vectors,
)
from ._opensearch_bodies import (
    INDEX_TYPES,
    METRIC_MAPPING,
    NATIVE_ENGINES,
    SPACE_TYPE,
    check_build_params,
    check_search_params,
    client_kwargs,
    effective_ef_search,
    exact_query_body,
    footprint_from_stats,
    index_details,
    knn_query_body,
    mapping_body,
    refuse_native_engine,
    versions,
)
from ._search_filters import filter_query

__all__ = ["OpenSearchStore"]

ENGINE = ENGINES["opensearch"]
ENV_VAR = ENGINE.env_var
START_HINT = ENGINE.start_hint
DEFAULT_BULK_CHUNK = 500
_POLL_START_S, _POLL_MAX_S = 0.05, 1.0


class OpenSearchStore(
    BatchSearchMixin, DeletableMixin, FilterableMixin, FootprintMixin, ShareableMixin, BaseStore
):
    """OpenSearch over HTTP (opensearch-py) with the k-NN plugin.

    Config: ``url`` (default ``$VECBENCH_OPENSEARCH_URL``), ``basic_auth``
    (``"user:password"`` or ``[user, password]``; secret), ``verify_certs`` (default True),
    ``request_timeout_s`` (default 60), ``bulk_chunk`` (documents per bulk request, default
    500), ``force_merge`` (default True: merge to one segment in wait_ready).

    Implements BatchSearch (``_msearch``), Deletable, Filterable, Footprint and Shareable.
    """

    info: ClassVar[StoreInfo] = StoreInfo(
        max_k=10_000,  # the k-NN query's k and index.max_result_window are capped at 10000
        name="opensearch",
        engine="opensearch",
        extra="opensearch",
        client_modules=("opensearchpy",),
        index_types=INDEX_TYPES,
        embedded=False,
        server=ENGINE,
        description="OpenSearch k-NN knn_vector (HNSW on the lucene or faiss engine; exact knn_score).",
        config_keys={
            "url": f"http(s):// URL of the cluster (default ${ENV_VAR})",
            "basic_auth": "'user:password' or [user, password] (secret)",
            "verify_certs": "verify TLS certificates (default True)",
            "request_timeout_s": f"seconds per request (default {DEFAULT_REQUEST_TIMEOUT_S:g})",
            "bulk_chunk": f"documents per bulk request (default {DEFAULT_BULK_CHUNK})",
            "force_merge": "force-merge to one segment in wait_ready (default True)",
        },
    )

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        super().__init__(config)
        self._os: Any = None
        self._exceptions: Any = None
        self._helpers: Any = None
        self._versions: dict[str, Any] = {}
        self._node_attributes: dict[str, Any] = {}
        self._clear_collection_state()

    def _clear_collection_state(self) -> None:
        self._index_name = ""
        self._count = 0
        self._owns_index = False
        self._raised_searches = 0
        self._last_ef_search: int | None = None
        self._merge: dict[str, Any] = {}
        self._filtered_searches = 0

    # -- config and params -----------------------------------------------------------------

    def _check_config(self, config: dict[str, Any]) -> dict[str, Any]:
        return check_config(config, product="opensearch")

    def _check_build_params(self, spec: CollectionSpec, params: dict[str, Any]) -> dict[str, Any]:
        return check_build_params(spec, params)

    def _check_search_params(self, params: dict[str, Any]) -> dict[str, Any]:
        return check_search_params(params)

    @property
    def url(self) -> str:
        url = ENGINE.address(self._config)
        if not url:
            raise ConfigError(
                f"opensearch needs a server: set config 'url' or {ENV_VAR} (start one with {START_HINT})"
            )
        return str(url)

    # -- lifecycle ---------------------------------------------------------------------------

    def _connect(self) -> None:
        osp = import_optional("opensearchpy", "opensearch")
        exceptions = import_optional("opensearchpy.exceptions", "opensearch")
        helpers = import_optional("opensearchpy.helpers", "opensearch")
        url, where = self.url, public_url(self.url)
        try:
            client = osp.OpenSearch(hosts=[url], **client_kwargs(self._config))
        except (ValueError, exceptions.ImproperlyConfigured) as exc:
            raise ConfigError(f"opensearch: bad url {where!r}: {exc}") from exc
        try:
            server = client.info()
            nodes = client.nodes.info(node_id="_local", metric="_none")
        except exceptions.ConnectionError as exc:  # refused, timeout, TLS
            client.close()
            raise StoreError(
                f"opensearch at {where} is unreachable ({type(exc).__name__}: {exc}); start one with "
                f"{START_HINT} and set {ENV_VAR}"
            ) from exc
        except exceptions.TransportError as exc:
            client.close()
            hint = "; check basic_auth" if exc.status_code in (401, 403) else ""
            raise StoreError(f"opensearch at {where} refused the connection: {exc}{hint}") from exc
        if dig(server, "version", "distribution") != "opensearch":
            client.close()
            raise StoreError(f"{where} is not an OpenSearch server: {dig(server, 'version')}")
        node: Any = next(iter((dig(nodes, "nodes") or {}).values()), {})
        self._node_attributes = dict(dig(node, "attributes") or {})
        self._versions = versions(server, osp.__versionstr__)
        self._os, self._exceptions, self._helpers = client, exceptions, helpers

    def _disconnect(self) -> None:
        if self._os is not None:
            self._os.close()
        self._os = self._exceptions = self._helpers = None

    def _do_create(self) -> None:
        spec = self._require_collection()
        self._clear_collection_state()
        if spec.index_type == "hnsw":
            refuse_native_engine(self._build_params["engine"], self._node_attributes)
        name = spec.name.lower()  # index names are lower case
        with self._errors("create index"):
            if self._client.indices.exists(index=name):
                if not self._drop_old:
                    raise CollectionExistsError(
                        f"opensearch index {name!r} already exists on {public_url(self.url)}; "
                        "pass drop_old=True to replace it"
                    )
                self._client.indices.delete(index=name)
            self._client.indices.create(index=name, body=mapping_body(spec, self._build_params))
        self._index_name, self._owns_index = name, True

    def _do_drop(self) -> None:
        if self._owns_index and self._os is not None:
            with self._errors("delete index"):
                self._os.indices.delete(index=self._index_name, ignore_unavailable=True)
        self._clear_collection_state()

    # -- sharing -------------------------------------------------------------------------------

    def _do_share(self) -> dict[str, Any]:
        return {"index_name": self._index_name, "count": self._count}  # ef_search goes with each body

    def _do_attach(self, state: Mapping[str, Any]) -> None:
        name = state.get("index_name") or self._require_collection().name.lower()
        if not isinstance(name, str):
            raise ConfigError(f"opensearch: the handle's index name {name!r} is not a string")
        with self._errors("check index"):
            exists = self._client.indices.exists(index=name)
        if not exists:
            raise StoreError(f"opensearch index {name!r} does not exist on {public_url(self.url)}")
        self._clear_collection_state()
        self._index_name, self._count = name, int(state.get("count") or 0)  # _owns_index stays False

    def _do_detach(self) -> None:
        self._clear_collection_state()

    # -- writes ------------------------------------------------------------------------------

    def _do_upsert(
        self, ids: NDArray[np.int64], vectors: NDArray[np.float32], attributes: Any = None
    ) -> None:
        if self._require_collection().metric is Metric.COSINE:
            refuse_zero_vectors(ids, vectors, product="OpenSearch")
        created = 0
        try:
            with self._errors("bulk index"):
                for ok, item in self._helpers.streaming_bulk(
                    self._client,
                    bulk_actions(self._index_name, ids, vectors, attributes),
                    chunk_size=int(self._config.get("bulk_chunk", DEFAULT_BULK_CHUNK)),
                    raise_on_error=True,
                ):
                    if ok and item.get("index", {}).get("result") == "created":
                        created += 1
        finally:
            self._count += created

    def _do_delete(self, ids: NDArray[np.int64]) -> None:
        with self._errors("bulk delete"):
            for ok, item in self._helpers.streaming_bulk(
                self._client,
                delete_actions(self._index_name, ids),
                chunk_size=int(self._config.get("bulk_chunk", DEFAULT_BULK_CHUNK)),
                raise_on_error=False,
            ):
                result = item.get("delete", {})
                if ok and result.get("result") == "deleted":
                    self._count -= 1
                elif not ok and result.get("status") != 404:
                    raise StoreError(f"opensearch: delete of id {result.get('_id')} failed: {result}")
            # refresh_interval is -1: without a refresh a deleted id would still be found.
            self._client.indices.refresh(index=self._index_name)

    def _do_wait_ready(self, timeout_s: float) -> None:
        if self._attached:
            return  # refresh and force merge are the owner's, before share()
        deadline = time.monotonic() + timeout_s
        name = self._index_name

        def left() -> float:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise NotReadyError(f"opensearch index {name!r} not ready after {timeout_s:g}s")
            return remaining

        try:
            with self._errors("refresh / force merge"):
                self._client.indices.refresh(index=name, request_timeout=left())
                if self._config.get("force_merge", True):
                    t0 = time.perf_counter()
                    self._client.indices.forcemerge(index=name, max_num_segments=1, request_timeout=left())
                    self._client.indices.refresh(index=name, request_timeout=left())
                    self._merge = {"force_merge_s": time.perf_counter() - t0, "max_num_segments": 1}
                self._wait_for_count(name, timeout_s, left)
        except StoreError as exc:
            if isinstance(exc.__cause__, self._exceptions.ConnectionTimeout):
                raise NotReadyError(
                    f"opensearch index {name!r} not ready after {timeout_s:g}s: {exc}"
                ) from exc
            raise

    def _wait_for_count(self, name: str, timeout_s: float, left: Any) -> None:
        pause = _POLL_START_S
        while True:
            count = int(self._client.count(index=name, request_timeout=left())["count"])
            if count == self._count:
                return
            remaining = left()
            if remaining <= pause:
                raise NotReadyError(
                    f"opensearch index {name!r} not ready after {timeout_s:g}s: "
                    f"{count} documents searchable, {self._count} written"
                )
            time.sleep(pause)
            pause = min(pause * 2, _POLL_MAX_S)

    # -- search ------------------------------------------------------------------------------

    def _query_bodies(
        self, queries: NDArray[np.float32], k: int, flt: dict[str, Any] | None
    ) -> list[dict[str, Any]]:
        spec = self._require_collection()
        if spec.index_type == "flat":
            return [exact_query_body(q, k, spec.metric, flt) for q in queries]
        ef_search, raised = effective_ef_search(k, self._search_params.get("ef_search"))
        if raised:
            self._raised_searches += queries.shape[0]
        self._last_ef_search = ef_search
        return [knn_query_body(q, k, ef_search, flt) for q in queries]

    def _do_search(self, queries: NDArray[np.float32], k: int) -> NDArray[np.int64]:
        return self._knn(queries, k, None)

    def _do_search_filtered(self, queries: NDArray[np.float32], k: int, flt: Any) -> NDArray[np.int64]:
        query = filter_query(flt)
        if query is None:  # no stored value can pass: nothing to ask
            return np.full((queries.shape[0], k), -1, dtype=np.int64)
        self._filtered_searches += queries.shape[0]
        return self._knn(queries, k, query)

    def _knn(self, queries: NDArray[np.float32], k: int, flt: dict[str, Any] | None) -> NDArray[np.int64]:
        nq = queries.shape[0]
        bodies = self._query_bodies(queries, k, flt)
        name = self._index_name
        with self._errors("search"):
            if nq == 1:
                return ids_matrix(
                    [self._client.search(index=name, body=bodies[0], filter_path=["hits.hits._id"])], k
                )
            # responses.status keeps one entry per search even where no hit was found.
            reply = self._client.msearch(
                index=name,
                body=[line for body in bodies for line in ({}, body)],
                filter_path=["responses.hits.hits._id", "responses.error", "responses.status"],
            )
        responses = list(reply.get("responses") or [])
        if len(responses) != nq:
            raise StoreError(f"opensearch: _msearch answered {len(responses)} of {nq} searches")
        return ids_matrix(responses, k, "opensearch")

    # -- reporting ---------------------------------------------------------------------------

    def _engine(self) -> str | None:
        spec = self._require_collection()
        return str(self._build_params.get("engine")) if spec.index_type == "hnsw" else None

    def _do_footprint(self) -> FootprintStats:
        engine = self._engine()
        with self._errors("index stats"):
            stats = self._client.indices.stats(
                index=self._index_name, metric="store,segments", include_segment_file_sizes=True
            )
            knn = None
            if engine in NATIVE_ENGINES:
                knn = self._client.transport.perform_request("GET", "/_plugins/_knn/stats")
        return footprint_from_stats(stats, self._index_name, engine, knn)

    def _do_describe(self) -> dict[str, Any]:
        spec = self._require_collection()
        out: dict[str, Any] = {
            **self._versions,
            "engine_version": self._versions.get("server_version"),
            "knn_engine": self._engine(),
            "metric_mapping": METRIC_MAPPING[spec.metric],
            "space_type": SPACE_TYPE[spec.metric],
            "index_name": self._index_name,
            "vector_field": VECTOR_FIELD,
            "force_merge": bool(self._config.get("force_merge", True)),
            "ef_search_last": self._last_ef_search,
            "searches_with_ef_search_raised_to_k": self._raised_searches,
            "filtered_searches": self._filtered_searches,
            "filter": (
                "query DSL filter inside the knn query (filtered during the graph search)"
                if spec.index_type == "hnsw"
                else "query DSL filter under the knn_score script (exact over the passing documents)"
            ),
            "build_time_counted_in": (
                "upsert (HNSW built per segment as documents are indexed) and wait_ready "
                "(refresh, force merge to one segment)"
            ),
            "vectors_written": self._count,
        }
        if self._merge:
            out["force_merge_stats"] = dict(self._merge)
        if self._owns_index:
            with self._errors("describe"):
                mapping = self._client.indices.get_mapping(index=self._index_name)
                settings = self._client.indices.get_settings(index=self._index_name)
                stats = self._client.indices.stats(index=self._index_name, metric="docs,segments")
            out.update(index_details(self._index_name, mapping, settings, stats))
        return out

    # -- small helpers -------------------------------------------------------------------------

    @property
    def _client(self) -> Any:
        if self._os is None:
            raise StoreError("opensearch store is not connected; use it as a context manager (with ...)")
        return self._os

    def _errors(self, what: str) -> ClientErrors:
        return ClientErrors("opensearch", self.url, self._known_errors, what)

    def _known_errors(self) -> tuple[type[BaseException], ...]:
        modules = ((self._exceptions, "OpenSearchException"), (self._helpers, "BulkIndexError"))
        return tuple(getattr(m, name) for m, name in modules if m is not None)
