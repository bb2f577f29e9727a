"""Chroma 1.x: a server through ``chromadb.HttpClient`` ("chroma") or embedded on disk
through ``chromadb.PersistentClient`` ("chroma-embedded"). One index type, ``hnsw``.

``chromadb`` is imported in ``__enter__``, never at module import. Telemetry is off.

Metrics map to Chroma's HNSW ``space``; Chroma ranks by its own distance and we return
ids only, so an order-preserving distance is all that matters:

- euclidean -> ``l2``: Chroma's l2 is the *squared* L2 distance (same order);
- cosine -> ``cosine``: ``1 - cos`` (Chroma normalizes internally);
- ip -> ``ip``: ``1 - <q, x>``.

Build parameters (``configuration={"hnsw": ...}`` at creation, immutable afterwards):
``ef_construction`` (default 100) and ``max_neighbors`` (HNSW's M, default 16), Chroma's
own defaults. Search parameter: ``ef_search`` (default 100).

How ``ef_search`` is applied, and why it is not just ``collection.modify``: Chroma builds
its HNSW index lazily on the first write, with the ``ef_search`` in the collection
configuration at that moment, and keeps the loaded index in memory. A later
``collection.modify(configuration={"hnsw": {"ef_search": ...}})`` updates the stored
configuration but not the loaded index: searches keep the old ef (measured with chromadb
1.5.9: recall unchanged at ef 1, 10, 200 and 500, embedded and server alike). So:

- no vector written yet: ``modify`` (the index will be built with it);
- embedded: ``modify``, then close and reopen the ``PersistentClient`` so the index is
  reloaded from disk with the new ef;
- server: the server process keeps the index, so the collection is rebuilt: a fresh
  collection with the new ef is filled with a copy of the vectors (and metadata) and
  renamed in place. That costs a full re-insert; ``describe()["ef_search_rebuilds"]``
  counts them. Choose ``ef_search`` at create time (``set_search_params`` before the first
  upsert) to avoid it.

Ids are int64 in vecbench and strings in Chroma: decimal text both ways, through Python
ints (never floats). Payloads are stored as Chroma metadata.

    with ChromaStore({"url": "http://127.0.0.1:8000"}) as store:
        store.create(CollectionSpec("demo", dim=128, metric="cosine", index_type="hnsw",
                                    index_params={"max_neighbors": 32}))
        store.set_search_params({"ef_search": 200})   # before upserting: no rebuild
        store.upsert(ids, vectors)
        store.wait_ready()
        store.search(query, k=10)
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

from vecbench.engines import ENGINES
from vecbench.errors import ConfigError, StoreError
from vecbench.store import FootprintStats, StoreInfo
from vecbench.util.deps import import_optional

from ._base import IdIndex
from ._capabilities import FootprintMixin, ShareableMixin
from ._chroma_base import INDEX_TYPES, ChromaBase, ids_from_chroma, ids_to_chroma
from ._chroma_base import READY_POLL_MAX_S as READY_POLL_MAX_S
from ._chroma_base import READY_POLL_S as READY_POLL_S

__all__ = ["ChromaStore", "ChromaEmbeddedStore", "ids_to_chroma", "ids_from_chroma"]

ENGINE = ENGINES["chroma"]


def _served_path(command: Sequence[str]) -> Path | None:
    """The ``--path`` a ``chroma run`` command line serves, if it names one."""
    for flag, value in zip(command, command[1:], strict=False):
        if flag == "--path":
            return Path(value)
    return None


def _vector_segment_dirs(data: Path, collection_id: str) -> tuple[list[Path], str | None]:
    """Directories of the collection's VECTOR segments under a Chroma data path (read-only)."""
    import sqlite3  # noqa: PLC0415 (footprint of a local server only)

    db = data / "chroma.sqlite3"
    if not db.exists():
        return [], f"no {db}"
    try:
        with sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True, timeout=10.0) as conn:
            rows = conn.execute(
                "SELECT id FROM segments WHERE collection = ? AND scope = 'VECTOR'", (collection_id,)
            ).fetchall()
    except sqlite3.Error as exc:
        return [], f"cannot read {db}: {exc}"
    return [data / str(r[0]) for r in rows if (data / str(r[0])).is_dir()], None


def _dir_apparent_bytes(path: Path) -> int:
    """Sum of the sizes of the files under ``path``."""
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                continue  # removed while walking
    return total


def _dir_bytes(path: Path) -> int:
    """Bytes allocated on disk under ``path`` (``du``: st_blocks, or the size where unknown)."""
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                st = os.lstat(os.path.join(root, f))
            except OSError:
                continue  # removed while walking
            blocks = getattr(st, "st_blocks", None)
            total += blocks * 512 if blocks is not None else st.st_size
    return total


