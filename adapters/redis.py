"""Redis Stack (RediSearch vector fields) as a server store: HNSW and FLAT for every metric.

``redis`` (redis-py) is imported in ``__enter__``, never at module import.

Layout on the server: one hash per vector, key ``<key_prefix><id>`` (``key_prefix``
defaults to ``"<collection>:"``), field ``embedding`` holding the float32 bytes; one
RediSearch index named after the collection, ``ON HASH PREFIX 1 <key_prefix>``. Every
command is sent as a list of separate arguments (``execute_command(*args)``), never as a
string with values pasted in; the collection name is also checked by CollectionSpec.

Metrics: euclidean -> ``L2`` (RediSearch ranks by squared L2, the same order); cosine ->
``COSINE``; ip -> ``IP`` (RediSearch's distance is ``1 - <q, x>``, same order as -ip).

Index types: ``hnsw`` (build m [16], ef_construction [200], initial_cap [None: not sent];
search ef_runtime [10], RediSearch's own default and name) and ``flat`` (exact scan); both
take hybrid_policy [None] and batch_size [None] for filtered search.

Where build time lands: RediSearch indexes a hash when it is written (HNSW inserts run
in the write), so build time is in upsert; ``wait_ready`` polls ``FT.INFO`` until
``indexing`` is 0, ``percent_indexed`` is 1 and ``num_docs`` is the number of vectors
this store wrote (it counts HSETs that created a key, minus DELs), and fails at once
with StoreError if RediSearch reports hash indexing failures.

Filtered search (``search_filtered``): declared attributes are TAG (keyword) and NUMERIC
(int) fields of the index, written into each hash with the vector; a filter is the KNN
query's pre-filter, ``(@label:{a | b} @n:[lo (hi])=>[KNN ...]``, tag values escaped; search
parameter ``hybrid_policy`` (ADHOC_BF, BATCHES; None: RediSearch picks per query) and
``batch_size`` go with filtered queries (``_redis_commands``).

``create`` refuses an index that already exists on the server (``FT._LIST``), and hashes
left under the key prefix by someone else (they would be indexed with ours), unless
``drop_old=True``, which drops them (``FT.DROPINDEX ... DD``).

    with RedisStore({"url": "redis://127.0.0.1:16379"}) as store:
        store.create(CollectionSpec("demo", dim=128, metric="cosine", index_type="hnsw"))
        store.upsert(ids, vectors)
        store.wait_ready()
        store.set_search_params({"ef_runtime": 64})
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
from vecbench.spec import CollectionSpec
from vecbench.store import FootprintStats, StoreInfo
from vecbench.util.deps import import_optional
from vecbench.util.validation import is_number

from . import _redis_commands as cmds
from . import _redis_report as report
from ._base import BaseStore, check_int_param
from ._capabilities import (
    BatchSearchMixin,
    DeletableMixin,
    FilterableMixin,
    FootprintMixin,
    ShareableMixin,
)
from ._redis_commands import (
    VECTOR_FIELD,
    as_map,
    ft_create_args,
    knn_search_args,
    module_version,
    parse_search_ids,
)
from ._redis_commands import as_float as _float
from ._redis_commands import text as _text

__all__ = ["RedisStore", "ft_create_args", "knn_search_args", "parse_search_ids", "module_version"]

ENGINE = ENGINES["redis"]
ENV_VAR = ENGINE.env_var
DEFAULT_PIPELINE_BATCH = 1000
DEFAULT_SOCKET_TIMEOUT_S = 60.0
_POLL_START_S, _POLL_MAX_S = 0.01, 0.5


def _public_url(url: str) -> str:
    from vecbench.results import public_config

    return str(public_config({"url": url})["url"])


class RedisStore(
    BatchSearchMixin, DeletableMixin, FilterableMixin, FootprintMixin, ShareableMixin, BaseStore
):
    """Redis Stack / RediSearch over the network (redis-py, RESP3).

    Config: ``url`` (default ``$VECBENCH_REDIS_URL``; a password in it is redacted from
    messages and records), ``pipeline_batch`` (HSETs per pipelined round trip, default
    1000), ``key_prefix`` (default ``"<collection>:"``), ``socket_timeout_s`` (default 60).

    Index types (defaults in brackets): ``hnsw`` m [16], ef_construction [200],
    initial_cap [not sent], search ef_runtime [10]; ``flat`` initial_cap [not sent].
    Implements BatchSearch (pipelined FT.SEARCH), Deletable (DEL) and Footprint.
    """

    info: ClassVar[StoreInfo] = StoreInfo(
        name="redis",
        engine="redis-stack/RediSearch",
        extra="redis",
        client_modules=("redis",),
        index_types=cmds.INDEX_TYPES,
        embedded=False,
        server=ENGINE,
        description="Redis Stack server, RediSearch vector index (HNSW, FLAT) over hashes.",
        config_keys={
            "url": f"redis:// URL of a Redis Stack server (default ${ENV_VAR}); its password is secret",
            "pipeline_batch": f"HSET/DEL commands per pipelined round trip (default {DEFAULT_PIPELINE_BATCH})",
            "key_prefix": "prefix of the hash keys, key = prefix + id (default '<collection>:')",
            "socket_timeout_s": f"seconds before a command times out (default {DEFAULT_SOCKET_TIMEOUT_S:g})",
        },
    )

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        super().__init__(config)
        self._redis: Any = None
        self._module: Any = None
        self._versions: dict[str, Any] = {}
        self._drop_old = False
        self._clear_collection_state()

    def _clear_collection_state(self) -> None:
        self._index_name = ""
        self._prefix = ""
        self._count = 0
        self._owns_index = False

    # -- config and params -----------------------------------------------------------------

    def _check_config(self, config: dict[str, Any]) -> dict[str, Any]:
        url = config.get("url")
        if url is not None and (
            not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://"))
        ):
            raise ConfigError(
                f"redis url must be a redis://, rediss:// or unix:// URL, got {_public_url(str(url))!r}"
            )
        if "pipeline_batch" in config:
            check_int_param("pipeline_batch", config["pipeline_batch"], minimum=1)
        prefix = config.get("key_prefix")
        if prefix is not None and (
            not isinstance(prefix, str) or not prefix or any(c in prefix for c in " \r\n")
        ):
            raise ConfigError(f"redis key_prefix must be a non-empty string without spaces, got {prefix!r}")
        timeout = config.get("socket_timeout_s")
        if timeout is not None and (not is_number(timeout) or timeout <= 0):
            raise ConfigError(f"socket_timeout_s must be a positive number, got {timeout!r}")
        return config

    def _check_build_params(self, spec: CollectionSpec, params: dict[str, Any]) -> dict[str, Any]:
        cmds.check_attribute_names(spec.attributes)
        if spec.index_type == "hnsw":
            check_int_param("m", params["m"], minimum=1, maximum=4096)
            check_int_param("ef_construction", params["ef_construction"], minimum=1)
        if params.get("initial_cap") is not None:
            check_int_param("initial_cap", params["initial_cap"], minimum=0)
        return params

    def _check_search_params(self, params: dict[str, Any]) -> dict[str, Any]:
        if "ef_runtime" in params:
            check_int_param("ef_runtime", params["ef_runtime"], minimum=1)
        version = self._versions.get("search_module_version")
        return cmds.check_hybrid_params(params, tuple(map(int, version.split("."))) if version else None)

    @property
    def url(self) -> str:
        url = ENGINE.address(self._config)
        if not url:
            raise ConfigError(f"redis needs a server: set config 'url' or {ENV_VAR} ({ENGINE.start_hint})")
        return str(url)

    # -- lifecycle ---------------------------------------------------------------------------

    def _connect(self) -> None:
        redis = import_optional("redis", "redis")
        url = self.url
        timeout = float(self._config.get("socket_timeout_s", DEFAULT_SOCKET_TIMEOUT_S))
        where = _public_url(url)
        try:
            client = redis.Redis.from_url(
                url, protocol=3, socket_timeout=timeout, socket_connect_timeout=min(timeout, 10.0)
            )
        except ValueError as exc:
            raise ConfigError(f"redis: bad url {where!r}: {exc}") from exc
        try:
            client.ping()
            server = as_map(client.info("server"))
            modules = [as_map(m) for m in client.execute_command("MODULE", "LIST")]
        except redis.exceptions.AuthenticationError as exc:
            client.close()
            raise StoreError(f"redis at {where}: authentication failed ({exc})") from exc
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as exc:
            client.close()
            raise StoreError(
                f"redis at {where} is unreachable ({exc}); start one with {ENGINE.start_hint} "
                f"(or `{ENGINE.compose_command}`) and set {ENV_VAR}"
            ) from exc
        search = [m for m in modules if _text(m.get("name")) in ("search", "searchlight")]
        if not search:
            client.close()
            raise StoreError(
                f"redis at {where} has no RediSearch module (MODULE LIST: "
                f"{[_text(m.get('name')) for m in modules]}); use Redis Stack ({ENGINE.start_hint})"
            )
        self._versions = {
            "server_version": _text(server.get("redis_version")),
            "search_module_version": module_version(int(search[0]["ver"])),
            "modules": {str(_text(m.get("name"))): module_version(int(m.get("ver", 0))) for m in modules},
            "client_version": redis.__version__,
        }
        self._redis, self._module = client, redis

    def _disconnect(self) -> None:
        if self._redis is not None:
            self._redis.close()
        self._redis = self._module = None

    def _do_create(self) -> None:
        spec = self._require_collection()
        self._clear_collection_state()
        name = spec.name
        prefix = self._config.get("key_prefix") or f"{name}:"
        if self._index_exists(name):
            if not self._drop_old:
                raise CollectionExistsError(
                    f"redis index {name!r} already exists on {_public_url(self.url)}; pass drop_old=True to replace it"
                )
            self._cmd("FT.DROPINDEX", name, "DD")
        self._cmd(*ft_create_args(name, prefix, spec, self._build_params))
        self._index_name, self._prefix, self._owns_index = name, prefix, True
        # Hashes already under the prefix are indexed in the background: wait for that scan,
        # then refuse them (they are not ours) or, with drop_old, drop them with the index.
        info = self._wait_indexed(60.0, expected=None)
        stale = int(info.get("num_docs", 0))
        if stale:
            if not self._drop_old:
                self._cmd("FT.DROPINDEX", name)  # without DD: leave someone else's hashes alone
                self._owns_index = False
                raise CollectionExistsError(
                    f"redis: {stale} hash(es) already exist under key prefix {prefix!r}; "
                    "pass drop_old=True to delete them, or set another key_prefix"
                )
            self._cmd("FT.DROPINDEX", name, "DD")
            self._cmd(*ft_create_args(name, prefix, spec, self._build_params))

    def _do_drop(self) -> None:
        if self._owns_index and self._redis is not None:
            try:
                self._cmd("FT.DROPINDEX", self._index_name, "DD")
            except StoreError:
                if self._index_exists(self._index_name):
                    raise
        self._clear_collection_state()

    def _index_exists(self, name: str) -> bool:
        return name in {_text(n) for n in self._cmd("FT._LIST")}

    # -- sharing -------------------------------------------------------------------------------

    def _do_share(self) -> dict[str, Any]:
        # EF_RUNTIME goes with every FT.SEARCH (from the search params): nothing per connection.
        return {"index_name": self._index_name, "key_prefix": self._prefix, "count": self._count}

    def _do_attach(self, state: Mapping[str, Any]) -> None:
        index, prefix = state.get("index_name"), state.get("key_prefix")
        if not isinstance(index, str) or not isinstance(prefix, str) or not index or not prefix:
            raise ConfigError("redis: the handle names no index and key prefix; pass what share() returned")
        if not self._index_exists(index):
            raise StoreError(f"redis index {index!r} does not exist on {_public_url(self.url)}")
        self._clear_collection_state()
        # _owns_index stays False: drop() and describe() leave the owner's index alone.
        self._index_name, self._prefix = index, prefix
        self._count = int(state.get("count") or 0)

    def _do_detach(self) -> None:
        self._clear_collection_state()

    # -- writes ------------------------------------------------------------------------------

    def _do_upsert(
        self,
        ids: NDArray[np.int64],
        vectors: NDArray[np.float32],
        attributes: Mapping[str, Any] | None = None,
    ) -> None:
        batch = int(self._config.get("pipeline_batch", DEFAULT_PIPELINE_BATCH))
        prefix, client = self._prefix, self._client
        if attributes:
            cmds.check_attribute_values(attributes, self._require_collection().attributes)
        id_list = ids.tolist()
        created = 0
        try:
            for start in range(0, len(id_list), batch):
                pipe = client.pipeline(transaction=False)
                for i in range(start, min(start + batch, len(id_list))):
                    if attributes:  # the vector and the attributes in one hash
                        fields = {VECTOR_FIELD: vectors[i].tobytes(), **cmds.hash_fields(attributes, i)}
                        pipe.hset(f"{prefix}{id_list[i]}", mapping=fields)
                        continue
                    pipe.hset(f"{prefix}{id_list[i]}", VECTOR_FIELD, vectors[i].tobytes())
                # HSET returns the fields it added: all of them for a new key, 0 for a replaced one
                created += sum(1 for added in pipe.execute() if added)
        except self._module.exceptions.RedisError as exc:
            raise self._store_error("HSET pipeline", exc) from exc
        finally:
            self._count += created

    def _do_delete(self, ids: NDArray[np.int64]) -> None:
        batch = int(self._config.get("pipeline_batch", DEFAULT_PIPELINE_BATCH))
        keys = [f"{self._prefix}{i}" for i in ids.tolist()]
        for start in range(0, len(keys), batch):
            self._count -= int(self._cmd("DEL", *keys[start : start + batch]))

    def _do_wait_ready(self, timeout_s: float) -> None:
        self._wait_indexed(timeout_s, expected=self._count)

    def _wait_indexed(self, timeout_s: float, expected: int | None) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        pause = _POLL_START_S
        while True:
            info = self._ft_info()
            failures = int(info.get("hash_indexing_failures", 0))
            if failures:
                errors = as_map(info.get("Index Errors", {}))
                raise StoreError(
                    f"redis index {self._index_name!r}: {failures} hash(es) failed to index "
                    f"(last error: {_text(errors.get('last indexing error'))!r} "
                    f"on key {_text(errors.get('last indexing error key'))!r})"
                )
            num_docs = int(info.get("num_docs", 0))
            done = int(info.get("indexing", 0)) == 0 and _float(info.get("percent_indexed", 1)) >= 1.0
            if done and (expected is None or num_docs == expected):
                return info
            left = deadline - time.monotonic()
            if left <= 0:
                raise NotReadyError(
                    f"redis index {self._index_name!r} not ready after {timeout_s:g}s: num_docs={num_docs} "
                    f"(expected {expected}), percent_indexed={_float(info.get('percent_indexed'))}, "
                    f"indexing={_text(info.get('indexing'))}"
                )
            time.sleep(min(pause, left))
            pause = min(pause * 2, _POLL_MAX_S)

    # -- search ------------------------------------------------------------------------------

    def _do_search(self, queries: NDArray[np.float32], k: int) -> NDArray[np.int64]:
        return self._search(queries, k, "*")

    def _do_search_filtered(self, queries: NDArray[np.float32], k: int, flt: Any) -> NDArray[np.int64]:
        prefilter = cmds.filter_query(flt, self._require_collection().attributes)
        if prefilter is None:  # no value a NUMERIC field can hold passes
            return np.full((queries.shape[0], k), -1, dtype=np.int64)
        return self._search(queries, k, prefilter)

    def _search(self, queries: NDArray[np.float32], k: int, prefilter: str) -> NDArray[np.int64]:
        nq = queries.shape[0]
        ef = self._search_params.get("ef_runtime")
        ef = int(ef) if ef is not None else None
        name, prefix, hybrid = self._index_name, self._prefix, self._search_params
        out = np.full((nq, k), -1, dtype=np.int64)
        try:
            if nq == 1:
                args = knn_search_args(name, queries[0].tobytes(), k, ef, prefilter, hybrid)
                replies = [self._redis.execute_command(*args)]
            else:
                pipe = self._client.pipeline(transaction=False)
                for q in queries:
                    pipe.execute_command(*knn_search_args(name, q.tobytes(), k, ef, prefilter, hybrid))
                replies = pipe.execute()
        except self._module.exceptions.RedisError as exc:
            raise self._store_error("FT.SEARCH", exc) from exc
        for row, reply in enumerate(replies):
            found = parse_search_ids(reply, prefix)
            out[row, : len(found)] = found
        return out

    # -- reporting ---------------------------------------------------------------------------

    def _do_footprint(self) -> FootprintStats:
        return report.footprint(self._cmd, self._ft_info(), self._index_name, self._prefix)

    def _do_describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            **self._versions,
            "engine_version": self._versions.get("search_module_version"),
            "metric_mapping": cmds.METRIC_MAPPING[self._require_collection().metric],
            "index_name": self._index_name,
            "key_prefix": self._prefix,
            "vector_field": VECTOR_FIELD,
            "data_type": "FLOAT32",
            "protocol": "RESP3",
            "search_params_in_effect": (
                {"EF_RUNTIME": int(self._search_params["ef_runtime"])}
                if "ef_runtime" in self._search_params
                else {}
            ),
            "build_time_counted_in": "upsert (RediSearch indexes each hash as it is written)",
            "vectors_written": self._count,
        }
        spec = self._require_collection()
        if spec.attributes:
            out["filter"] = report.filter_section(spec.attributes, self._search_params)
        if self._owns_index:
            out.update(report.index_state(self._ft_info()))
        return out

    # -- small helpers -------------------------------------------------------------------------

    @property
    def _client(self) -> Any:
        if self._redis is None:
            raise StoreError("redis store is not connected; use it as a context manager (with ...)")
        return self._redis

    def _cmd(self, *args: Any) -> Any:
        try:
            return self._client.execute_command(*args)
        except self._module.exceptions.RedisError as exc:
            raise self._store_error(str(args[0]), exc) from exc

    def _ft_info(self) -> dict[str, Any]:
        return as_map(self._cmd("FT.INFO", self._index_name))

    def _store_error(self, what: str, exc: Exception) -> StoreError:
        if isinstance(exc, (self._module.exceptions.ConnectionError, self._module.exceptions.TimeoutError)):
            return StoreError(
                f"redis at {_public_url(self.url)}: {what} failed, connection lost or timed out: {exc}"
            )
        return StoreError(f"redis: {what} failed: {exc}")
