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

from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from vecbench.engines import ENGINES
from vecbench.errors import ConfigError, StoreError
from vecbench.spec import CollectionSpec
from vecbench.store import FootprintStats, StoreInfo
from vecbench.util.deps import import_optional

from ._capabilities import (
    BatchSearchMixin,
    DeletableMixin,
    FilterableMixin,
    FootprintMixin,
    ShareableMixin,
)
from ._elasticsearch_bodies import DEFAULT_REQUEST_TIMEOUT_S as DEFAULT_REQUEST_TIMEOUT_S
from ._elasticsearch_bodies import (
    INDEX_TYPES,
    METRIC_MAPPING,
    SIMILARITY,
    bulk_actions,
    check_build_params,
    check_search_params,
    client_kwargs,
    delete_actions,
    effective_num_candidates,
    footprint_from_stats,
    ids_from_hits,
    index_details,
    info_from_node,
    knn_query_body,
    lucene_from_segments,
    mapping_body,
    public_url,
    refusal_hint,
    versions,
)
from ._elasticsearch_bodies import MAX_DIMS as MAX_DIMS
from ._elasticsearch_bodies import MAX_NUM_CANDIDATES as MAX_NUM_CANDIDATES
from ._search_engine import SearchEngineStore, config_keys

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
START_HINT = ENGINE.start_hint


class ElasticsearchStore(
    BatchSearchMixin, DeletableMixin, FilterableMixin, FootprintMixin, ShareableMixin, SearchEngineStore
):
    """Elasticsearch over HTTP (elasticsearch-py; client major = server major).

    Config: ``url`` (default ``$VECBENCH_ES_URL``), ``api_key`` or ``basic_auth``
    (``"user:password"`` or ``[user, password]``; secrets), ``verify_certs`` (default True),
    ``request_timeout_s`` (default 60), ``bulk_chunk`` (documents per bulk request, default
    500), ``force_merge`` (default True: merge to one segment in wait_ready).

    Implements BatchSearch (``_msearch``), Deletable, Filterable, Footprint and Shareable;
    what it shares with ``opensearch`` is in ``_search_engine.SearchEngineStore``.
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
        config_keys=config_keys(ENV_VAR, api_key=True),
    )
    _product_title: ClassVar[str] = "Elasticsearch"
    _msearch_lines_arg: ClassVar[str] = "searches"

    _check_build_params = staticmethod(check_build_params)
    _check_search_params = staticmethod(check_search_params)

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
            raise self._unreachable(client, where, exc) from exc
        except es.UnsupportedProductError as exc:
            client.close()
            raise StoreError(f"{where} is not an Elasticsearch server: {exc}") from exc
        except es.ApiError as exc:
            hint = refusal_hint(exc.status_code, str(exc), client_version)
            raise self._refused(client, where, exc, hint) from exc
        known = (es.ApiError, helpers.BulkIndexError, transport.TransportError)
        self._connected_to(
            client, helpers, known, transport.ConnectionTimeout, versions(server, client_version)
        )

    # -- what differs from opensearch ------------------------------------------------------------

    def _index_body(self, spec: CollectionSpec) -> dict[str, Any]:
        body = mapping_body(spec, self._build_params)
        return {"settings": body["settings"], "mappings": body["mappings"]}

    def _within(self, timeout_s: float) -> Any:
        return self._client.options(request_timeout=timeout_s)

    def _query_bodies(
        self, queries: NDArray[np.float32], k: int, flt: dict[str, Any] | None
    ) -> list[dict[str, Any]]:
        exact = self._require_collection().index_type == "flat"
        wanted = None if exact else self._search_params.get("num_candidates")
        num_candidates, raised = effective_num_candidates(k, wanted)
        self._note_beam(num_candidates, raised, queries.shape[0])
        return [knn_query_body(q, k, num_candidates, flt) for q in queries]

    def _do_footprint(self) -> FootprintStats:
        with self._errors("index stats"):
            stats = self._client.indices.stats(index=self._index_name)
        return footprint_from_stats(stats)

    def _describe_index(self, spec: CollectionSpec) -> dict[str, Any]:
        return {"metric_mapping": METRIC_MAPPING[spec.metric], "similarity": SIMILARITY[spec.metric]}

    def _describe_search(self, spec: CollectionSpec) -> dict[str, Any]:
        return {
            "num_candidates_last": self._last_beam,
            "searches_with_num_candidates_raised_to_k": self._raised_searches,
            "filter": "query DSL filter inside the knn clause (applied during the kNN search)",
        }

    def _index_details(self, mapping: Any, settings: Any, stats: Any) -> dict[str, Any]:
        out = index_details(self._index_name, mapping, settings, stats)
        if self._versions.get("lucene_version") is None:  # no GET /: the segments name it
            segments = self._client.indices.segments(index=self._index_name)
            out["lucene_version"] = lucene_from_segments(segments, self._index_name)
        return out


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