def _close_http_client(client: Any) -> None:
    """Close an ``HttpClient`` and, once no other client shares its system, its HTTP session.

    ``Client.close()`` stops the shared ``System``, but the system's HTTP component
    (``chromadb.api.fastapi.FastAPI``, 1.5.9) has no ``stop`` that closes its
    ``httpx.Client``: its keep-alive sockets stayed open until the interpreter exited and
    were reported as ``ResourceWarning: unclosed socket``.
    """
    shared = import_optional("chromadb.api.shared_system_client", "chroma").SharedSystemClient
    # The client checks its tenant through an admin client of a system of its own.
    parts = [c for c in (client, getattr(client, "_admin_client", None)) if c is not None]
    sessions = [(getattr(c, "_identifier", None), getattr(c, "_server", None)) for c in parts]
    try:
        client.close()
    except Exception:  # noqa: BLE001 - closing is best effort: nothing left to save
        pass
    for identifier, server in sessions:
        session = getattr(server, "_session", None)
        if session is not None and identifier not in shared._identifier_to_system:
            session.close()  # that system is stopped: no other client uses its session


class ChromaStore(ShareableMixin, FootprintMixin, ChromaBase):
    """A Chroma server through ``chromadb.HttpClient`` (``vecbench services up chroma``).

    Config: ``url`` (``http(s)://host:port``, from ``VECBENCH_CHROMA_URL``), optional
    ``tenant``, ``database``, ``headers`` (extra HTTP headers) and ``token`` (sent as
    ``Authorization: Bearer``). Footprint: the server API reports no sizes; for a server
    that ``vecbench services`` started on this machine, the files of the collection's HNSW
    segment are measured (see ``_do_footprint``), otherwise both sizes are None.
    """

    info: ClassVar[StoreInfo] = StoreInfo(
        name="chroma",
        engine="chroma",
        extra="chroma",
        client_modules=("chromadb",),
        index_types=INDEX_TYPES,
        embedded=False,
        server=ENGINE,
        description="Chroma server over HTTP (chromadb.HttpClient); HNSW",
        config_keys={
            "url": f"server address, http(s)://host:port (default ${ENGINE.env_var})",
            "tenant": "Chroma tenant (default: Chroma's default tenant)",
            "database": "Chroma database (default: Chroma's default database)",
            "headers": "extra HTTP headers, a mapping of str to str",
            "token": "auth token, sent as 'Authorization: Bearer <token>'",
        },
    )
    _mode = "http"
    _ef_apply_text = (
        "server: collection.modify does not reach the server's loaded index (verified by recall), "
        "so a changed ef_search after the first write rebuilds the collection with it"
    )

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        super().__init__(config)
        self._server_version: str | None = None

    def _check_config(self, config: dict[str, Any]) -> dict[str, Any]:
        if not config.get("url") and os.environ.get(ENGINE.env_var):
            config["url"] = os.environ[ENGINE.env_var]  # as `vecbench services env` prints it
        url = config.get("url")
        if not isinstance(url, str) or not url:
            raise ConfigError(f"chroma needs config 'url' (e.g. {ENGINE.compose_url}; {ENGINE.env_var})")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"chroma url must look like http://host:port, got {url!r}")
        try:
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError as exc:
            raise ConfigError(f"chroma url {url!r} has an invalid port") from exc
        if parts.username or parts.password:
            raise ConfigError("chroma url must not carry credentials; use config 'token' or 'headers'")
        for key in ("tenant", "database", "token"):
            if key in config and not isinstance(config[key], str):
                raise ConfigError(f"chroma config {key!r} must be a string")
        headers = config.get("headers")
        if headers is not None and not (
            isinstance(headers, Mapping)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items())
        ):
            raise ConfigError("chroma config 'headers' must be a mapping of str to str")
        return config

    @property
    def _where(self) -> str:
        return str(self._config["url"])

    def _open_client(self) -> Any:
        parts = urlsplit(self._config["url"])
        ssl = parts.scheme == "https"
        headers = dict(self._config.get("headers") or {})
        if self._config.get("token"):
            headers["Authorization"] = f"Bearer {self._config['token']}"
        kwargs: dict[str, Any] = {}
        for key in ("tenant", "database"):
            if key in self._config:
                kwargs[key] = self._config[key]
        client = None
        try:
            client = self._chromadb.HttpClient(
                host=parts.hostname,
                port=parts.port or (443 if ssl else ENGINE.client_port),
                ssl=ssl,
                headers=headers or None,
                settings=self._settings(),
                **kwargs,
            )
            client.heartbeat()
            self._server_version = str(client.get_version())
        except Exception as exc:
            if client is not None:
                _close_http_client(client)
            raise StoreError(
                f"cannot reach the Chroma server at {self._where}: {exc} (start one with {ENGINE.start_hint})"
            ) from exc
        return client

    def _close_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            _close_http_client(client)

    # -- sharing ------------------------------------------------------------------------

    def _do_share(self) -> dict[str, Any]:
        return {"ef_loaded": self._ef_loaded, "written": self._written}

    def _do_attach(self, state: Mapping[str, Any]) -> None:
        name = self._require_collection().name
        if not self._exists(name):
            raise StoreError(f"chroma ({self._where}) has no collection {name!r} to attach to")
        self._coll = self._client.get_collection(name)
        # The loaded index keeps the ef it was built or rebuilt with: the owner's.
        self._ef_loaded = int(state.get("ef_loaded") or self._search_params["ef_search"])
        self._written = bool(state.get("written"))
        self._live = IdIndex()

    def _do_detach(self) -> None:
        self._coll = None
        self._live = IdIndex()
        self._written = False

    # -- reporting ----------------------------------------------------------------------

    def _do_describe(self) -> dict[str, Any]:
        return {**super()._do_describe(), "server_version": self._server_version, "url": self._where}

    def _do_footprint(self) -> FootprintStats:
        from vecbench.services.rss import local_service  # noqa: PLC0415 (stdlib only, used here only)

        found = local_service("chroma", self._config)
        if found is None:
            return FootprintStats(
                None,
                None,
                f"not measured: the Chroma server API reports no sizes, and {self._where} is not a server "
                "vecbench services started on this machine (its files cannot be read)",
            )
        svc, state = found
        data = _served_path(state.command) or svc.data_dir()
        if self._coll is None:
            return FootprintStats(None, None, "not measured: no collection open")
        dirs, error = _vector_segment_dirs(data, str(self._coll.id))
        if error is not None or not dirs:
            why = error or "no HNSW segment files yet (nothing written?)"
            return FootprintStats(None, None, f"not measured: {why} (server data at {data})")
        apparent = sum(_dir_apparent_bytes(d) for d in dirs)
        return FootprintStats(
            memory_bytes=apparent,
            disk_bytes=sum(_dir_bytes(d) for d in dirs),
            method=(
                "the Chroma server API reports no sizes; measured on the files of the collection's HNSW "
                f"vector segment ({data}/<segment id>/, found in the segments table of chroma.sqlite3) "
                "of the server vecbench services started: memory = their size (hnswlib loads the persisted "
                "index whole: vectors, graph, id map), disk = their allocated blocks (du); the shared "
                "chroma.sqlite3 (metadata segment, write-ahead log of every collection) is not counted"
            ),
        )


