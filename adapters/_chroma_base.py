"""What the Chroma server and embedded stores share (``chroma.py`` has both, and the story).

``ChromaBase`` holds the client calls of both modes: collection create and drop, upsert and
delete in ``get_max_batch_size`` batches, the count check in ``wait_ready``, ``ef_search``
applied by ``modify`` then reload or rebuild, search, share and attach, describe. The
subclasses open the client (``_open_client``) and say how a new ef reaches a loaded index
(``_reload_ef``).
"""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vecbench.errors import CapabilityError, CollectionExistsError, ConfigError, NotReadyError, StoreError
from vecbench.metrics import Metric
from vecbench.spec import CollectionSpec, IndexType
from vecbench.util.deps import import_optional

from ._base import BaseStore, IdIndex, check_int_param
from ._capabilities import BatchSearchMixin, DeletableMixin, FilterableMixin
from ._chroma_filter import chroma_metadatas, chroma_where

READY_POLL_S = 0.05
READY_POLL_MAX_S = 0.5

INDEX_TYPES = {
    "hnsw": IndexType(
        "hnsw",
        build={"ef_construction": 100, "max_neighbors": 16},
        search={"ef_search": 100},
        description="Chroma's HNSW (hnswlib fork); max_neighbors is M",
    )
}

_SPACE = {Metric.EUCLIDEAN: "l2", Metric.COSINE: "cosine", Metric.IP: "ip"}
_METRIC_MAPPING = {
    Metric.EUCLIDEAN: "euclidean -> space 'l2' (squared L2, same order)",
    Metric.COSINE: "cosine -> space 'cosine' (1 - cos)",
    Metric.IP: "ip -> space 'ip' (1 - <q, x>)",
}
# Chroma's own collection-name rule (stricter than vecbench's identifiers at the ends).
_CHROMA_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,510}[A-Za-z0-9]$")
_REBUILD_SUFFIX = "-vecbench-rebuild"  # '-' never occurs in a vecbench identifier


def ids_to_chroma(ids: NDArray[np.int64]) -> list[str]:
    """int64 ids as Chroma's string ids (decimal, exact)."""
    return [str(i) for i in ids.tolist()]


def ids_from_chroma(ids: Sequence[str]) -> NDArray[np.int64]:
    """Chroma's string ids back to int64 (parsed as Python ints, exact to 2**63 - 1)."""
    return np.fromiter((int(s) for s in ids), dtype=np.int64, count=len(ids))


