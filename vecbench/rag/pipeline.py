"""The retrieval pipeline: chunk, embed, ingest into a store, query, rerank, evaluate.

Stages are separate so a sweep can chunk and embed a corpus once and index it in many
stores; ``run_pipeline`` does all of them for one configuration. Ingest and the timed
queries go through the harness's measuring core (``vecbench.harness``): the same timed
build, the same timed passes under the machine-load probe, the same footprint.

    ds = load_beir("cranfield")
    with get_store("faiss") as store:
        result = run_pipeline(ds, chunker, embedder, store, RetrievalPlan(k_chunks=50))
    result.quality.means["ndcg_at_10"], result.cost, result.latency.p99_ms
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vecbench.config.settings import Settings
from vecbench.errors import ConfigError, DimensionMismatchError
from vecbench.harness.build import build_collection, collection_name
from vecbench.harness.measure import Passes, timed_stage_calls
from vecbench.measures.footprint import collection_footprint
from vecbench.measures.latency import LatencyStats
from vecbench.metrics import Metric
from vecbench.rag.beir import RagDataset
from vecbench.rag.corpus import TEXT_KEY, ChunkedCorpus, EmbeddedCorpus, chunk_corpus, embed_corpus
from vecbench.rag.fusion import RetrievalMode, resolve_where
from vecbench.rag.metrics import QualityReport, evaluate_query, summarize
from vecbench.rag.rerank import Candidate, Reranker
from vecbench.rag.retrieve import Retriever
from vecbench.rag.sparse import BM25Index, BM25Params
from vecbench.spec import CollectionSpec
from vecbench.util.progress import NULL, Progress
from vecbench.util.validation import positive_int

__all__ = [
    "ChunkedCorpus",
    "EmbeddedCorpus",
    "RetrievalPlan",
    "QueryOutcome",
    "RagResult",
    "chunk_corpus",
    "embed_corpus",
    "ingest",
    "query",
    "run_pipeline",
    "check_query_embedder",
    "rag_machine_load",
    "cost_of",
    "stage_latency",
    "build_bm25",
]


@dataclass(frozen=True)
class RetrievalPlan:
    """How one configuration indexes and queries: metric, index type and parameters, the
    ks scored, chunks fetched per query, chunks scored for spans, embedding batch size and
    the embedding price; checked when made.

    >>> RetrievalPlan(index_type="hnsw", build={"m": 16}, ks=(1, 10)).k_chunks
    50
    """

    metric: Metric | str = "cosine"  # a name or alias: a Metric once made
    index_type: str = "flat"
    build: Mapping[str, Any] = field(default_factory=dict)
    search: Mapping[str, Any] = field(default_factory=dict)
    ks: Sequence[int] = (1, 5, 10, 20)
    k_chunks: int = 50
    span_k: int = 10
    batch_size: int = 64
    price_per_1m_tokens: float = 0.0
    settings: Settings = field(default_factory=Settings)

    def __post_init__(self) -> None:
        object.__setattr__(self, "metric", Metric.parse(self.metric))
        object.__setattr__(self, "build", dict(self.build or {}))
        object.__setattr__(self, "search", dict(self.search or {}))
        if not self.ks:
            raise ConfigError("k_chunks, span_k and every k must be positive")
        for name, value in (
            ("k_chunks", self.k_chunks),
            ("span_k", self.span_k),
            ("batch_size", self.batch_size),
        ):
            positive_int(value, name)
        object.__setattr__(self, "ks", tuple(positive_int(k, "every k") for k in self.ks))


@dataclass
class RagResult:
    """What one configuration measured (see ``vecbench.rag.run`` for the record)."""

    quality: QualityReport
    cost: dict[str, Any]
    latency: LatencyStats
    latencies_ns: NDArray[np.int64]
    chunk_ids: NDArray[np.int64]
    ranked_docs: dict[str, list[str]]
    footprint: dict[str, Any] | None
    store: dict[str, Any]
    index: dict[str, Any] = field(default_factory=dict)
    machine_load: dict[str, Any] | None = None
    stages: dict[str, dict[str, float]] = field(default_factory=dict)
    retrieval: dict[str, Any] = field(default_factory=dict)


def _check_identity(index_name: str, index_dim: int, query_embedder: Any) -> None:
    if query_embedder.name != index_name:
        raise ConfigError(
            f"query embedder {query_embedder.name!r} differs from the index's {index_name!r}: "
            "vectors from different models are not comparable"
        )
    if int(query_embedder.dim) != index_dim:
        raise DimensionMismatchError(
            f"query embedder {query_embedder.name!r} has dim {query_embedder.dim}, the index {index_dim}"
        )


def check_query_embedder(embedded: EmbeddedCorpus, query_embedder: Any) -> None:
    """Queries must be embedded by the embedder the index was built with (same name and dim)."""
    _check_identity(embedded.embedder_name, embedded.dim, query_embedder)


def ingest(
    store: Any,
    embedded: EmbeddedCorpus,
    plan: RetrievalPlan,
    collection: str | None = None,
    progress: Progress = NULL,
    *,
    full_text: bool = False,
) -> dict[str, Any]:
    """Create the collection, upsert every chunk (payload: doc_id, start, end, text), wait
    until searchable: the harness's timed build; with ``full_text`` the store also indexes
    the chunks' text (``CollectionSpec.full_text``, for native hybrid). Returns ``{"collection", "ingest_s" (upsert +
    wait_ready), "upsert_s", "wait_ready_s", "machine_load"}``."""
    spec = CollectionSpec(
        collection
        or collection_name(
            "rag", embedded.embedder_name, embedded.chunked.chunker, plan.index_type, plan.build
        ),
        dim=embedded.dim,
        metric=Metric.parse(plan.metric),
        index_type=plan.index_type,
        index_params=dict(plan.build),
        full_text=TEXT_KEY if full_text else None,
    )
    settings = plan.settings.replace(batch_size=1000)
    timings, load = build_collection(store, spec, embedded, settings, progress)
    upsert_s, wait_s = float(timings["ingest_s"] or 0), float(timings["build_s"] or 0)
    return {
        "collection": spec.name,
        "ingest_s": upsert_s + wait_s,
        "upsert_s": upsert_s,
        "wait_ready_s": wait_s,
        "machine_load": load,
    }


def aggregate_documents(candidates: Sequence[Candidate]) -> list[str]:
    """Documents in the order of their first (best-ranked) chunk, i.e. by max chunk score."""
    seen: dict[str, None] = {}
    for c in candidates:
        seen.setdefault(c.doc_id, None)
    return list(seen)


@dataclass
class QueryOutcome:
    """What answering every judged query gave: quality, end-to-end latencies, the chunk ids
    (nq, k_chunks, padded with -1), ranked documents per query, query tokens, machine load,
    and the latencies of each stage that ran (``vecbench.rag.retrieve.STAGES``)."""

    quality: QualityReport
    latencies_ns: NDArray[np.int64]
    chunk_ids: NDArray[np.int64]
    ranked: dict[str, list[str]]
    query_tokens: int
    machine_load: dict[str, Any]
    stage_ns: dict[str, NDArray[np.int64]] = field(default_factory=dict)


def query(
    ds: RagDataset,
    corpus: EmbeddedCorpus | ChunkedCorpus,
    store: Any,
    query_embedder: Any,
    plan: RetrievalPlan,
    reranker: Reranker | None = None,
    progress: Progress = NULL,
    *,
    mode: RetrievalMode | None = None,
    bm25: BM25Index | None = None,
) -> QueryOutcome:
    """Answer every judged query one at a time in one timed pass of the measuring core,
    timing each query end to end and each of its stages (embed, dense search, BM25,
    fusion, rerank; ``vecbench.rag.retrieve``); then score the pass. ``settings.warmup``
    untimed queries first load what loads lazily (models, caches).

    ``mode`` defaults to dense; sparse needs only ``corpus`` chunked (no store, no
    embedder) and ``bm25`` built over its chunks. Span metrics use the top
    ``plan.span_k`` chunks after reranking.
    """
    mode = mode or RetrievalMode()
    if mode.uses_dense:
        mode = resolve_where(mode, store)
    embedded = corpus if isinstance(corpus, EmbeddedCorpus) else None
    if mode.uses_dense:
        if embedded is None:
            raise ConfigError(f"retrieval {mode.label} needs the chunks embedded")
        check_query_embedder(embedded, query_embedder)
        store.set_search_params(dict(plan.search))
    chunked = embedded.chunked if embedded is not None else corpus
    assert isinstance(chunked, ChunkedCorpus)
    if bm25 is not None and bm25.n != len(chunked.chunks):
        raise ConfigError(f"the BM25 index holds {bm25.n} texts, the corpus {len(chunked.chunks)} chunks")
    qids = ds.evaluated_queries()
    if not qids:
        raise ConfigError(f"data set {ds.name!r} has no query with a positive judgment")
    retriever = Retriever(
        mode,
        chunked.chunks,
        plan.k_chunks,
        store=store if mode.uses_dense else None,
        vectors=embedded.vectors if embedded is not None else None,
        metric=Metric.parse(plan.metric),
        embedder=query_embedder if mode.uses_dense else None,
        bm25=bm25,
        reranker=reranker,
    )
    for qid in qids[: plan.settings.warmup]:  # untimed, as in the measuring core: models load here
        retriever.answer(ds.queries[qid])
    tokens: list[int] = []
    stages: list[dict[str, NDArray[np.int64]]] = []

    def answer(qid: str, lap: Any) -> list[Candidate]:
        return retriever.answer(ds.queries[qid], lap)

    def one_pass() -> tuple[list[Any], NDArray[np.int64]]:
        before = query_embedder.usage.tokens if mode.uses_dense else 0
        with progress.task(f"query ({mode.label})", total=len(qids), unit="q"):
            got, latencies, per_stage = timed_stage_calls(answer, qids, retriever.stages)
        tokens.append(query_embedder.usage.tokens - before if mode.uses_dense else 0)
        stages.append(per_stage)
        return got, latencies

    passes = Passes.run(one_pass, repeats=1, retries=plan.settings.disturbed_retries)
    out = _evaluate(ds, qids, passes, tokens[-1], query_embedder if mode.uses_dense else None, plan)
    out.stage_ns = stages[-1]
    return out


def _evaluate(
    ds: RagDataset, qids: list[str], passes: Passes, q_tokens: int, query_embedder: Any, plan: RetrievalPlan
) -> QueryOutcome:
    """Quality of the first pass's ranked candidates against the judgments."""
    chunk_ids = np.full((len(qids), plan.k_chunks), -1, dtype=np.int64)
    ranked: dict[str, list[str]] = {}
    per_query = []
    for qi, (qid, cands) in enumerate(zip(qids, passes.first or [], strict=True)):
        docs = aggregate_documents(cands)
        chunk_ids[qi, : min(len(cands), plan.k_chunks)] = [c.id for c in cands[: plan.k_chunks]]
        ranked[qid] = docs
        retrieved = [(c.doc_id, c.chunk.start, c.chunk.end) for c in cands[: plan.span_k]]
        relevant = [(s.doc_id, s.start, s.end) for s, _g in ds.spans.get(qid, [])]
        per_query.append(evaluate_query(qid, docs, ds.qrels.get(qid, {}), plan.ks, retrieved, relevant))
    if q_tokens == 0 and query_embedder is not None:  # an embedder that keeps no usage
        q_tokens = sum(query_embedder.count_tokens(ds.queries[q]) for q in qids)
    return QueryOutcome(
        summarize(per_query, plan.ks),
        passes.latencies_ns[0],
        chunk_ids,
        ranked,
        int(q_tokens),
        passes.machine_load(),
    )


