"""What the ``elasticsearch`` and ``opensearch`` stores share: the calls both clients make alike.

Both engines keep a collection as one Lucene index (1 primary shard, 0 replicas,
``refresh_interval: -1``) named after it in lower case, with one document per vector
(``_id`` = ``str(id)``), and both Python clients have the same shape (``helpers.streaming_bulk``,
``indices.*``, ``search``, ``msearch``). ``SearchEngineStore`` runs what is the same:

- config checks, the server URL, create and drop, share / attach / detach;
- bulk upsert, and bulk delete followed by a refresh (searches see a delete only after one);
- ``wait_ready``: refresh, force merge to one segment, refresh, then the document count
  polled, every call bounded by what is left of the deadline (a client timeout there is
  NotReadyError, not StoreError);
- kNN search: one ``_search``, or ``_msearch`` for a batch with one answer kept per query;
- the common part of describe(), and client exceptions turned into StoreError.

A subclass connects (``_connect``, ending with ``_connected_to``) and fills the hooks where the
engines differ: ``_index_body`` (the ``indices.create`` arguments), ``_query_bodies`` (one
``_search`` body per query), ``_within`` (the client, its calls bounded by N seconds),
``_describe_index`` / ``_describe_search`` / ``_index_details`` (describe()'s own fields) and
``_do_footprint``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from vecbench.engines import Engine
from vecbench.errors import CollectionExistsError, ConfigError, NotReadyError, StoreError
from vecbench.metrics import Metric
from vecbench.spec import CollectionSpec

from ._base import BaseStore
from ._client_errors import ClientErrors
from ._elasticsearch_bodies import (
    DEFAULT_REQUEST_TIMEOUT_S,
    VECTOR_FIELD,
    bulk_actions,
    check_config,
    delete_actions,
    ids_matrix,
    public_url,
    refuse_zero_vectors,
)
from ._search_filters import filter_query

__all__ = ["SearchEngineStore", "DEFAULT_BULK_CHUNK", "config_keys"]

DEFAULT_BULK_CHUNK = 500
_POLL_START_S, _POLL_MAX_S = 0.05, 1.0
_BUILD_TIME = (
    "upsert (HNSW built per segment as documents are indexed) and wait_ready "
    "(refresh, force merge to one segment)"
)


def config_keys(env_var: str, *, api_key: bool) -> dict[str, str]:
    """The ``StoreInfo.config_keys`` of both stores (OpenSearch has no API keys)."""
    keys = {
        "url": f"http(s):// URL of the cluster (default ${env_var})",
        "api_key": "API key (secret)",
        "basic_auth": "'user:password' or [user, password] (secret)",
        "verify_certs": "verify TLS certificates (default True)",
        "request_timeout_s": f"seconds per request (default {DEFAULT_REQUEST_TIMEOUT_S:g})",
        "bulk_chunk": f"documents per bulk request (default {DEFAULT_BULK_CHUNK})",
        "force_merge": "force-merge to one segment in wait_ready (default True)",
    }
    if not api_key:
        del keys["api_key"]
    return keys


class SearchEngineStore(BaseStore):
    """The Elasticsearch / OpenSearch store logic over a connected client (``_client``)."""

    # The engine's name as its refusal of zero vectors prints it ("Elasticsearch").
    _product_title: ClassVar[str]
    # The keyword ``msearch`` takes its header / body lines under ("searches" or "body").
    _msearch_lines_arg: ClassVar[str]

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        super().__init__(config)
        self._conn: Any = None
        self._helpers: Any = None
        self._known: tuple[type[BaseException], ...] = ()
        self._timeout_error: type[BaseException] | None = None
        self._versions: dict[str, Any] = {}
        self._clear_collection_state()

    def _clear_collection_state(self) -> None:
        self._index_name = ""
        self._count = 0
        self._owns_index = False
        # Searches whose beam (num_candidates, ef_search) was raised to k, and the last beam sent.
        self._raised_searches = 0
        self._last_beam: int | None = None
        self._merge: dict[str, Any] = {}
        self._filtered_searches = 0

    # -- hooks ---------------------------------------------------------------------------------

    def _index_body(self, spec: CollectionSpec) -> dict[str, Any]:
        """Keyword arguments of ``indices.create`` (refusals of what cannot be built go here)."""
        raise NotImplementedError

    def _query_bodies(
        self, queries: NDArray[np.float32], k: int, flt: dict[str, Any] | None
    ) -> list[dict[str, Any]]:
        """One ``_search`` body per query (ids only), noting the beam with ``_note_beam``."""
        raise NotImplementedError

    def _within(self, timeout_s: float) -> Any:
        """The client, each of its calls bounded by ``timeout_s`` seconds."""
        raise NotImplementedError

    def _describe_index(self, spec: CollectionSpec) -> dict[str, Any]:
        """describe()'s metric and index fields (after ``engine_version``)."""
        raise NotImplementedError

    def _describe_search(self, spec: CollectionSpec) -> dict[str, Any]:
        """describe()'s beam fields (last sent, searches raised to k) and ``filter``."""
        raise NotImplementedError

    def _index_details(self, mapping: Any, settings: Any, stats: Any) -> dict[str, Any]:
        """describe()'s fields read from the index's mapping, settings and docs/segments stats."""
        raise NotImplementedError

    # -- config and connection -------------------------------------------------------------------

    def _check_config(self, config: dict[str, Any]) -> dict[str, Any]:
        return check_config(config, product=self.info.name)

    @property
    def _engine(self) -> Engine:
        assert self.info.server is not None  # both stores name their engine in StoreInfo
        return self.info.server

    @property
    def url(self) -> str:
        url = self._engine.address(self._config)
        if not url:
            raise ConfigError(
                f"{self.info.name} needs a server: set config 'url' or {self._engine.env_var} "
                f"(start one with {self._engine.start_hint})"
            )
        return str(url)

    def _unreachable(self, client: Any, where: str, exc: BaseException) -> StoreError:
        """The client closed, and the error for a server that did not answer (refused, timeout, TLS)."""
        client.close()
        return StoreError(
            f"{self.info.name} at {where} is unreachable ({type(exc).__name__}: {exc}); start one with "
            f"{self._engine.start_hint} and set {self._engine.env_var}"
        )

    def _refused(self, client: Any, where: str, exc: BaseException, hint: str) -> StoreError:
        """The client closed, and the error for a server that answered no (HINT: what to check)."""
        client.close()
        return StoreError(f"{self.info.name} at {where} refused the connection: {exc}{hint}")

    def _connected_to(
        self,
        client: Any,
        helpers: Any,
        known: tuple[type[BaseException], ...],
        timeout_error: type[BaseException],
        versions: dict[str, Any],
    ) -> None:
        """Keep the client, its bulk helpers, the exceptions to turn into StoreError, the one
        that means a request timed out, and the server and client versions."""
        self._conn, self._helpers, self._known = client, helpers, known
        self._timeout_error, self._versions = timeout_error, versions

    def _disconnect(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = self._helpers = self._timeout_error = None
        self._known = ()

    # -- collections -----------------------------------------------------------------------------

    def _do_create(self) -> None:
        spec = self._require_collection()
        self._clear_collection_state()
        body = self._index_body(spec)
        name = spec.name.lower()  # index names are lower case; check_identifier allows upper
        with self._errors("create index"):
            if self._client.indices.exists(index=name):
                if not self._drop_old:
                    raise CollectionExistsError(
                        f"{self.info.name} index {name!r} already exists on {public_url(self.url)}; "
                        "pass drop_old=True to replace it"
                    )
                self._client.indices.delete(index=name)
            self._client.indices.create(index=name, **body)
        self._index_name, self._owns_index = name, True

    def _do_drop(self) -> None:
        if self._owns_index and self._conn is not None:
            with self._errors("delete index"):
                self._conn.indices.delete(index=self._index_name, ignore_unavailable=True)
        self._clear_collection_state()

    def _do_share(self) -> dict[str, Any]:
        # The beam (num_candidates, ef_search) goes with every _search body: nothing to set.
        return {"index_name": self._index_name, "count": self._count}

    def _do_attach(self, state: Mapping[str, Any]) -> None:
        name = state.get("index_name") or self._require_collection().name.lower()
        if not isinstance(name, str):
            raise ConfigError(f"{self.info.name}: the handle's index name {name!r} is not a string")
        with self._errors("check index"):
            exists = self._client.indices.exists(index=name)
        if not exists:
            raise StoreError(f"{self.info.name} index {name!r} does not exist on {public_url(self.url)}")
        self._clear_collection_state()
        # _owns_index stays False: drop() leaves the owner's index alone.
        self._index_name, self._count = name, int(state.get("count") or 0)

    def _do_detach(self) -> None:
        self._clear_collection_state()

    # -- writes ----------------------------------------------------------------------------------

    def _do_upsert(
        self, ids: NDArray[np.int64], vectors: NDArray[np.float32], attributes: Any = None
    ) -> None:
        if self._require_collection().metric is Metric.COSINE:
            refuse_zero_vectors(ids, vectors, product=self._product_title)
        created = 0
        try:
            with self._errors("bulk index"):
                for ok, item in self._helpers.streaming_bulk(
                    self._client,
                    bulk_actions(self._index_name, ids, vectors, attributes),
                    chunk_size=self._bulk_chunk,
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
                chunk_size=self._bulk_chunk,
                raise_on_error=False,
            ):
                result = item.get("delete", {})
                if ok and result.get("result") == "deleted":
                    self._count -= 1
                elif not ok and result.get("status") != 404:
                    raise StoreError(f"{self.info.name}: delete of id {result.get('_id')} failed: {result}")
            # Searches see a delete only after a refresh (refresh_interval is -1): make it now, so
            # that a deleted id is never found once delete() returns.
            self._client.indices.refresh(index=self._index_name)

    def _do_wait_ready(self, timeout_s: float) -> None:
        if self._attached:
            return  # refresh and force merge are the owner's, before share()
        deadline = time.monotonic() + timeout_s
        name = self._index_name

        def client() -> Any:  # every call gets what is left of the deadline as its timeout
            left = deadline - time.monotonic()
            if left <= 0:
                raise NotReadyError(f"{self.info.name} index {name!r} not ready after {timeout_s:g}s")
            return self._within(left)

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
                            f"{self.info.name} index {name!r} not ready after {timeout_s:g}s: "
                            f"{count} documents searchable, {self._count} written"
                        )
                    time.sleep(min(pause, left))
                    pause = min(pause * 2, _POLL_MAX_S)
        except StoreError as exc:
            if self._timeout_error is not None and isinstance(exc.__cause__, self._timeout_error):
                raise NotReadyError(
                    f"{self.info.name} index {name!r} not ready after {timeout_s:g}s: {exc}"
                ) from exc
            raise

    # -- search ----------------------------------------------------------------------------------

    def _do_search(self, queries: NDArray[np.float32], k: int) -> NDArray[np.int64]:
        return self._knn(queries, k, None)

    def _do_search_filtered(self, queries: NDArray[np.float32], k: int, flt: Any) -> NDArray[np.int64]:
        query = filter_query(flt)
        if query is None:  # no stored value can pass: nothing to ask
            return np.full((queries.shape[0], k), -1, dtype=np.int64)
        self._filtered_searches += queries.shape[0]
        return self._knn(queries, k, query)

    def _note_beam(self, beam: int | None, raised: bool, n_queries: int) -> None:
        if raised:
            self._raised_searches += n_queries
        self._last_beam = beam

    def _knn(self, queries: NDArray[np.float32], k: int, flt: dict[str, Any] | None) -> NDArray[np.int64]:
        nq, name, product = queries.shape[0], self._index_name, self.info.name
        bodies = self._query_bodies(queries, k, flt)
        with self._errors("search"):
            if nq == 1:
                reply = self._client.search(index=name, body=bodies[0], filter_path=["hits.hits._id"])
                return ids_matrix([reply], k, product)
            # responses.status keeps one entry per search: filter_path drops a response whose
            # hits are all empty, and the positions would no longer match the queries.
            lines = [line for body in bodies for line in ({}, body)]
            reply = self._client.msearch(
                index=name,
                filter_path=["responses.hits.hits._id", "responses.error", "responses.status"],
                **{self._msearch_lines_arg: lines},
            )
        responses = list(reply.get("responses") or [])
        if len(responses) != nq:
            raise StoreError(f"{product}: _msearch answered {len(responses)} of {nq} searches")
        return ids_matrix(responses, k, product)

    # -- reporting -------------------------------------------------------------------------------

    def _do_describe(self) -> dict[str, Any]:
        spec = self._require_collection()
        out: dict[str, Any] = {
            **self._versions,
            "engine_version": self._versions.get("server_version"),
            **self._describe_index(spec),
            "index_name": self._index_name,
            "vector_field": VECTOR_FIELD,
            "force_merge": bool(self._config.get("force_merge", True)),
            "filtered_searches": self._filtered_searches,
            **self._describe_search(spec),
            "build_time_counted_in": _BUILD_TIME,
            "vectors_written": self._count,
        }
        if self._merge:
            out["force_merge_stats"] = dict(self._merge)
        if self._owns_index:
            name = self._index_name
            with self._errors("describe"):
                mapping = self._client.indices.get_mapping(index=name)
                settings = self._client.indices.get_settings(index=name)
                stats = self._client.indices.stats(index=name, metric="docs,segments")
                out.update(self._index_details(mapping, settings, stats))
        return out

    # -- small helpers ---------------------------------------------------------------------------

    @property
    def _bulk_chunk(self) -> int:
        return int(self._config.get("bulk_chunk", DEFAULT_BULK_CHUNK))

    @property
    def _client(self) -> Any:
        if self._conn is None:
            raise StoreError(
                f"{self.info.name} store is not connected; use it as a context manager (with ...)"
            )
        return self._conn

    def _errors(self, what: str) -> ClientErrors:
        return ClientErrors(self.info.name, self.url, self._known_errors, what)

    def _known_errors(self) -> tuple[type[BaseException], ...]:
        return self._known