class ChromaBase(BatchSearchMixin, DeletableMixin, FilterableMixin, BaseStore):
    """What both Chroma stores share; subclasses open the client and say how ef is applied."""

    _mode: ClassVar[str]
    _ef_apply_text: ClassVar[str]

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        super().__init__(config)
        self._chromadb: Any = None
        self._client: Any = None
        self._coll: Any = None
        self._live = IdIndex()
        self._written = False
        self._ef_loaded: int | None = None
        self._rebuilds = 0
        self._max_batch = 0
        self._payloads: Sequence[Mapping[str, Any] | None] | None = None
        self._drop_old = False

    # -- hooks for the two modes --------------------------------------------------------

    def _open_client(self) -> Any:
        raise NotImplementedError

    def _reload_ef(self) -> bool:
        """Make the loaded index use the stored ef_search; False when it cannot (rebuild)."""
        return False

    def _settings(self) -> Any:
        return self._chromadb.config.Settings(anonymized_telemetry=False)

    # -- lifecycle ----------------------------------------------------------------------

    def _connect(self) -> None:
        self._chromadb = import_optional("chromadb", "chroma")
        import_optional("chromadb.config", "chroma")
        self._client = self._open_client()
        try:
            self._max_batch = int(self._client.get_max_batch_size())
        except Exception as exc:
            self._close_client()
            raise StoreError(f"chroma ({self._where}): get_max_batch_size failed: {exc}") from exc

    def _disconnect(self) -> None:
        self._close_client()
        self._chromadb = None

    def _close_client(self) -> None:
        client, self._client = self._client, None
        if client is not None and hasattr(client, "close"):
            try:
                client.close()
            except Exception:  # closing is best effort: nothing left to save
                pass

    @property
    def _where(self) -> str:
        return self._mode

    # -- create / drop ------------------------------------------------------------------

    def _check_build_params(self, spec: CollectionSpec, params: dict[str, Any]) -> dict[str, Any]:
        if not _CHROMA_NAME.match(spec.name):
            raise ConfigError(
                f"collection name {spec.name!r} is not valid in Chroma: it needs 3-512 characters, "
                "starting and ending with a letter or digit"
            )
        check_int_param("ef_construction", params["ef_construction"], minimum=1)
        check_int_param("max_neighbors", params["max_neighbors"], minimum=2)
        return params

    def _check_search_params(self, params: dict[str, Any]) -> dict[str, Any]:
        check_int_param("ef_search", params["ef_search"], minimum=1)
        return params

    def _hnsw_config(self, ef_search: int) -> dict[str, Any]:
        spec = self._require_collection()
        return {
            "space": _SPACE[spec.metric],
            "ef_construction": int(self._build_params["ef_construction"]),
            "max_neighbors": int(self._build_params["max_neighbors"]),
            "ef_search": int(ef_search),
        }

    def _do_create(self) -> None:
        name = self._require_collection().name
        if self._exists(name):
            if not self._drop_old:
                raise CollectionExistsError(
                    f"collection {name!r} already exists in chroma ({self._where}); "
                    "pass drop_old=True to replace it"
                )
            self._client.delete_collection(name)
        ef = int(self._search_params["ef_search"])
        try:
            self._coll = self._client.create_collection(
                name, configuration={"hnsw": self._hnsw_config(ef)}, embedding_function=None
            )
        except Exception as exc:
            if "already exists" in str(exc):
                raise CollectionExistsError(
                    f"collection {name!r} already exists in chroma ({self._where})"
                ) from exc
            raise StoreError(f"chroma ({self._where}) could not create {name!r}: {exc}") from exc
        self._live = IdIndex()
        self._written = False
        self._ef_loaded = ef
        self._rebuilds = 0

    def _exists(self, name: str) -> bool:
        try:
            self._client.get_collection(name)
        except Exception as exc:
            if type(exc).__name__ == "NotFoundError" or "does not exist" in str(exc):
                return False
            raise StoreError(f"chroma ({self._where}): could not look up {name!r}: {exc}") from exc
        return True

    def _do_drop(self) -> None:
        name = self._require_collection().name
        self._coll = None
        self._live = IdIndex()
        try:
            self._client.delete_collection(name)
        except Exception as exc:
            if type(exc).__name__ != "NotFoundError" and "does not exist" not in str(exc):
                raise StoreError(f"chroma ({self._where}) could not delete {name!r}: {exc}") from exc

    # -- writes -------------------------------------------------------------------------

    def upsert(
        self,
        ids: ArrayLike,
        vectors: ArrayLike,
        payloads: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        """Insert vectors (an id already present is replaced); payloads, with the values of the
        declared attributes, become Chroma metadata."""
        # BaseStore validates and calls _do_upsert without payloads: hand them over here.
        self._payloads = payloads
        try:
            super().upsert(ids, vectors, payloads)
        finally:
            self._payloads = None

    def _do_upsert(
        self, ids: NDArray[np.int64], vectors: NDArray[np.float32], attributes: Any = None
    ) -> None:
        str_ids = ids_to_chroma(ids)
        metas = chroma_metadatas(self._payloads, attributes, len(str_ids))
        step = self._max_batch
        for start in range(0, len(str_ids), step):
            stop = start + step
            self._coll.upsert(
                ids=str_ids[start:stop],
                embeddings=vectors[start:stop],
                metadatas=metas[start:stop] if metas is not None else None,
            )
        self._written = True
        self._live.assign(ids, np.zeros(ids.shape[0], dtype=np.int64))

    def _do_delete(self, ids: NDArray[np.int64]) -> None:
        present = ids[self._live.lookup(ids) >= 0]
        if not present.size:
            return
        str_ids = ids_to_chroma(present)
        for start in range(0, len(str_ids), self._max_batch):
            self._coll.delete(ids=str_ids[start : start + self._max_batch])
        self._live.remove(present)

    def _do_wait_ready(self, timeout_s: float) -> None:
        # Chroma 1.x applies writes to its index before the write call returns (embedded and
        # single-node server alike); this checks that the engine counts every live vector,
        # polling in case a server applies them later.
        if self._attached:
            return  # the owner counted and waited for its writes before share()
        expected = len(self._live)
        deadline = time.monotonic() + timeout_s
        interval = READY_POLL_S
        got = int(self._coll.count())
        while got != expected:
            left = deadline - time.monotonic()
            if left <= 0:
                raise NotReadyError(
                    f"chroma ({self._where}) counts {got} vectors after {timeout_s:g} s, expected {expected}"
                )
            time.sleep(min(interval, left))
            interval = min(2 * interval, READY_POLL_MAX_S)
            got = int(self._coll.count())

    # -- search -------------------------------------------------------------------------

    def _apply_search_params(self) -> None:
        ef = int(self._search_params["ef_search"])
        if self._coll is None or ef == self._ef_loaded:
            return
        if self._attached:
            # A new ef reaches the loaded index only by a rebuild of the owner's collection.
            self._search_params["ef_search"] = self._ef_loaded
            raise CapabilityError(
                f"{self.info.name}: an attached store searches with the owner's ef_search "
                f"{self._ef_loaded}; set ef_search={ef} on the owner before share()"
            )
        with warnings.catch_warnings():
            # chromadb warns that embedding_function=None is a "legacy" config: it is ours.
            warnings.filterwarnings("ignore", "legacy embedding function config", DeprecationWarning)
            self._coll.modify(configuration={"hnsw": {"ef_search": ef}})
        if not self._written or self._reload_ef():
            self._ef_loaded = ef
            return
        self._rebuild(ef)

    def _rebuild(self, ef: int) -> None:
        """Copy the collection into a fresh one built with ``ef`` and take its name."""
        name = self._require_collection().name
        tmp = name + _REBUILD_SUFFIX
        if self._exists(tmp):
            self._client.delete_collection(tmp)
        new = self._client.create_collection(
            tmp, configuration={"hnsw": self._hnsw_config(ef)}, embedding_function=None
        )
        old, total = self._coll, int(self._coll.count())
        for offset in range(0, total, self._max_batch):
            page = old.get(include=["embeddings", "metadatas"], limit=self._max_batch, offset=offset)
            metas = page.get("metadatas")
            new.add(
                ids=page["ids"],
                embeddings=np.asarray(page["embeddings"], dtype=np.float32),
                metadatas=metas if metas is not None and any(m for m in metas) else None,
            )
        if int(new.count()) != total:
            raise StoreError(f"chroma ({self._where}): rebuild copied {int(new.count())} of {total} vectors")
        self._client.delete_collection(name)
        new.modify(name=name)
        self._coll = self._client.get_collection(name)
        self._ef_loaded = ef
        self._rebuilds += 1

    def _do_search(self, queries: NDArray[np.float32], k: int) -> NDArray[np.int64]:
        return self._query(queries, k, None)

    def _do_search_filtered(self, queries: NDArray[np.float32], k: int, flt: Any) -> NDArray[np.int64]:
        # Chroma evaluates ``where`` on its metadata store, then searches HNSW with the passing
        # ids as an allow list (hnswlib's filter); fewer than n_results come back when fewer pass.
        # The list is rebuilt per request (id -> offset one by one), so a wide filter costs more
        # than a narrow one; a batch request pays it once for all its queries.
        return self._query(queries, k, chroma_where(flt))

    def _query(self, queries: NDArray[np.float32], k: int, where: dict[str, Any] | None) -> NDArray[np.int64]:
        nq = queries.shape[0]
        # An attached store does not count the owner's writes: the server caps n_results itself.
        live = k if self._attached else len(self._live)
        out = np.full((nq, k), -1, dtype=np.int64)
        if live == 0:
            return out
        n = k if k <= live else live  # Chroma refuses n_results above its count
        extra = {} if where is None else {"where": where}
        res = self._coll.query(query_embeddings=queries, n_results=n, include=[], **extra)
        for row, found in enumerate(res["ids"]):
            out[row, : len(found)] = ids_from_chroma(found)
        return out

    # -- reporting ----------------------------------------------------------------------

    def _do_describe(self) -> dict[str, Any]:
        spec = self._require_collection()
        try:
            # configuration_json: the raw stored form (``.configuration`` warns about the
            # "legacy" embedding function None stands for).
            stored = self._client.get_collection(spec.name).configuration_json
            hnsw = dict(stored.get("hnsw") or {})
        except Exception as exc:  # describe should not fail a finished run
            hnsw = {"error": str(exc)}
        return {
            "client_version": self._chromadb.__version__,
            "mode": self._mode,
            "space": _SPACE[spec.metric],
            "metric_mapping": _METRIC_MAPPING[spec.metric],
            "hnsw_configuration": hnsw,
            "ef_search_in_effect": self._ef_loaded,
            "ef_search_apply": self._ef_apply_text,
            "ef_search_rebuilds": self._rebuilds,
            "count": int(self._coll.count()),
            "max_batch_size": self._max_batch,
            "id_mapping": "int64 <-> decimal string",
            "build_time_counted_in": "upsert (Chroma indexes while writing)",
            "filtering": "native: declared attributes as metadata, filters as a where document "
            "($eq, $in, $gte/$gt/$lte/$lt, $and)",
        }
