"""The YAML grid of a retrieval-harness run.

    dataset:
      path: /data/cranfield            # a BEIR folder, or beir:NAME (see below)
      split: test                      # qrels/<split>.tsv
      title: auto                      # auto | prepend | ignore
      max_queries: null
      concat: {docs_per_doc: 8, seed: 0}   # optional: long documents
    chunkers:
      - name: whole
      - name: recursive
        params: {chunk_size: [256, 512], chunk_overlap: 32}
    embedders:
      - name: hashing
        params: {dim: 256}
    stores:
      - name: faiss
        config: {}
        index: hnsw
        metric: cosine
        build: {m: 16}
        search: {ef_search: [32, 128]}
    retrieval:                         # default: [dense]
      - dense
      - sparse                         # BM25 over the chunks (bm25s), no embedder, no store
      - {mode: hybrid, fusion: rrf, rrf_k: 60}
      - {mode: hybrid, fusion: weighted, alpha: [0.3, 0.5, 0.7]}
    bm25: {k1: 1.5, b: 0.75, method: lucene, stemmer: english, stopwords: en}
    embedding_cache: true              # corpus vectors kept under $VECBENCH_CACHE/embeddings
    executor: local                    # ray: the corpus embedded with Ray Data on a cluster
    rerankers: [none, {name: embedding, embedder: {name: hashing, params: {dim: 512}}}]
    k: [1, 5, 10, 20]
    k_chunks: 50
    span_k: 10
    batch_size: 64
    prices: {usd_per_vcpu_hour: 0.04}  # or a price file's path (see vecbench.measures.cost)
    price_per_1m_tokens: 0.02          # the same as prices.usd_per_1m_embedding_tokens
    ci_resamples: 1000                 # bootstrap resamples per confidence interval

``path: beir:scifact`` (or just ``dataset: beir:scifact``) names a standard BEIR set from
``datasets/beir.yaml``; it must have been fetched first (``vecbench datasets fetch
scifact``): runs never download. Its split defaults to the one BEIR evaluates on.
``beir:cranfield`` is shipped with vecbench (``datasets/cranfield.yaml``): no fetch.

A sparse cell depends only on the chunker, the BM25 settings and the reranker: it runs
once per chunker, not once per embedder and store. Dense and hybrid cells run per
embedder x store x search point.

In ``params``, ``build``, ``search`` and a retrieval entry a list is a grid axis (cartesian product); write
``[[a, b]]`` for a parameter whose one value is a list.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from vecbench.errors import ConfigError, UnknownNameError
from vecbench.measures.cost import PriceModel, resolve_prices
from vecbench.metrics import Metric
from vecbench.rag.beir import beir_manifest, is_beir_name
from vecbench.rag.entries import (
    ComponentConfig,
    check_keys,
    components,
    expand_grid,
    flag,
    list_of,
    mapping_of,
    pos_int,
    rerankers,
    retrieval_modes,
)
from vecbench.rag.fusion import RetrievalMode, resolve_where
from vecbench.rag.sparse import BM25Params, bm25_params
from vecbench.util.validation import is_number

__all__ = [
    "RagConfig",
    "DatasetConfig",
    "ComponentConfig",
    "StoreConfig",
    "load_rag_config",
    "expand_grid",
]

_TOP = {
    "dataset",
    "chunkers",
    "embedders",
    "stores",
    "rerankers",
    "k",
    "k_chunks",
    "span_k",
    "batch_size",
    "price_per_1m_tokens",
    "prices",
    "ci_resamples",
    "retrieval",
    "bm25",
    "embedding_cache",
    "hybrid_where",
    "executor",
    "ray_address",
}


@dataclass(frozen=True)
class DatasetConfig:
    path: str
    split: str = "test"
    title: str = "auto"
    max_queries: int | None = None
    concat: dict[str, Any] | None = None


@dataclass(frozen=True)
class StoreConfig:
    """One store with one index build; ``searches`` are the search-parameter points."""

    name: str
    config: dict[str, Any]
    index: str
    metric: str
    build: dict[str, Any]
    searches: list[dict[str, Any]]


@dataclass(frozen=True)
class RagConfig:
    dataset: DatasetConfig
    chunkers: list[ComponentConfig]
    embedders: list[ComponentConfig]
    stores: list[StoreConfig]
    rerankers: list[ComponentConfig | None]
    ks: list[int]
    k_chunks: int = 50
    span_k: int = 10
    batch_size: int = 64
    price_per_1m_tokens: float = PriceModel.usd_per_1m_embedding_tokens
    prices: PriceModel = field(default_factory=PriceModel)
    ci_resamples: int = 1000
    retrieval: list[RetrievalMode] = field(default_factory=lambda: [RetrievalMode()])
    hybrid_where: str = "native"
    bm25: BM25Params = field(default_factory=BM25Params)
    embedding_cache: bool = True
    executor: str = "local"  # "ray": the corpus is embedded with Ray Data on the cluster
    ray_address: str | None = None

    @property
    def sparse_modes(self) -> list[RetrievalMode]:
        return [m for m in self.retrieval if not m.uses_dense]

    @property
    def store_modes(self) -> list[RetrievalMode]:
        """The modes that search a store (dense, hybrid)."""
        return [m for m in self.retrieval if m.uses_dense]

    def __post_init__(self) -> None:
        names = {c.name for c in self.chunkers}
        entries = [("embedder", e) for e in self.embedders] + [("reranker", r) for r in self.rerankers if r]
        for kind, entry in entries:
            unknown = sorted(set(entry.chunkers or ()) - names)
            if unknown:
                raise ConfigError(
                    f"{kind} {entry.name!r} names chunkers {unknown} the config does not have "
                    f"(it has {sorted(names)})"
                )
        for s in self.stores:  # native hybrid where a store cannot: refused before any work
            for m in self.store_modes:
                self.store_mode(m, s)

    def n_cells(self) -> int:
        return sum(1 for _ in self.cells())

    def cells(self) -> Iterator[Cell]:
        """Every cell, grouped by chunker: its sparse cells (no embedder, store or search
        point), then per embedder, store and search point its dense and hybrid cells. An
        embedder or reranker restricted to some chunkers appears only with those."""
        for c in self.chunkers:
            rerankers = [r for r in self.rerankers if r is None or r.runs_with(c)]
            for m, r in itertools.product(self.sparse_modes, rerankers):
                yield Cell(c, None, None, {}, r, m)
            for e in (e for e in self.embedders if e.runs_with(c)):
                for s in self.stores:
                    modes = [self.store_mode(m, s) for m in self.store_modes]
                    for search, m, r in itertools.product(s.searches, modes, rerankers):
                        yield Cell(c, e, s, search, r, m)

    @staticmethod
    def store_mode(mode: RetrievalMode, store: StoreConfig) -> RetrievalMode:
        """``mode`` with its ``where`` settled for ``store`` (ConfigError where it cannot run)."""
        from vecbench.registry import store_class

        return resolve_where(mode, store_class(store.name), store.name)


class Cell(NamedTuple):
    """One cell of a config's grid (a sparse cell has no embedder, store or search point)."""

    chunker: ComponentConfig
    embedder: ComponentConfig | None
    store: StoreConfig | None
    search: dict[str, Any]
    reranker: ComponentConfig | None
    mode: RetrievalMode


