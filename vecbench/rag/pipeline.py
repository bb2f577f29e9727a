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
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vecbench.config.settings import Settings
from vecbench.errors import ConfigError, DimensionMismatchError, InvalidVectorError
from vecbench.harness.build import build_collection, collection_name
from vecbench.harness.measure import Passes, timed_calls
from vecbench.measures.footprint import collection_footprint
from vecbench.measures.latency import LatencyStats
from vecbench.metrics import Metric
from vecbench.rag.beir import RagDataset
from vecbench.rag.metrics import QualityReport, evaluate_query, summarize
from vecbench.rag.rerank import Candidate, DocChunk, Reranker
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
class ChunkedCorpus:
    """Every chunk of every document, in document order; chunk i is stored with id i."""

    chunks: list[DocChunk]
    chunker: dict[str, Any]
    chunk_s: float
    docs_without_chunks: int


@dataclass
class EmbeddedCorpus:
    """Chunks with their vectors, and what embedding them cost."""

    chunked: ChunkedCorpus
    vectors: NDArray[np.float32]
    embedder_name: str
    dim: int
    tokens: int
    embed_s: float

    @property
    def n(self) -> int:
        return len(self.chunked.chunks)

    def batches(self, batch_size: int) -> Iterator[tuple[NDArray[np.int64], NDArray[np.float32], list[dict]]]:
        """(ids, vectors, payloads) in order; chunk i has id i and payload doc_id, start, end."""
        chunks = self.chunked.chunks
        for i in range(0, self.n, batch_size):
            j = min(self.n, i + batch_size)
            payloads = [{"doc_id": c.doc_id, "start": c.start, "end": c.end} for c in chunks[i:j]]
            yield np.arange(i, j, dtype=np.int64), self.vectors[i:j], payloads


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


def chunk_corpus(ds: RagDataset, chunker: Any, progress: Progress = NULL) -> ChunkedCorpus:
    """Chunk every document; a chunk whose offsets do not match its text raises ConfigError."""
    chunks: list[DocChunk] = []
    without = 0
    t0 = time.perf_counter_ns()
    with progress.task(f"chunk ({chunker.name})", total=len(ds.docs), unit="doc") as bar:
        for doc in ds.docs.values():
            got = chunker.chunk(doc.text)
            kept = 0
            for c in got:
                if doc.text[c.start : c.end] != c.text:
                    raise ConfigError(
                        f"chunker {chunker.name!r} gave chunk [{c.start}, {c.end}) of document {doc.id!r} "
                        "whose text differs from the document's at those offsets"
                    )
                if c.text.strip():  # a blank chunk has nothing to embed
                    chunks.append(DocChunk(doc.id, c))
                    kept += 1
            without += kept == 0
            bar.advance()
    elapsed = (time.perf_counter_ns() - t0) / 1e9
    return ChunkedCorpus(chunks, {"name": chunker.name, "params": dict(chunker.params)}, elapsed, without)


def _check_vectors(vecs: Any, n: int, embedder: Any) -> NDArray[np.float32]:
    out = np.ascontiguousarray(vecs, dtype=np.float32)
    if out.shape != (n, embedder.dim):
        raise DimensionMismatchError(
            f"embedder {embedder.name!r} returned shape {out.shape} for {n} texts; its dim is {embedder.dim}"
        )
    if not np.isfinite(out).all():
        raise InvalidVectorError(f"embedder {embedder.name!r} returned NaN or inf")
    return out


