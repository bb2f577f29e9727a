"""Elasticsearch ``dense_vector`` kNN as a server store: HNSW, int8 HNSW, flat and int8 flat.

``elasticsearch`` (elasticsearch-py) is imported in ``__enter__``, never at module import.

Client and server majors must match: elasticsearch-py N.x asks for ``compatible-with=N``, and
an 8.x server refuses a 9.x client (HTTP 400 ``media_type_header_exception``). Runs against
Elasticsearch 9.5.3 here (``vecbench services up elasticsearch``; the compose image is the
same version); 9.1+ reports the off-heap vector sizes ``footprint`` uses. A server without
``GET /`` (the integ-test distribution) gives its version and build through ``_nodes/_local``.

Layout: one index per collection, named after it in lower case (a leading '_' is refused;
1 primary shard, 0 replicas, ``refresh_interval: -1``), one document per vector with
``_id`` = ``str(id)``, a ``dense_vector`` field ``embedding`` (kept out of ``_source``) and
one field per declared attribute (keyword, or long for int). Indexing an ``_id`` replaces it.

Metrics: euclidean -> ``l2_norm``; cosine -> ``cosine`` (zero vectors refused first, as ES
refuses them); ip -> ``max_inner_product`` (``dot_product`` needs unit-length vectors).

Index types (``index_options.type``): ``hnsw`` and ``int8_hnsw`` (build m [16],
ef_construction [100]; int8 also confidence_interval), ``flat`` (exact scan), ``int8_flat``
(scan of int8 vectors: approximate). Search parameter ``num_candidates`` [100] (at most
10000; ``flat`` uses k), raised to k where lower; describe() reports how often.

Filtered search (``Filterable``): the filter is a query DSL filter inside the ``knn`` clause
(``_search_filters``: term, terms, range, bool), applied while the graph is searched.

Where build time lands: HNSW graphs are built as segments are written (in upsert), and
``wait_ready`` refreshes, force-merges to one segment (``force_merge``, default True: merging
rebuilds the graph, so it is real build time), refreshes again and checks the count.

    with ElasticsearchStore({"url": "http://127.0.0.1:19200"}) as store:
        store.create(CollectionSpec("demo", dim=128, metric="cosine", index_type="hnsw"))
        store.upsert(ids, vectors)
        store.wait_ready()
        store.set_search_params({"num_candidates": 200})
        store.search(query, k=10)

Request bodies are built by pure functions in ``_elasticsearch_bodies`` (tested without a server).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from vecbench.engines import ENGINES
from vecbench.errors import (
    CollectionExistsError,
    ConfigError,
    NotReadyError,
    StoreError,
)
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
from ._elasticsearch_bodies import DEFAULT_REQUEST_TIMEOUT_S as DEFAULT_REQUEST_TIMEOUT_S
from ._elasticsearch_bodies import (
    INDEX_TYPES,
    METRIC_MAPPING,
    SIMILARITY,
    VECTOR_FIELD,
    bulk_actions,
    check_build_params,
    check_config,
    check_search_params,
    client_kwargs,
    delete_actions,
    effective_num_candidates,
    footprint_from_stats,
    ids_from_hits,
    ids_matrix,
    index_details,
    info_from_node,
    knn_query_body,
    lucene_from_segments,
    mapping_body,
    public_url,
    refusal_hint,
    refuse_zero_vectors,
    versions,
)
from ._elasticsearch_bodies import MAX_DIMS as MAX_DIMS
from ._elasticsearch_bodies import MAX_NUM_CANDIDATES as MAX_NUM_CANDIDATES
from ._search_filters import filter_query

__all__ = [
    "ElasticsearchStore",
    "mapping_body",
    "knn_query_body",
    "effective_num_candidates",
    "bulk_actions",
    "delete_actions",
    "ids_from_hits",
]

ENGINE = ENGINES["elasticsearch"]
ENV_VAR = ENGINE.env_var
DEFAULT_BULK_CHUNK = 500
START_HINT = ENGINE.start_hint
_POLL_START_S, _POLL_MAX_S = 0.05, 1.0


class ElasticsearchStore(
    BatchSearchMixin, DeletableMixin, FilterableMixin, FootprintMixin, ShareableMixin, BaseStore
):
    """Elasticsearch over HTTP (elasticsearch-py; client major = server major).

    Config: ``url`` (default ``$VECBENCH_ES_URL``), ``api_key`` or ``basic_auth``
    (``"user:password"`` or ``[user, password]``; secrets), ``verify_certs`` (default True),
    ``request_timeout_s`` (default 60), ``bulk_chunk`` (documents per bulk request, default
    500), ``force_merge`` (default True: merge to one segment in wait_ready).

    Implements BatchSearch (``_msearch``), Deletable, Filterable, Footprint and Shareable.
    """

    info: ClassVar[StoreInfo] = StoreInfo(
        max_k=10_000,  # kNN k and the result window (index.max_result_window) are capped at 10000
        name="elasticsearch",
        engine="elasticsearch",
        extra="elasticsearch",
        client_modules=("elasticsearch",),
        index_types=INDEX_TYPES,
        embedded=False,
        server=ENGINE,
        description="Elasticsearch dense_vector kNN (Lucene HNSW, int8 HNSW, flat, int8 flat).",
        config_keys={
            "url": f"http(s):// URL of the cluster (default ${ENV_VAR})",
            "api_key": "API key (secret)",
            "basic_auth": "'user:password' or [user, password] (secret)",
            "verify_certs": "verify TLS certificates (default True)",
            "request_timeout_s": f"seconds per request (default {DEFAULT_REQUEST_TIMEOUT_S:g})",
            "bulk_chunk": f"documents per bulk request (default {DEFAULT_BULK_CHUNK})",
            "force_merge": "force-merge to one segment in wait_ready (default True)",
        },
    )

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        super().__init__(config)
        self._es: Any = None
        self._module: Any = None
        self._helpers: Any = None
        self._transport: Any = None
        self._versions: dict[str, Any] = {}
        self._drop_old = False
        self._clear_collection_state()

    def _clear_collection_state(self) -> None:
        self._index_name = ""
        self._count = 0
        self._owns_index = False
        self._clamped_searches = 0
        self._last_num_candidates: int | None = None
        self._merge: dict[str, Any] = {}
        self._filtered_searches = 0

    # -- config and params -----------------------------------------------------------------

    def _check_config(self, config: dict[str, Any]) -> dict[str, Any]:
        return check_config(config)

    def _check_build_params(self, spec: CollectionSpec, params: dict[str, Any]) -> dict[str, Any]:
        return check_build_params(spec, params)

    def _check_search_params(self, params: dict[str, Any]) -> dict[str, Any]:
        return check_search_params(params)

    @property
    def url(self) -> str:
        url = ENGINE.address(self._config)
        if not url:
            raise ConfigError(
                f"elasticsearch needs a server: set config 'url' or {ENV_VAR} (start one with {START_HINT})"
            )
        return str(url)

    # -- lifecycle ---------------------------------------------------------------------------

    def _connect(self) -> None:
        es = import_optional("elasticsearch", "elasticsearch")
        transport = import_optional("elastic_transport", "elasticsearch")
        helpers = import_optional("elasticsearch.helpers", "elasticsearch")
        url = self.url
        where = public_url(url)
        try:
            client = es.Elasticsearch(url, **client_kwargs(self._config))
        except ValueError as exc:
            raise ConfigError(f"elasticsearch: bad url {where!r}: {exc}") from exc
        client_version = es.__versionstr__
        try:
            server = _server_info(client, es)
        except transport.TransportError as exc:  # connection refused, timeout, TLS
            client.close()
            raise StoreError(
                f"elasticsearch at {where} is unreachable ({type(exc).__name__}: {exc}); start one with "
                f"{START_HINT} and set {ENV_VAR}"
            ) from exc
        except es.UnsupportedProductError as exc:
            client.close()
            raise StoreError(f"{where} is not an Elasticsearch server: {exc}") from exc
        except es.ApiError as exc:
            client.close()
            hint = refusal_hint(exc.status_code, str(exc), client_version)
            raise StoreError(f"elasticsearch at {where} refused the connection: {exc}{hint}") from exc
        self._versions = versions(server, client_version)
        self._es, self._module, self._helpers, self._transport = client, es, helpers, transport

    def _disconnect(self) -> None:
        if self._es is not None:
            self._es.close()
        self._es = self._module = self._helpers = None

    def _do_create(self) -> None:
        spec = self._require_collection()
        self._clear_collection_state()
        name = spec.name.lower()  # ES index names are lower case; check_identifier allows upper
        with self._errors("create index"):
            if self._client.indices.exists(index=name):
                if not self._drop_old:
                    raise CollectionExistsError(
                        f"elasticsearch index {name!r} already exists on {public_url(self.url)}; "
                        "pass drop_old=True to replace it"
                    )
                self._client.indices.delete(index=name)
            body = mapping_body(spec, self._build_params)
            self._client.indices.create(index=name, settings=body["settings"], mappings=body["mappings"])
        self._index_name, self._owns_index = name, True

    def _do_drop(self) -> None:
        if self._owns_index and self._es is not None:
            with self._errors("delete index"):
                self._es.indices.delete(index=self._index_name, ignore_unavailable=True)
        self._clear_collection_state()

    # -- sharing -------------------------------------------------------------------------------

    def _do_share(self) -> dict[str, Any]:
        # num_candidates goes with every _search body (from the search params): nothing to set.
        return {"index_name": self._index_name, "count": self._count}

    def _do_attach(self, state: Mapping[str, Any]) -> None:
        name = state.get("index_name") or self._require_collection().name.lower()
        if not isinstance(name, str):
            raise ConfigError(f"elasticsearch: the handle's index name {name!r} is not a string")
        with self._errors("check index"):
            exists = self._client.indices.exists(index=name)
        if not exists:
            raise StoreError(f"elasticsearch index {name!r} does not exist on {public_url(self.url)}")
        self._clear_collection_state()
        # _owns_index stays False: drop() leaves the owner's index alone.
        self._index_name, self._count = name, int(state.get("count") or 0)

    def _do_detach(self) -> None:
        self._clear_collection_state()

    # -- writes ------------------------------------------------------------------------------

    def _do_upsert(
        self, ids: NDArray[np.int64], vectors: NDArray[np.float32], attributes: Any = None
    ) -> None:
        spec = self._require_collection()
        if spec.metric is Metric.COSINE:
            refuse_zero_vectors(ids, vectors)
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
                    raise StoreError(f"elasticsearch: delete of id {result.get('_id')} failed: {result}")
            # Searches see a delete only after a refresh (refresh_interval is -1): make it now, so
            # that a deleted id is never found once delete() returns.
            self._client.indices.refresh(index=self._index_name)

    def _do_wait_ready(self, timeout_s: float) -> None:
        if self._attached:
            return  # refresh and force merge are the owner's, before share()
        deadline = time.monotonic() + timeout_s
        name = self._index_name

        def client() -> Any:
            left = deadline - time.monotonic()
            if left <= 0:
                raise NotReadyError(f"elasticsearch index {name!r} not ready after {timeout_s:g}s")
            return self._client.options(request_timeout=left)

        try:
            with self._errors("refresh / force merge"):
                client().indices.refresh(index=name)
                if self._config.get("force_merge", True):
                    t0 = time.perf_counter()
                    client().indices.forcemerge(index=name, max_num_segments=1)
                    client().indices.refresh(index=name)
                    self._merge = {"force_merge_s": time.perf_counter() - t0, "max_num_segments": 1}
                pause = _POLL_START_S
                while True:
                    count = int(client().count(index=name)["count"])
                    if count == self._count:
                        return
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise NotReadyError(
                            f"elasticsearch index {name!r} not ready after {timeout_s:g}s: "
                            f"{count} documents searchable, {self._count} written"
                        )
                    time.sleep(min(pause, left))
                    pause = min(pause * 2, _POLL_MAX_S)
        except StoreError as exc:
            if isinstance(exc.__cause__, self._transport.ConnectionTimeout):
                raise NotReadyError(
                    f"elasticsearch index {name!r} not ready after {timeout_s:g}s: {exc}"
                ) from exc
            raise

    # -- search ------------------------------------------------------------------------------

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
        wanted = self._search_params.get("num_candidates") if self._spec_index_type != "flat" else None
        num_candidates, clamped = effective_num_candidates(k, wanted)
        if clamped:
            self._clamped_searches += nq
        self._last_num_candidates = num_candidates
        bodies = [knn_query_body(q, k, num_candidates, flt) for q in queries]
        with self._errors("search"):
            if nq == 1:
                return ids_matrix(
                    [
                        self._client.search(
                            index=self._index_name, body=bodies[0], filter_path=["hits.hits._id"]
                        )
                    ],
                    k,
                )
            # responses.status keeps one entry per search: filter_path drops a response whose
            # hits are all empty, and the positions would no longer match the queries.
            reply = self._client.msearch(
                index=self._index_name,
                searches=[line for body in bodies for line in ({}, body)],
                filter_path=["responses.hits.hits._id", "responses.error", "responses.status"],
            )
        responses = list(reply.get("responses") or [])
        if len(responses) != nq:
            raise StoreError(f"elasticsearch: _msearch answered {len(responses)} of {nq} searches")
        return ids_matrix(responses, k)

    # -- reporting ---------------------------------------------------------------------------

    def _do_footprint(self) -> FootprintStats:
        with self._errors("index stats"):
            stats = self._client.indices.stats(index=self._index_name)
        return footprint_from_stats(stats)

    def _do_describe(self) -> dict[str, Any]:
        spec = self._require_collection()
        out: dict[str, Any] = {
            **self._versions,
            "engine_version": self._versions.get("server_version"),
            "metric_mapping": METRIC_MAPPING[spec.metric],
            "similarity": SIMILARITY[spec.metric],
            "index_name": self._index_name,
            "vector_field": VECTOR_FIELD,
            "force_merge": bool(self._config.get("force_merge", True)),
            "num_candidates_last": self._last_num_candidates,
            "searches_with_num_candidates_raised_to_k": self._clamped_searches,
            "filtered_searches": self._filtered_searches,
            "filter": "query DSL filter inside the knn clause (applied during the kNN search)",
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
                stats = self._client.indices.stats(index=self._index_name, metric=["docs", "segments"])
                if out.get("lucene_version") is None:  # no GET /: the segments name it
                    segments = self._client.indices.segments(index=self._index_name)
                    out["lucene_version"] = lucene_from_segments(segments, self._index_name)
            out.update(index_details(self._index_name, mapping, settings, stats))
        return out

    # -- small helpers -------------------------------------------------------------------------

    @property
    def _spec_index_type(self) -> str:
        return self._require_collection().index_type

    @property
    def _client(self) -> Any:
        if self._es is None:
            raise StoreError("elasticsearch store is not connected; use it as a context manager (with ...)")
        return self._es

    def _errors(self, what: str) -> ClientErrors:
        return ClientErrors("elasticsearch", self.url, self._known_errors, what)

    def _known_errors(self) -> tuple[type[BaseException], ...]:
        modules = (
            (self._module, "ApiError"),
            (self._helpers, "BulkIndexError"),
            (self._transport, "TransportError"),
        )
        return tuple(getattr(m, name) for m, name in modules if m is not None)


def _server_info(client: Any, es: Any) -> dict[str, Any]:
    """``GET /`` (version and build); from ``GET _nodes/_local`` when the server has no root
    endpoint (405: a distribution without the rest-root module, such as the integ-test zip)."""
    try:
        return dict(client.info().body)
    except es.ApiError as exc:
        if exc.status_code != 405:
            raise
    return {
        **info_from_node(client.nodes.info(node_id="_local", metric="_none")),
        "version_from": "_nodes/_local",
    }