def _dataset(value: Any, base: Path | None) -> DatasetConfig:
    if isinstance(value, str):
        value = {"path": value}
    d = mapping_of(value, "dataset")
    check_keys(d, {"path", "split", "title", "max_queries", "concat"}, "dataset")
    path = d.get("path")
    if not isinstance(path, str) or not path:
        raise ConfigError("dataset.path (a BEIR folder, or beir:NAME) is required")
    split = None if d.get("split") is None else str(d["split"])
    if is_beir_name(path):
        manifest, _ = beir_manifest(path)  # the name is checked now; fetched-ness when loading
        split = split or manifest.split
    elif base is not None and not Path(path).is_absolute():
        path = str(base / path)
    title = d.get("title", "auto")
    if title not in ("auto", "prepend", "ignore"):
        raise ConfigError(f"dataset.title must be auto, prepend or ignore, got {title!r}")
    mq = d.get("max_queries")
    if mq is not None:
        pos_int(mq, "dataset.max_queries")
    concat = d.get("concat")
    if concat is not None:
        concat = dict(mapping_of(concat, "dataset.concat"))
        check_keys(concat, {"docs_per_doc", "seed", "separator"}, "dataset.concat")
        pos_int(concat.get("docs_per_doc"), "dataset.concat.docs_per_doc")
        if not isinstance(concat.get("seed", 0), int):
            raise ConfigError("dataset.concat.seed must be an integer")
    return DatasetConfig(path, split or "test", title, mq, concat)