def embed_corpus(
    chunked: ChunkedCorpus, embedder: Any, batch_size: int = 64, progress: Progress = NULL
) -> EmbeddedCorpus:
    """Embed every chunk in batches; only the embed calls are timed."""
    if batch_size < 1:
        raise ConfigError(f"batch_size must be positive, got {batch_size}")
    n = len(chunked.chunks)
    if n == 0:
        raise ConfigError("the chunker produced no chunks: nothing to index")
    vectors = np.empty((n, embedder.dim), dtype=np.float32)
    tokens_before = embedder.usage.tokens
    spent = 0
    with progress.task(f"embed ({embedder.name})", total=n, unit="chunk") as bar:
        for i in range(0, n, batch_size):
            texts = [c.text for c in chunked.chunks[i : i + batch_size]]
            t0 = time.perf_counter_ns()
            vecs = embedder.embed(texts)
            spent += time.perf_counter_ns() - t0
            vectors[i : i + len(texts)] = _check_vectors(vecs, len(texts), embedder)
            bar.advance(len(texts))
    tokens = embedder.usage.tokens - tokens_before
    if tokens == 0:  # an embedder that does not keep usage: count with its tokenizer
        tokens = sum(embedder.count_tokens(c.text) for c in chunked.chunks)
    return EmbeddedCorpus(chunked, vectors, embedder.name, int(embedder.dim), int(tokens), spent / 1e9)


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
) -> dict[str, Any]:
    """Create the collection, upsert every chunk (payload: doc_id, start, end), wait until
    searchable: the harness's timed build. Returns ``{"collection", "ingest_s" (upsert +
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


def _scores(
    vectors: NDArray[np.float32], ids: NDArray[np.int64], q: NDArray[np.float32], metric: Metric
) -> Any:
    """Scores recomputed by the harness (higher is better), never taken from the engine."""
    cand = vectors[ids]
    if metric is Metric.COSINE:
        qn = q / (np.linalg.norm(q) or 1.0)
        norms = np.linalg.norm(cand, axis=1)
        norms[norms == 0] = 1.0
        return (cand @ qn) / norms
    if metric is Metric.IP:
        return cand @ q
    return -np.linalg.norm(cand - q, axis=1)


def aggregate_documents(candidates: Sequence[Candidate]) -> list[str]:
    """Documents in the order of their first (best-ranked) chunk, i.e. by max chunk score."""
    seen: dict[str, None] = {}
    for c in candidates:
        seen.setdefault(c.doc_id, None)
    return list(seen)


@dataclass
class QueryOutcome:
    """What answering every judged query gave: quality, end-to-end latencies, the chunk ids
    (nq, k_chunks, padded with -1), ranked documents per query, query tokens, machine load."""

    quality: QualityReport
    latencies_ns: NDArray[np.int64]
    chunk_ids: NDArray[np.int64]
    ranked: dict[str, list[str]]
    query_tokens: int
    machine_load: dict[str, Any]


def query(
    ds: RagDataset,
    embedded: EmbeddedCorpus,
    store: Any,
    query_embedder: Any,
    plan: RetrievalPlan,
    reranker: Reranker | None = None,
    progress: Progress = NULL,
) -> QueryOutcome:
    """Answer every judged query one at a time in one timed pass of the measuring core,
    timing embed + search + score + rerank + aggregation per query; then score the pass.

    Span metrics use the top ``plan.span_k`` chunks after reranking.
    """
    check_query_embedder(embedded, query_embedder)
    store.set_search_params(dict(plan.search))
    qids = ds.evaluated_queries()
    if not qids:
        raise ConfigError(f"data set {ds.name!r} has no query with a positive judgment")
    chunks = embedded.chunked.chunks
    tokens: list[int] = []

    def answer(qid: str) -> list[Candidate]:
        qv = _check_vectors(query_embedder.embed([ds.queries[qid]]), 1, query_embedder)[0]
        ids = np.asarray(store.search(qv, plan.k_chunks), dtype=np.int64)
        ids = ids[ids >= 0]
        scores = _scores(embedded.vectors, ids, qv, Metric.parse(plan.metric))
        cands = [Candidate(int(i), chunks[int(i)], float(s)) for i, s in zip(ids, scores, strict=True)]
        return reranker.rerank(ds.queries[qid], cands) if reranker is not None else cands

    def one_pass() -> tuple[list[Any], NDArray[np.int64]]:
        before = query_embedder.usage.tokens
        with progress.task("query", total=len(qids), unit="q"):
            got = timed_calls(answer, qids)
        tokens.append(query_embedder.usage.tokens - before)
        return got

    passes = Passes.run(one_pass, repeats=1, retries=plan.settings.disturbed_retries)
    return _evaluate(ds, qids, passes, tokens[-1], query_embedder, plan)


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
    if q_tokens == 0:  # an embedder that does not keep usage: count with its tokenizer
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
    embedded: EmbeddedCorpus, ingest_info: Mapping[str, Any], query_tokens: int, price_per_1m_tokens: float
) -> dict[str, Any]:
    """The record's ``cost`` section."""
    return {
        "chunks": len(embedded.chunked.chunks),
        "docs_without_chunks": embedded.chunked.docs_without_chunks,
        "tokens": embedded.tokens,
        "chunk_s": embedded.chunked.chunk_s,
        "embed_s": embedded.embed_s,
        "usd_embed": embedded.tokens * price_per_1m_tokens / 1e6,
        "query_tokens": query_tokens,
        "usd_queries": query_tokens * price_per_1m_tokens / 1e6,
        "price_per_1m_tokens": price_per_1m_tokens,
        "ingest_s": ingest_info["ingest_s"],
        "upsert_s": ingest_info["upsert_s"],
        "wait_ready_s": ingest_info["wait_ready_s"],
    }


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
) -> RagResult:
    """Everything for one configuration, on a connected ``store`` (entered by the caller);
    the collection is dropped at the end.

    ``query_embedder`` defaults to ``embedder``; a different name raises ConfigError, a
    different dimension DimensionMismatchError (checked before any work). Pass
    ``embedded`` to reuse a corpus already chunked and embedded with these components.
    """
    plan = plan or RetrievalPlan()
    _check_identity(embedder.name, int(embedder.dim), query_embedder or embedder)
    if embedded is None:
        embedded = embed_corpus(chunk_corpus(ds, chunker, progress), embedder, plan.batch_size, progress)
    elif embedded.embedder_name != embedder.name:
        raise ConfigError(f"embedded corpus is from {embedded.embedder_name!r}, not {embedder.name!r}")
    info = ingest(store, embedded, plan, progress=progress)
    try:
        out = query(ds, embedded, store, query_embedder or embedder, plan, reranker, progress)
        footprint = footprint_of(store)
        described = dict(store.describe())
    finally:
        store.drop()
    return RagResult(
        quality=out.quality,
        cost=cost_of(embedded, info, out.query_tokens, plan.price_per_1m_tokens),
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
    )