class ChromaEmbeddedStore(FootprintMixin, ChromaBase):
    """Chroma embedded in the process, on disk (``chromadb.PersistentClient``).

    Config: ``path`` (default: a fresh temporary directory made in ``__enter__`` and
    removed in ``__exit__``; a given path is kept). Footprint: bytes on disk under path.
    """

    info: ClassVar[StoreInfo] = StoreInfo(
        name="chroma-embedded",
        engine="chroma",
        extra="chroma",
        client_modules=("chromadb",),
        index_types=INDEX_TYPES,
        embedded=True,
        description="Chroma embedded, persistent on disk (chromadb.PersistentClient); HNSW",
        config_keys={"path": "data directory (default: a temporary directory removed on exit)"},
        unsupported={
            "Shareable": "Chroma's PersistentClient is not process-safe (a second process on the same "
            "path keeps its own stale HNSW index and can corrupt the files); use the chroma server "
            "store for load tests",
        },
    )
    _mode = "persistent"
    _ef_apply_text = (
        "embedded: collection.modify, then the client is closed and reopened so the index is "
        "reloaded with the new ef_search (verified by recall; modify alone has no effect)"
    )

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        super().__init__(config)
        self._path: Path | None = None
        self._temp = False

    def _check_config(self, config: dict[str, Any]) -> dict[str, Any]:
        path = config.get("path")
        if path is not None and not isinstance(path, (str, os.PathLike)):
            raise ConfigError(f"chroma-embedded config 'path' must be a path, got {type(path).__name__}")
        return config

    @property
    def _where(self) -> str:
        return f"persistent at {self._path}"

    def _open_client(self) -> Any:
        if self._path is None:
            given = self._config.get("path")
            self._temp = given is None
            self._path = Path(tempfile.mkdtemp(prefix="vecbench-chroma-")) if given is None else Path(given)
        try:
            return self._chromadb.PersistentClient(path=str(self._path), settings=self._settings())
        except Exception as exc:
            self._remove_temp()
            raise StoreError(f"chroma could not open {self._path}: {exc}") from exc

    def _disconnect(self) -> None:
        try:
            super()._disconnect()
        finally:
            self._remove_temp()

    def _remove_temp(self) -> None:
        if self._temp and self._path is not None:
            shutil.rmtree(self._path, ignore_errors=True)
        self._path, self._temp = None, False

    def _reload_ef(self) -> bool:
        # The loaded index keeps its ef: close the client (persisting and unloading the
        # index) and reopen, so the index is loaded again with the stored configuration.
        # Another client on the same path in this process would keep the system alive.
        shared = import_optional("chromadb.api.shared_system_client", "chroma").SharedSystemClient
        self._close_client()
        if str(self._path) in getattr(shared, "_identifier_to_system", {}):
            self._client = self._open_client()
            self._coll = self._client.get_collection(self._require_collection().name)
            return False
        self._client = self._open_client()
        self._coll = self._client.get_collection(self._require_collection().name)
        return True

    def _do_footprint(self) -> FootprintStats:
        assert self._path is not None
        return FootprintStats(
            memory_bytes=None,
            disk_bytes=_dir_bytes(self._path),
            method="du of PersistentClient path (st_blocks; whole path, every collection in it)",
        )
