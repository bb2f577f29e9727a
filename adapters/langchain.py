"""Any LangChain ``VectorStore``, measured like any other store.

Many RAG systems already hold their store behind LangChain; this adapter wraps the class a
config names, so its overhead over the engine it wraps can be measured beside vecbench's
own adapter of that engine (``benchmarks/test_langchain_overhead.py``).

    with get_store("langchain", {"vectorstore": "langchain_chroma:Chroma",
                                 "embedding_kwarg": "embedding_function",
                                 "name_kwarg": "collection_name",
                                 "kwargs": {"collection_metadata": {"hnsw:space": "cosine"}}}) as store:
        store.create(CollectionSpec("docs", dim=384, metric="cosine"))
        store.upsert(ids, vectors)
        store.search(query, 10)

Config:

- ``vectorstore``: the class, ``package.module:Class`` (default LangChain's own
  ``langchain_core.vectorstores:InMemoryVectorStore``, exact cosine);
- ``kwargs``: keyword arguments of its constructor;
- ``embedding_kwarg``: the constructor argument that takes the ``Embeddings`` object
  (default ``embedding``; ``embedding_function`` for ``langchain_chroma.Chroma``);
- ``name_kwarg``: the constructor argument that takes the collection name, if any;
- ``metric``: the metric the wrapped store ranks by (default ``cosine``). LangChain's
  ``VectorStore`` interface has no metric of its own: each class fixes one in its own
  configuration, so vecbench runs only data sets of this metric on it and says so.

Vectors are precomputed: ingest goes through ``add_texts`` with an ``Embeddings`` object
that hands each text (``vb:<id>``) its vector, so every class that embeds inside
``add_texts`` takes vectors as they are; searches use ``similarity_search_by_vector``.
Ids travel as LangChain document ids (``str(id)``) and in the metadata (``vb_id``), and
come back from either. Deletes use ``VectorStore.delete(ids)``; drop deletes the wrapped
collection where the class can (``delete_collection``), else every id it was given.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from importlib import metadata
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from vecbench.errors import ConfigError, StoreError, UnknownNameError
from vecbench.metrics import Metric
from vecbench.spec import IndexType
from vecbench.store import StoreInfo

from ._base import BaseStore
from ._capabilities import DeletableMixin

__all__ = ["LangChainStore", "load_class"]

DEFAULT_CLASS = "langchain_core.vectorstores:InMemoryVectorStore"


def load_class(path: str) -> type:
    """The class ``package.module:Class`` (or ``package.module.Class``) names."""
    if not isinstance(path, str) or not path.strip():
        raise ConfigError(f"vectorstore must name a class as 'package.module:Class', got {path!r}")
    module_name, sep, attr = path.partition(":")
    if not sep:
        module_name, _, attr = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"vectorstore {path!r}: cannot import {module_name!r} ({exc}); is its package installed?"
        ) from None
    cls = getattr(module, attr, None)
    if not isinstance(cls, type):
        raise ConfigError(f"vectorstore {path!r}: {module_name} has no class {attr!r}")
    return cls


class _PrecomputedEmbeddings:
    """LangChain ``Embeddings`` that return the vectors vecbench hands over, by text key."""

    def __init__(self) -> None:
        self.pending: dict[str, list[float]] = {}

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        try:
            return [self.pending[t] for t in texts]
        except KeyError as exc:
            raise StoreError(
                f"langchain: the wrapped store embedded a text vecbench did not give: {exc}"
            ) from None

    def embed_query(self, text: str) -> list[float]:
        raise StoreError("langchain: queries are searched by vector; embed_query is not used")


_EMBEDDINGS_CLASS: list[type] = []


def _embeddings() -> Any:
    """A new shim, as a subclass of LangChain's ``Embeddings`` (classes check with isinstance)."""
    if not _EMBEDDINGS_CLASS:
        from langchain_core.embeddings import Embeddings

        _EMBEDDINGS_CLASS.append(type("PrecomputedEmbeddings", (_PrecomputedEmbeddings, Embeddings), {}))
    return _EMBEDDINGS_CLASS[0]()