def rag_machine_load(build: dict[str, Any] | None, search: dict[str, Any]) -> dict[str, Any]:
    """A rag record's ``machine_load``: ingest + build, the query pass, and which figures
    were taken while other processes loaded the machine (``cost.ingest_s``, ``latency``)."""
    figures = (["cost.ingest_s"] if build and build.get("disturbed") else []) + (
        ["latency"] if search.get("disturbed") else []
    )
    return {"build": build, "search": search, "disturbed_figures": figures}


def footprint_of(store: Any) -> dict[str, Any] | None:
    """The record's footprint of ``store``'s collection (``vecbench.measures.footprint``)."""
    info = getattr(store, "info", None)
    if info is None:
        from vecbench.measures.footprint import store_footprint

        return store_footprint(store)
    return collection_footprint(store, info.name, getattr(store, "_config", None))


def cost_of(
    corpus: EmbeddedCorpus | ChunkedCorpus,
    ingest_info: Mapping[str, Any],
    query_tokens: int,
    price_per_1m_tokens: float,
    bm25_index_s: float | None = None,
) -> dict[str, Any]:
    """The record's ``cost`` section; a sparse cell's ``corpus`` is only chunked (nothing
    embedded: tokens 0, ``embed_s`` None) and its ``ingest_s`` is the BM25 index build."""
    embedded = corpus if isinstance(corpus, EmbeddedCorpus) else None
    chunked = embedded.chunked if embedded is not None else corpus
    assert isinstance(chunked, ChunkedCorpus)
    tokens = embedded.tokens if embedded is not None else 0
    out = {
        "chunks": len(chunked.chunks),
        "docs_without_chunks": chunked.docs_without_chunks,
        "tokens": tokens,
        "chunk_s": chunked.chunk_s,
        "embed_s": embedded.embed_s if embedded is not None else None,
        "usd_embed": tokens * price_per_1m_tokens / 1e6,
        "query_tokens": query_tokens,
        "usd_queries": query_tokens * price_per_1m_tokens / 1e6,
        "price_per_1m_tokens": price_per_1m_tokens,
        "ingest_s": ingest_info["ingest_s"],
        "upsert_s": ingest_info.get("upsert_s"),
        "wait_ready_s": ingest_info.get("wait_ready_s"),
    }
    if embedded is not None and embedded.cache is not None:
        out["embed_s_source"] = embedded.embed_s_source
        out["embedding_cache"] = dict(embedded.cache)
    if bm25_index_s is not None:
        out["bm25_index_s"] = bm25_index_s
    return out


