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

import functools
from collections.abc import Mapping
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
from ._elasticsearch_bodies import dig, index_details, public_url
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
    knn_query_body,
    mapping_body,
    refuse_native_engine,
    versions,
)
from ._search_engine import SearchEngineStore, config_keys

__all__ = ["OpenSearchStore"]

ENGINE = ENGINES["opensearch"]
ENV_VAR = ENGINE.env_var
START_HINT = ENGINE.start_hint


class OpenSearchStore(
    BatchSearchMixin, DeletableMixin, FilterableMixin, FootprintMixin, ShareableMixin, SearchEngineStore
):
    """OpenSearch over HTTP (opensearch-py) with the k-NN plugin.

    Config: ``url`` (default ``$VECBENCH_OPENSEARCH_URL``), ``basic_auth``
    (``"user:password"`` or ``[user, password]``; secret), ``verify_certs`` (default True),
    ``request_timeout_s`` (default 60), ``bulk_chunk`` (documents per bulk request, default
    500), ``force_merge`` (default True: merge to one segment in wait_ready).

    Implements BatchSearch (``_msearch``), Deletable, Filterable, Footprint and Shareable;
    what it shares with ``elasticsearch`` is in ``_search_engine.SearchEngineStore``.
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
        config_keys=config_keys(ENV_VAR, api_key=False),
    )
    _product_title: ClassVar[str] = "OpenSearch"
    _msearch_lines_arg: ClassVar[str] = "body"

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        super().__init__(config)
        self._node_attributes: dict[str, Any] = {}

    _check_build_params = staticmethod(check_build_params)
    _check_search_params = staticmethod(check_search_params)

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
            raise self._unreachable(client, where, exc) from exc
        except exceptions.TransportError as exc:
            hint = "; check basic_auth" if exc.status_code in (401, 403) else ""
            raise self._refused(client, where, exc, hint) from exc
        if dig(server, "version", "distribution") != "opensearch":
            client.close()
            raise StoreError(f"{where} is not an OpenSearch server: {dig(server, 'version')}")
        node: Any = next(iter((dig(nodes, "nodes") or {}).values()), {})
        self._node_attributes = dict(dig(node, "attributes") or {})
        known = (exceptions.OpenSearchException, helpers.BulkIndexError)
        self._connected_to(
            client, helpers, known, exceptions.ConnectionTimeout, versions(server, osp.__versionstr__)
        )

    # -- what differs from elasticsearch ---------------------------------------------------------

    def _index_body(self, spec: CollectionSpec) -> dict[str, Any]:
        if spec.index_type == "hnsw":  # before anything is created or dropped
            refuse_native_engine(self._build_params["engine"], self._node_attributes)
        return {"body": mapping_body(spec, self._build_params)}

    def _within(self, timeout_s: float) -> Any:
        return _Bounded(self._client, timeout_s)

    def _query_bodies(
        self, queries: NDArray[np.float32], k: int, flt: dict[str, Any] | None
    ) -> list[dict[str, Any]]:
        spec = self._require_collection()
        if spec.index_type == "flat":
            return [exact_query_body(q, k, spec.metric, flt) for q in queries]
        ef_search, raised = effective_ef_search(k, self._search_params.get("ef_search"))
        self._note_beam(ef_search, raised, queries.shape[0])
        return [knn_query_body(q, k, ef_search, flt) for q in queries]

    def _engine_name(self) -> str | None:
        spec = self._require_collection()
        return str(self._build_params.get("engine")) if spec.index_type == "hnsw" else None

    def _do_footprint(self) -> FootprintStats:
        engine = self._engine_name()
        with self._errors("index stats"):
            stats = self._client.indices.stats(
                index=self._index_name, metric="store,segments", include_segment_file_sizes=True
            )
            knn = None
            if engine in NATIVE_ENGINES:
                knn = self._client.transport.perform_request("GET", "/_plugins/_knn/stats")
        return footprint_from_stats(stats, self._index_name, engine, knn)

    def _describe_index(self, spec: CollectionSpec) -> dict[str, Any]:
        return {
            "knn_engine": self._engine_name(),
            "metric_mapping": METRIC_MAPPING[spec.metric],
            "space_type": SPACE_TYPE[spec.metric],
        }

    def _describe_search(self, spec: CollectionSpec) -> dict[str, Any]:
        return {
            "ef_search_last": self._last_beam,
            "searches_with_ef_search_raised_to_k": self._raised_searches,
            "filter": (
                "query DSL filter inside the knn query (filtered during the graph search)"
                if spec.index_type == "hnsw"
                else "query DSL filter under the knn_score script (exact over the passing documents)"
            ),
        }

    def _index_details(self, mapping: Any, settings: Any, stats: Any) -> dict[str, Any]:
        return index_details(self._index_name, mapping, settings, stats, extra_settings=("knn",))


class _Bounded:
    """A client (or one of its namespaces, ``indices``) whose calls all get ``request_timeout``:
    opensearch-py has no ``options(request_timeout=...)``, it takes the timeout per call."""

    def __init__(self, target: Any, timeout_s: float) -> None:
        self._target, self._timeout_s = target, timeout_s

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._target, name)
        if callable(found):
            return functools.partial(found, request_timeout=self._timeout_s)
        return _Bounded(found, self._timeout_s)