class LangChainStore(DeletableMixin, BaseStore):
    """A LangChain ``VectorStore`` class named by config (see the module docstring)."""

    info: ClassVar[StoreInfo] = StoreInfo(
        name="langchain",
        engine="langchain",
        extra="langchain",
        client_modules=("langchain_core",),
        index_types={
            "wrapped": IndexType(
                "wrapped",
                # cosine first: the default config's metric (the first metric is what a plain
                # CollectionSpec test or the equal-effort grid picks)
                metrics=(Metric.COSINE, Metric.EUCLIDEAN, Metric.IP),
                description="whatever index the wrapped VectorStore builds (set in its own kwargs)",
            )
        },
        embedded=True,
        description="Any LangChain VectorStore class, with precomputed vectors (overhead visible).",
        config_keys={
            "vectorstore": f"the VectorStore class, 'package.module:Class' (default {DEFAULT_CLASS})",
            "kwargs": "keyword arguments of its constructor",
            "embedding_kwarg": "the constructor argument taking the Embeddings object (default 'embedding')",
            "name_kwarg": "the constructor argument taking the collection name (default: none)",
            "metric": "the metric the wrapped store ranks by (default cosine)",
        },
        unsupported={
            "BatchSearch": "LangChain's VectorStore interface searches one query per call",
            "Footprint": "LangChain's VectorStore interface reports no memory or disk figures",
            "Shareable": "a wrapped store lives in one process's objects; workers cannot attach",
        },
    )

    def _check_config(self, config: dict[str, Any]) -> dict[str, Any]:
        for key in ("vectorstore", "embedding_kwarg", "name_kwarg"):
            if key in config and config[key] is not None and not isinstance(config[key], str):
                raise ConfigError(f"langchain config {key!r} must be a string, got {config[key]!r}")
        if "kwargs" in config and not isinstance(config["kwargs"], Mapping):
            raise ConfigError(f"langchain config 'kwargs' must be a mapping, got {config['kwargs']!r}")
        config["metric"] = Metric.parse(config.get("metric", "cosine"))
        return config

    def _connect(self) -> None:
        import_path = self._config.get("vectorstore", DEFAULT_CLASS)
        self._cls = load_class(import_path)
        self._class_path = import_path
        self._vs: Any = None
        self._ids: set[int] = set()

    def _check_build_params(self, spec: Any, params: dict[str, Any]) -> dict[str, Any]:
        metric = self._config["metric"]
        if spec.metric is not metric:
            raise UnknownNameError(
                f"metric for this langchain store (its wrapped class ranks by {metric.value}; set config "
                "'metric' to what its kwargs configure)",
                spec.metric.value,
                [metric.value],
            )
        return params

    def _do_create(self) -> None:
        spec = self._require_collection()
        self._embeddings = _embeddings()
        kwargs = dict(self._config.get("kwargs") or {})
        kwargs[self._config.get("embedding_kwarg") or "embedding"] = self._embeddings
        if self._config.get("name_kwarg"):
            kwargs[self._config["name_kwarg"]] = spec.name
        try:
            self._vs = self._cls(**kwargs)
        except TypeError as exc:
            raise ConfigError(
                f"langchain: {self._class_path}({', '.join(kwargs)}) refused its arguments: {exc}"
            ) from None
        self._ids = set()

    def _do_drop(self) -> None:
        vs, ids = self._vs, sorted(self._ids)
        self._vs, self._ids = None, set()
        if vs is None:
            return
        if hasattr(vs, "delete_collection"):
            vs.delete_collection()
        elif ids:
            vs.delete(ids=[str(i) for i in ids])

    def _do_upsert(self, ids: NDArray[np.int64], vectors: NDArray[np.float32]) -> None:
        keys = [f"vb:{int(i)}" for i in ids]
        self._embeddings.pending = dict(zip(keys, vectors.tolist(), strict=True))
        try:
            present = [str(int(i)) for i in ids if int(i) in self._ids]
            if present:  # not every class replaces a present id on add: make it so
                self._vs.delete(ids=present)
            self._vs.add_texts(
                keys, metadatas=[{"vb_id": int(i)} for i in ids], ids=[str(int(i)) for i in ids]
            )
        finally:
            self._embeddings.pending = {}
        self._ids.update(int(i) for i in ids)

    def _do_delete(self, ids: NDArray[np.int64]) -> None:
        present = [str(int(i)) for i in ids if int(i) in self._ids]
        if present:
            self._vs.delete(ids=present)
            self._ids.difference_update(int(i) for i in present)

    def _do_search(self, queries: NDArray[np.float32], k: int) -> NDArray[np.int64]:
        out = np.full((queries.shape[0], k), -1, dtype=np.int64)
        if not self._ids:
            return out
        for row, q in enumerate(queries):
            docs = self._vs.similarity_search_by_vector(q.tolist(), k=min(k, len(self._ids)))
            got = [_doc_id(d) for d in docs][:k]
            out[row, : len(got)] = got
        return out

    def _do_describe(self) -> dict[str, Any]:
        package = self._class_path.split(":")[0].split(".")[0]
        try:
            version = metadata.version(package.replace("_", "-"))
        except metadata.PackageNotFoundError:
            version = None
        return {
            "wrapped_class": f"{self._cls.__module__}.{self._cls.__qualname__}",
            "wrapped_package": package,
            "wrapped_package_version": version,
            "client_version": metadata.version("langchain-core"),
            "metric_mapping": f"{self._config['metric'].value}: as the wrapped class is configured (vecbench cannot see it)",
            "ntotal": len(self._ids),
            "ingest": "add_texts with precomputed vectors (an Embeddings shim); search: similarity_search_by_vector",
        }


def _doc_id(doc: Any) -> int:
    meta = getattr(doc, "metadata", None) or {}
    if "vb_id" in meta:
        return int(meta["vb_id"])
    if getattr(doc, "id", None) is not None:
        return int(doc.id)
    raise StoreError("langchain: a returned document carries neither its id nor vb_id metadata")