def _hybrid_where(value: Any) -> str:
    from vecbench.rag.fusion import WHERE

    if value not in WHERE:
        raise UnknownNameError("hybrid_where", value, WHERE)
    return str(value)


def _stores(value: Any) -> list[StoreConfig]:
    from vecbench.registry import store_names

    names = store_names()
    out: list[StoreConfig] = []
    for i, entry in enumerate(list_of(value, "stores")):
        w = f"stores[{i}]"
        if isinstance(entry, str):
            entry = {"name": entry}
        entry = mapping_of(entry, w)
        check_keys(entry, {"name", "config", "index", "metric", "build", "search"}, w)
        name = entry.get("name")
        if name not in names:
            raise UnknownNameError("store", name, names)
        index = entry.get("index", "flat")
        if not isinstance(index, str):
            raise ConfigError(f"{w}.index must be an index type name, got {index!r}")
        metric = Metric.parse(entry.get("metric", "cosine")).value
        config = dict(mapping_of(entry.get("config") or {}, f"{w}.config"))
        searches = expand_grid(entry.get("search"), f"{w}.search")
        for build in expand_grid(entry.get("build"), f"{w}.build"):
            out.append(StoreConfig(name, config, index, metric, build, searches))
    return out


def load_rag_config(source: str | Path | Mapping[str, Any]) -> RagConfig:
    """A validated RagConfig from a YAML file or an already-parsed mapping.

    A relative dataset path in a file is taken relative to that file's folder.
    """
    from vecbench.rag.components import chunker_names

    base: Path | None = None
    if isinstance(source, Mapping):
        raw: Any = source
    else:
        import yaml

        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path}: not UTF-8") from exc
        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
        base = path.parent
    raw = mapping_of(raw, "the rag config")
    check_keys(raw, _TOP, "rag config")
    for key in ("dataset", "chunkers", "embedders", "stores"):
        if key not in raw:
            raise ConfigError(f"rag config: {key!r} is required")
    ks = raw.get("k", [1, 5, 10, 20])
    ks = [ks] if isinstance(ks, int) else list_of(ks, "k")
    ks = sorted({pos_int(k, "k") for k in ks})
    k_chunks = pos_int(raw.get("k_chunks", 50), "k_chunks")
    if max(ks) > k_chunks:
        raise ConfigError(
            f"k {max(ks)} exceeds k_chunks {k_chunks}: at most k_chunks documents are retrieved"
        )
    prices = resolve_prices(raw.get("prices"), base)
    if "price_per_1m_tokens" in raw:
        price = raw["price_per_1m_tokens"]
        if not is_number(price) or price < 0:
            raise ConfigError(f"price_per_1m_tokens must be a non-negative number, got {price!r}")
        given = raw.get("prices") if isinstance(raw.get("prices"), Mapping) else {}
        if "usd_per_1m_embedding_tokens" in given and given["usd_per_1m_embedding_tokens"] != price:
            raise ConfigError(
                "rag config: price_per_1m_tokens and prices.usd_per_1m_embedding_tokens differ; give one"
            )
        prices = prices.with_overrides({"usd_per_1m_embedding_tokens": price})
    return RagConfig(
        dataset=_dataset(raw["dataset"], base),
        chunkers=components(raw["chunkers"], "chunkers", chunker_names()),
        embedders=components(raw["embedders"], "embedders", None, restrictable=True),
        stores=_stores(raw["stores"]),
        rerankers=rerankers(raw.get("rerankers"), base),
        ks=ks,
        k_chunks=k_chunks,
        span_k=pos_int(raw.get("span_k", 10), "span_k"),
        batch_size=pos_int(raw.get("batch_size", 64), "batch_size"),
        price_per_1m_tokens=prices.usd_per_1m_embedding_tokens,
        prices=prices,
        ci_resamples=pos_int(raw.get("ci_resamples", 1000), "ci_resamples"),
        retrieval=retrieval_modes(raw.get("retrieval"), _hybrid_where(raw.get("hybrid_where", "native"))),
        hybrid_where=_hybrid_where(raw.get("hybrid_where", "native")),
        bm25=bm25_params(raw.get("bm25")),
        embedding_cache=flag(raw.get("embedding_cache", True), "embedding_cache"),
        **_executor(raw.get("executor", "local"), raw.get("ray_address")),
    )


def _executor(executor: Any, address: Any) -> dict[str, Any]:
    """``executor`` (local, ray) and ``ray_address``, checked as the vector run's settings are."""
    from vecbench.config.settings import check_executor

    return check_executor(executor, address)
