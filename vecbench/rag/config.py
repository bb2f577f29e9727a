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
from typing import Any

from vecbench.errors import ConfigError, UnknownNameError
from vecbench.measures.cost import PriceModel, resolve_prices
from vecbench.metrics import Metric
from vecbench.rag.beir import beir_manifest, is_beir_name
from vecbench.rag.fusion import RetrievalMode
from vecbench.rag.sparse import BM25Params, bm25_params
from vecbench.util.validation import is_int, is_number

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
}
_RERANKERS = ("none", "embedding", "cross_encoder")


@dataclass(frozen=True)
class DatasetConfig:
    path: str
    split: str = "test"
    title: str = "auto"
    max_queries: int | None = None
    concat: dict[str, Any] | None = None


@dataclass(frozen=True)
class ComponentConfig:
    """A chunker, embedder or reranker: a name and one point of its parameter grid."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)


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
    bm25: BM25Params = field(default_factory=BM25Params)
    embedding_cache: bool = True

    @property
    def sparse_modes(self) -> list[RetrievalMode]:
        return [m for m in self.retrieval if not m.uses_dense]

    @property
    def store_modes(self) -> list[RetrievalMode]:
        """The modes that search a store (dense, hybrid)."""
        return [m for m in self.retrieval if m.uses_dense]

    def n_cells(self) -> int:
        per_store = sum(len(s.searches) for s in self.stores)
        dense = len(self.embedders) * per_store * len(self.store_modes)
        return len(self.chunkers) * (dense + len(self.sparse_modes)) * len(self.rerankers)

    def cells(
        self,
    ) -> Iterator[
        tuple[ComponentConfig, ComponentConfig, StoreConfig, dict[str, Any], ComponentConfig | None]
    ]:
        """(chunker, embedder, store, search params, reranker) of the store-searching
        cells, in run order (each once per mode in ``store_modes``)."""
        for c, e, s in itertools.product(self.chunkers, self.embedders, self.stores):
            for search, r in itertools.product(s.searches, self.rerankers):
                yield c, e, s, search, r


def expand_grid(params: Mapping[str, Any] | None, where: str) -> list[dict[str, Any]]:
    """Every combination of the list-valued entries (``[[a, b]]`` is the one value [a, b]).

    >>> expand_grid({"m": [8, 16], "ef": 40}, "build")
    [{'m': 8, 'ef': 40}, {'m': 16, 'ef': 40}]
    """
    if params is None:
        return [{}]
    if not isinstance(params, Mapping):
        raise ConfigError(f"{where} must be a mapping, got {type(params).__name__}")
    axes: list[list[Any]] = []
    for key, value in params.items():
        if not isinstance(key, str):
            raise ConfigError(f"{where}: parameter names must be strings, got {key!r}")
        if isinstance(value, list):
            if not value:
                raise ConfigError(f"{where}.{key}: an empty list gives no values")
            if len(value) == 1 and isinstance(value[0], list):
                axes.append([value[0]])
            else:
                axes.append(value)
        else:
            axes.append([value])
    return [dict(zip(params, combo, strict=True)) for combo in itertools.product(*axes)]


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} must be a mapping, got {type(value).__name__}")
    return value


def _list(value: Any, where: str, allow_empty: bool = False) -> list[Any]:
    if not isinstance(value, list) or (not value and not allow_empty):
        raise ConfigError(f"{where} must be a non-empty list")
    return value


def _pos_int(value: Any, where: str) -> int:
    if not is_int(value) or value < 1:
        raise ConfigError(f"{where} must be a positive integer, got {value!r}")
    return value


def _check_keys(m: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(m) - known)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(map(str, unknown))}; known: {', '.join(sorted(known))}"
        )


def _components(value: Any, where: str, names: list[str] | None) -> list[ComponentConfig]:
    out: list[ComponentConfig] = []
    for i, entry in enumerate(_list(value, where)):
        w = f"{where}[{i}]"
        if isinstance(entry, str):
            entry = {"name": entry}
        entry = _mapping(entry, w)
        _check_keys(entry, {"name", "params"}, w)
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{w}: a name is required")
        if names is not None and name not in names:
            raise UnknownNameError(where.rstrip("s"), name, names)
        out += [ComponentConfig(name, p) for p in expand_grid(entry.get("params"), f"{w}.params")]
    return out


def _dataset(value: Any, base: Path | None) -> DatasetConfig:
    if isinstance(value, str):
        value = {"path": value}
    d = _mapping(value, "dataset")
    _check_keys(d, {"path", "split", "title", "max_queries", "concat"}, "dataset")
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
        _pos_int(mq, "dataset.max_queries")
    concat = d.get("concat")
    if concat is not None:
        concat = dict(_mapping(concat, "dataset.concat"))
        _check_keys(concat, {"docs_per_doc", "seed", "separator"}, "dataset.concat")
        _pos_int(concat.get("docs_per_doc"), "dataset.concat.docs_per_doc")
        if not isinstance(concat.get("seed", 0), int):
            raise ConfigError("dataset.concat.seed must be an integer")
    return DatasetConfig(path, split or "test", title, mq, concat)


def _stores(value: Any) -> list[StoreConfig]:
    from vecbench.registry import store_names

    names = store_names()
    out: list[StoreConfig] = []
    for i, entry in enumerate(_list(value, "stores")):
        w = f"stores[{i}]"
        if isinstance(entry, str):
            entry = {"name": entry}
        entry = _mapping(entry, w)
        _check_keys(entry, {"name", "config", "index", "metric", "build", "search"}, w)
        name = entry.get("name")
        if name not in names:
            raise UnknownNameError("store", name, names)
        index = entry.get("index", "flat")
        if not isinstance(index, str):
            raise ConfigError(f"{w}.index must be an index type name, got {index!r}")
        metric = Metric.parse(entry.get("metric", "cosine")).value
        config = dict(_mapping(entry.get("config") or {}, f"{w}.config"))
        searches = expand_grid(entry.get("search"), f"{w}.search")
        for build in expand_grid(entry.get("build"), f"{w}.build"):
            out.append(StoreConfig(name, config, index, metric, build, searches))
    return out


def _rerankers(value: Any, base: Path | None = None) -> list[ComponentConfig | None]:
    if value is None:
        return [None]
    out: list[ComponentConfig | None] = []
    for i, entry in enumerate(_list(value, "rerankers")):
        w = f"rerankers[{i}]"
        if entry is None or entry == "none":
            out.append(None)
            continue
        if isinstance(entry, str):
            entry = {"name": entry}
        entry = dict(_mapping(entry, w))
        name = entry.pop("name", None)
        if name not in _RERANKERS:
            raise UnknownNameError("reranker", name, _RERANKERS)
        if name == "none":
            out.append(None)
        elif name == "embedding":
            _check_keys(entry, {"embedder"}, w)
            emb = _mapping(entry.get("embedder"), f"{w}.embedder")
            _check_keys(emb, {"name", "params"}, f"{w}.embedder")
            if not isinstance(emb.get("name"), str):
                raise ConfigError(f"{w}.embedder.name is required")
            out.append(
                ComponentConfig(
                    "embedding", {"embedder": {"name": emb["name"], "params": dict(emb.get("params") or {})}}
                )
            )
        else:
            _check_keys(entry, {"model_path", "batch_size", "device"}, w)
            if not isinstance(entry.get("model_path"), str):
                raise ConfigError(
                    f"{w}: cross_encoder needs model_path (a local model folder: no installable "
                    "package ships cross-encoder weights, and runs never download)"
                )
            model = Path(entry["model_path"]).expanduser()
            if base is not None and not model.is_absolute():
                entry["model_path"] = str(base / model)  # relative to the config file
            if not Path(entry["model_path"]).is_dir():
                raise ConfigError(f"{w}: cross_encoder model_path {entry['model_path']!r} is not a directory")
            out.append(ComponentConfig("cross_encoder", entry))
    return out


def _flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where} must be true or false, got {value!r}")
    return value


def _retrieval(value: Any) -> list[RetrievalMode]:
    """Retrieval entries: a mode name, or a mapping (mode, fusion, rrf_k, alpha) whose
    list values are grid axes."""
    if value is None:
        return [RetrievalMode()]
    out: list[RetrievalMode] = []
    for i, entry in enumerate(_list(value, "retrieval")):
        w = f"retrieval[{i}]"
        if isinstance(entry, str):
            entry = {"mode": entry}
        entry = _mapping(entry, w)
        _check_keys(entry, {"mode", "fusion", "rrf_k", "alpha"}, w)
        for point in expand_grid(entry, w):
            mode = RetrievalMode(**point)
            if "rrf_k" in point and mode.fusion != "rrf":
                raise ConfigError(f"{w}: rrf_k is the constant of fusion rrf (mode hybrid)")
            out.append(mode)
    if len(set(out)) != len(out):
        raise ConfigError("retrieval: an entry is given twice")
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
    raw = _mapping(raw, "the rag config")
    _check_keys(raw, _TOP, "rag config")
    for key in ("dataset", "chunkers", "embedders", "stores"):
        if key not in raw:
            raise ConfigError(f"rag config: {key!r} is required")
    ks = raw.get("k", [1, 5, 10, 20])
    ks = [ks] if isinstance(ks, int) else _list(ks, "k")
    ks = sorted({_pos_int(k, "k") for k in ks})
    k_chunks = _pos_int(raw.get("k_chunks", 50), "k_chunks")
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
        chunkers=_components(raw["chunkers"], "chunkers", chunker_names()),
        embedders=_components(raw["embedders"], "embedders", None),
        stores=_stores(raw["stores"]),
        rerankers=_rerankers(raw.get("rerankers"), base),
        ks=ks,
        k_chunks=k_chunks,
        span_k=_pos_int(raw.get("span_k", 10), "span_k"),
        batch_size=_pos_int(raw.get("batch_size", 64), "batch_size"),
        price_per_1m_tokens=prices.usd_per_1m_embedding_tokens,
        prices=prices,
        ci_resamples=_pos_int(raw.get("ci_resamples", 1000), "ci_resamples"),
        retrieval=_retrieval(raw.get("retrieval")),
        bm25=bm25_params(raw.get("bm25")),
        embedding_cache=_flag(raw.get("embedding_cache", True), "embedding_cache"),
    )
