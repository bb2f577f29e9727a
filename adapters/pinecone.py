"""Pinecone through its official SDK (``pinecone``): a serverless or pod index per collection.

Pinecone cannot run on this project's machines: it is a cloud service, and its emulator,
Pinecone Local, ships only as a Docker image (no binary outside Docker, none on PyPI). The
requests this store builds are unit-tested without any Pinecone; the conformance suite and
tests/integration/test_pinecone_server.py run against one when ``VECBENCH_PINECONE_HOST`` is
set: ``http://127.0.0.1:5080`` for Pinecone Local (``docker compose --profile pinecone``),
or ``cloud`` for Pinecone's own control plane.

- The API key comes from ``$VECBENCH_PINECONE_API_KEY`` (else ``$PINECONE_API_KEY``) only:
  never from a config, never written to a record, a repr or an error message.
- A collection is an index named after it (lower case, ``_`` as ``-``); vectors go to the
  namespace of config ``namespace`` [``vecbench``], in batches of 200; ids are decimal strings.
- Metrics: euclidean -> ``euclidean``, cosine -> ``cosine``, ip -> ``dotproduct``.
- Pinecone builds and tunes its index itself: the index types are where it runs
  (``serverless``: cloud, region; ``pod``: environment, pod_type, pods, replicas), with no
  build or search knob. Writes are eventually consistent: ``wait_ready`` polls
  ``describe_index_stats`` until the namespace holds the vectors written.
- Filtered search (``Filterable``): the declared attributes are each record's metadata, sent
  with its vector (an upsert replaces it); a filter becomes Pinecone's metadata filter
  (``$eq``, ``$in``, ``$gte``/``$lte`` on integer bounds, ``$and``) on the query
  (``_pinecone_requests.metadata_filter``). Pinecone indexes the metadata it is sent (only
  the declared attributes are) and filters inside the search, with no knob. Integers beyond
  +-2**53 are refused (Pinecone keeps numbers as float64).
  Like vectors, metadata is eventually consistent: ``wait_ready`` waits for the count of
  records, not for a changed label to show.
- Footprint: Pinecone reports counts, not bytes; ``footprint()`` gives the storage Pinecone
  bills for them (4 bytes per dimension plus the id, per vector), and says so.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from vecbench.engines import ENGINES
from vecbench.errors import CollectionExistsError, ConfigError, NotReadyError, StoreError
from vecbench.spec import CollectionSpec
from vecbench.store import FootprintStats, StoreInfo
from vecbench.util.deps import import_optional
from vecbench.util.validation import is_number

from . import _pinecone_requests as pr
from ._base import BaseStore, IdIndex
from ._capabilities import DeletableMixin, FilterableMixin, FootprintMixin, ShareableMixin

__all__ = ["PineconeStore"]

ENGINE = ENGINES["pinecone"]
POLL_S = 0.5
READY_TIMEOUT_S = 300


def client_version() -> str | None:
    try:
        return version("pinecone")
    except PackageNotFoundError:
        return None


class PineconeStore(DeletableMixin, FilterableMixin, FootprintMixin, ShareableMixin, BaseStore):
    """Pinecone. Config: ``host`` (default ``$VECBENCH_PINECONE_HOST``: Pinecone Local's URL, or
    ``cloud``), ``namespace`` [vecbench], ``timeout_s`` [60]; the API key from the environment."""

    info: ClassVar[StoreInfo] = StoreInfo(
        max_k=10_000,  # Pinecone's limit on top_k
        name="pinecone",
        engine="pinecone",
        extra="pinecone",
        client_modules=("pinecone",),
        index_types=pr.INDEX_TYPES,
        embedded=False,
        server=ENGINE,
        description=(
            "Pinecone (cloud, or Pinecone Local in docker compose) via the pinecone SDK: serverless, pod; "
            "metadata filters."
        ),
        config_keys={
            "host": f"control plane: Pinecone Local's URL ({ENGINE.compose_url}) or 'cloud' (default ${ENGINE.env_var})",
            "namespace": "namespace the vectors go to (default 'vecbench')",
            "timeout_s": "timeout of each call in seconds (default 60)",
        },
        unsupported={"BatchSearch": "Pinecone answers one query vector per request (no multi-query call)"},
    )

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self._pc: Any = None
        self._index: Any = None
        self._host = ""
        self._live = IdIndex()
        self._wait: dict[str, Any] = {}

    def _check_config(self, config: dict[str, Any]) -> dict[str, Any]:
        host = ENGINE.address(config)
        if not isinstance(host, str) or not host.strip():
            raise ConfigError(
                f"pinecone store needs config 'host' or ${ENGINE.env_var}: Pinecone Local's URL "
                f"({ENGINE.compose_url}, docker compose --profile pinecone) or '{pr.CLOUD}'"
            )
        if host != pr.CLOUD and not host.startswith(("http://", "https://")):
            raise ConfigError(f"pinecone host must be an http(s):// URL or '{pr.CLOUD}', got {host!r}")
        config["host"] = host
        ns = config.get("namespace", "vecbench")
        if not isinstance(ns, str):
            raise ConfigError(f"pinecone namespace must be a string, got {ns!r}")
        t = config.get("timeout_s")
        if t is not None and (not is_number(t) or t <= 0):
            raise ConfigError(f"pinecone timeout_s must be a positive number, got {t!r}")
        return config

    def _check_build_params(self, spec: CollectionSpec, params: dict[str, Any]) -> dict[str, Any]:
        pr.check_dim(spec.dim)
        pr.index_name(spec.name)
        pr.check_build_params(spec.index_type, params)
        return params

    @property
    def _ns(self) -> str:
        return str(self._config.get("namespace", "vecbench"))

    @property
    def _name(self) -> str:
        return pr.index_name(self._require_collection().name)

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (StoreError, ConfigError):
            raise
        except Exception as exc:
            message = pr.redact_key(f"{type(exc).__name__}: {exc}", pr.api_key())
            raise StoreError(f"Pinecone ({self._config['host']}) failed to {what}: {message}") from None

    # -- lifecycle -------------------------------------------------------------------

    def _connect(self) -> None:
        key = pr.api_key()
        if not key:
            raise ConfigError(
                f"pinecone needs an API key in ${pr.API_KEY_VARS[0]} (or ${pr.API_KEY_VARS[1]}); "
                "Pinecone Local accepts any value"
            )
        sdk = import_optional("pinecone", "pinecone")
        host = self._config["host"]
        kwargs: dict[str, Any] = {"timeout": float(self._config.get("timeout_s") or 60)}
        if host != pr.CLOUD:
            kwargs["host"] = host
        self._pc = self._call("connect", sdk.Pinecone, api_key=key, **kwargs)
        self._call("list indexes", self._pc.list_indexes)  # fails here, not mid-run, when unreachable

    def _disconnect(self) -> None:
        pc, self._pc, self._index = self._pc, None, None
        if pc is not None and hasattr(pc, "close"):
            try:
                pc.close()
            except Exception:
                pass

    def _open_index(self) -> None:
        described = self._call("describe the index", self._pc.describe_index, self._name)
        self._host = pr.index_host(str(described.host), str(self._config["host"]))
        self._index = self._call("open the index", self._pc.Index, host=self._host)

    def _do_create(self) -> None:
        spec = self._require_collection()
        name = self._name
        if self._call("look up the index", self._pc.has_index, name):
            if not self._drop_old:
                raise CollectionExistsError(
                    f"Pinecone index {name!r} already exists; pass drop_old=True to replace it"
                )
            self._call("delete the old index", self._pc.delete_index, name)
        request = pr.create_request(name, spec.dim, spec.metric, spec.index_type, self._build_params)
        self._call("create the index", self._pc.create_index, **request)
        self._open_index()
        self._live, self._wait = IdIndex(), {}

    def _do_drop(self) -> None:
        if self._pc is not None and self._spec is not None:
            self._call("delete the index", self._pc.delete_index, self._name)
        self._index = None

    # -- writes, build ---------------------------------------------------------------

    def _do_upsert(
        self, ids: NDArray[np.int64], vectors: NDArray[np.float32], attributes: Any = None
    ) -> None:
        if attributes:
            pr.check_metadata(attributes, self._require_collection().attributes)
        for records in pr.upsert_batches(ids, vectors, attributes):
            self._call(
                "upsert vectors", self._index.upsert, vectors=records, namespace=self._ns, show_progress=False
            )
        self._live.assign(ids, ids)

    def _do_delete(self, ids: NDArray[np.int64]) -> None:
        for chunk in pr.delete_batches(ids):
            self._call("delete vectors", self._index.delete, ids=chunk, namespace=self._ns)
        self._live.remove(ids)

    def _do_wait_ready(self, timeout_s: float) -> None:
        t0 = time.perf_counter()
        want, polls = len(self._live), 0
        while True:
            stats = self._call("read index stats", self._index.describe_index_stats)
            polls += 1
            got = pr.namespace_count(stats, self._ns)
            if got == want:
                self._wait = {"wait_s": time.perf_counter() - t0, "polls": polls, "vector_count": got}
                return
            if time.perf_counter() - t0 >= timeout_s:
                raise NotReadyError(
                    f"Pinecone index {self._name!r} holds {got} of {want} vectors after {timeout_s:g} s"
                )
            time.sleep(POLL_S)

    # -- search ----------------------------------------------------------------------

    def _do_search(self, queries: NDArray[np.float32], k: int) -> NDArray[np.int64]:
        return self._query(queries, k, None)

    def _do_search_filtered(self, queries: NDArray[np.float32], k: int, flt: Any) -> NDArray[np.int64]:
        metadata = pr.metadata_filter(flt)
        if metadata is None:  # no stored value can pass: nothing to ask
            pr.check_top_k(k)
            return np.full((queries.shape[0], k), -1, dtype=np.int64)
        return self._query(queries, k, metadata)

    def _query(self, queries: NDArray[np.float32], k: int, metadata: Any) -> NDArray[np.int64]:
        pr.check_top_k(k)
        out = np.full((queries.shape[0], k), -1, dtype=np.int64)
        for row, q in enumerate(queries):
            res = self._call("query", self._index.query, **pr.query_request(q, k, self._ns, metadata))
            pr.ids_from_matches(res["matches"] if isinstance(res, Mapping) else res.matches, out[row])
        return out

    # -- sharing, footprint, describe ------------------------------------------------

    def _do_share(self) -> dict[str, Any]:
        return {"index": self._name, "namespace": self._ns}

    def _do_attach(self, state: Mapping[str, Any]) -> None:
        if not self._call("look up the index", self._pc.has_index, self._name):
            raise StoreError(f"Pinecone has no index {self._name!r} to attach to")
        self._open_index()

    def _do_detach(self) -> None:
        self._index = None

    def _do_footprint(self) -> FootprintStats:
        stats = self._call("read index stats", self._index.describe_index_stats)
        count = pr.namespace_count(stats, self._ns)
        id_bytes = (
            float(np.mean([len(str(i)) for i in self._live._keys[:1000].tolist()]))
            if len(self._live)
            else 0.0
        )
        disk = pr.storage_estimate(count, self._require_collection().dim, id_bytes)
        method = (
            f"estimate: describe_index_stats vector_count {count} x (4 x dimension + {id_bytes:.1f} id bytes), "
            "the record size Pinecone bills storage by; Pinecone reports no byte figures"
        )
        return FootprintStats(None, disk or None, method)

    def _do_describe(self) -> dict[str, Any]:
        spec = self._require_collection()
        out: dict[str, Any] = {
            "client_version": client_version(),
            "engine_version": f"pinecone ({'cloud' if self._config['host'] == pr.CLOUD else 'Pinecone Local'})",
            "index_name": self._name,
            "index_host": self._host,
            "namespace": self._ns,
            "metric_mapping": pr.METRIC_MAPPING[spec.metric],
            "id_mapping": "int64 <-> decimal string",
        }
        try:
            described = self._pc.describe_index(self._name)
            out["index_spec"] = pr.redact_key(str(getattr(described, "spec", None)), pr.api_key())
            out["index_status"] = str(getattr(described, "status", None))
        except Exception as exc:  # describe is provenance: say what failed, don't raise
            out["index_info_error"] = pr.redact_key(f"{type(exc).__name__}: {exc}", pr.api_key())
        if self._wait:
            out["wait_ready"] = dict(self._wait)
        return out