def stage_latency(stage_ns: Mapping[str, NDArray[np.int64]]) -> dict[str, dict[str, float]]:
    """The record's ``latency.stages``: p50, p99 and mean (ms) of each stage that ran."""
    out = {}
    for stage, ns in stage_ns.items():
        st = LatencyStats.from_ns(ns)
        out[stage] = {"p50_ms": st.p50_ms, "p99_ms": st.p99_ms, "mean_ms": st.mean_ms}
    return out


def build_bm25(chunked: ChunkedCorpus, params: BM25Params | None = None) -> tuple[BM25Index, float]:
    """A BM25 index over the chunks' text (chunk i is text i) and the seconds it took."""
    t0 = time.perf_counter_ns()
    index = BM25Index(params).build([c.text for c in chunked.chunks])
    return index, (time.perf_counter_ns() - t0) / 1e9


def run_pipeline(
    ds: RagDataset,
    chunker: Any,
    embedder: Any,
    store: Any,
    plan: RetrievalPlan | None = None,
    *,
    query_embedder: Any = None,
    reranker: Reranker | None = None,
    embedded: EmbeddedCorpus | None = None,
    progress: Progress = NULL,
    mode: RetrievalMode | None = None,
    bm25: BM25Params | None = None,
) -> RagResult:
    """Everything for one dense or hybrid configuration, on a connected ``store`` (entered
    by the caller); the collection is dropped at the end.

    ``query_embedder`` defaults to ``embedder``; a different name raises ConfigError, a
    different dimension DimensionMismatchError (checked before any work). Pass
    ``embedded`` to reuse a corpus already chunked and embedded with these components.
    ``mode`` (default dense) may be hybrid: BM25 with ``bm25`` over the same chunks.
    """
    plan = plan or RetrievalPlan()
    mode = mode or RetrievalMode()
    if not mode.uses_dense:
        raise ConfigError("run_pipeline runs dense and hybrid retrieval; sparse needs no store")
    mode = resolve_where(mode, store)
    _check_identity(embedder.name, int(embedder.dim), query_embedder or embedder)
    if embedded is None:
        embedded = embed_corpus(chunk_corpus(ds, chunker, progress), embedder, plan.batch_size, progress)
    elif embedded.embedder_name != embedder.name:
        raise ConfigError(f"embedded corpus is from {embedded.embedder_name!r}, not {embedder.name!r}")
    index, bm25_s = build_bm25(embedded.chunked, bm25) if mode.uses_sparse else (None, None)
    info = ingest(store, embedded, plan, progress=progress, full_text=mode.native)
    try:
        out = query(
            ds, embedded, store, query_embedder or embedder, plan, reranker, progress, mode=mode, bm25=index
        )
        footprint = footprint_of(store)
        described = dict(store.describe())
    finally:
        store.drop()
    return RagResult(
        quality=out.quality,
        cost=cost_of(embedded, info, out.query_tokens, plan.price_per_1m_tokens, bm25_s),
        latency=LatencyStats.from_ns(out.latencies_ns),
        latencies_ns=out.latencies_ns,
        chunk_ids=out.chunk_ids,
        ranked_docs=out.ranked,
        footprint=footprint,
        store=described,
        index={
            "collection": info["collection"],
            "type": plan.index_type,
            "metric": Metric.parse(plan.metric).value,
            "build": dict(plan.build),
            "search": dict(plan.search),
        },
        machine_load=rag_machine_load(info["machine_load"], out.machine_load),
        stages=stage_latency(out.stage_ns),
        retrieval=mode.as_dict(),
    )
