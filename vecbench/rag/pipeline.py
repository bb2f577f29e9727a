"""The retrieval pipeline: chunk, embed, ingest into a store, query, rerank, evaluate.

Stages are separate so a sweep can chunk and embed a corpus once and index it in many
stores; ``run_pipeline`` does all of them for one configuration:

    ds = load_beir("/data/cranfield")
    with get_store("faiss") as store:
        result = run_pipeline(ds, chunker, embedder, store, k_chunks=50)
    result.quality.means["ndcg_at_10"], result.cost, result.latency.p99_ms
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vecbench.errors import ConfigError, DimensionMismatchError, InvalidVectorError
from vecbench.latency import LatencyStats
from vecbench.metrics import Metric
from vecbench.progress import Progress
from vecbench.rag.beir import RagDataset
from vecbench.rag.metrics import QualityReport, evaluate_query, summarize
from vecbench.rag.rerank import Candidate, DocChunk, Reranker
from vecbench.spec import CollectionSpec

__all__ = [
    "ChunkedCorpus",
    "EmbeddedCorpus",
    "RagResult",
    "chunk_corpus",
    "embed_corpus",
    "ingest",
    "query",
    "run_pipeline",
    "check_query_embedder",
]

NULL = Progress(enabled=False)


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


def collection_name(*parts: Any) -> str:
    return "vbrag_" + hashlib.sha256(repr(parts).encode()).hexdigest()[:12]


def ingest(
    store: Any,
    embedded: EmbeddedCorpus,
    *,
    metric: str | Metric = "cosine",
    index_type: str = "flat",
    build: Mapping[str, Any] | None = None,
    collection: str | None = None,
    batch_size: int = 1000,
    wait_timeout_s: float = 600.0,
    progress: Progress = NULL,
) -> dict[str, Any]:
    """Create the collection, upsert every chunk (payload: doc_id, start, end), wait until
    searchable. Returns ``{"collection", "ingest_s", "wait_ready_s"}``."""
    spec = CollectionSpec(
        collection
        or collection_name(embedded.embedder_name, embedded.chunked.chunker, index_type, dict(build or {})),
        dim=embedded.dim,
        metric=Metric.parse(metric),
        index_type=index_type,
        index_params=dict(build or {}),
    )
    store.create(spec, drop_old=True)
    chunks = embedded.chunked.chunks
    n = len(chunks)
    t0 = time.perf_counter_ns()
    with progress.task("ingest", total=n, unit="chunk") as bar:
        for i in range(0, n, batch_size):
            j = min(n, i + batch_size)
            payloads = [{"doc_id": c.doc_id, "start": c.start, "end": c.end} for c in chunks[i:j]]
            store.upsert(np.arange(i, j, dtype=np.int64), embedded.vectors[i:j], payloads)
            bar.advance(j - i)
    t1 = time.perf_counter_ns()
    store.wait_ready(timeout_s=wait_timeout_s)
    t2 = time.perf_counter_ns()
    return {
        "collection": spec.name,
        "ingest_s": (t2 - t0) / 1e9,
        "upsert_s": (t1 - t0) / 1e9,
        "wait_ready_s": (t2 - t1) / 1e9,
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


def query(
    ds: RagDataset,
    embedded: EmbeddedCorpus,
    store: Any,
    query_embedder: Any,
    *,
    metric: str | Metric = "cosine",
    search: Mapping[str, Any] | None = None,
    k_chunks: int = 50,
    ks: Sequence[int] = (1, 5, 10, 20),
    span_k: int = 10,
    reranker: Reranker | None = None,
    progress: Progress = NULL,
) -> tuple[QualityReport, NDArray[np.int64], NDArray[np.int64], dict[str, list[str]], int]:
    """Answer every judged query one at a time, timing embed + search + rerank + aggregation.

    Returns (quality, latencies_ns, chunk ids (nq, k_chunks) padded with -1, ranked docs per
    query, query tokens). Span metrics use the top ``span_k`` chunks after reranking.
    """
    check_query_embedder(embedded, query_embedder)
    metric = Metric.parse(metric)
    if k_chunks < 1 or span_k < 1 or not ks or min(ks) < 1:
        raise ConfigError("k_chunks, span_k and every k must be positive")
    store.set_search_params(dict(search or {}))
    qids = ds.evaluated_queries()
    if not qids:
        raise ConfigError(f"data set {ds.name!r} has no query with a positive judgment")
    chunks = embedded.chunked.chunks
    latencies = np.empty(len(qids), dtype=np.int64)
    chunk_ids = np.full((len(qids), k_chunks), -1, dtype=np.int64)
    ranked: dict[str, list[str]] = {}
    per_query = []
    tokens_before = query_embedder.usage.tokens
    clock = time.perf_counter_ns
    with progress.task("query", total=len(qids), unit="q") as bar:
        for qi, qid in enumerate(qids):
            text = ds.queries[qid]
            t0 = clock()
            qv = _check_vectors(query_embedder.embed([text]), 1, query_embedder)[0]
            ids = np.asarray(store.search(qv, k_chunks), dtype=np.int64)
            ids = ids[ids >= 0]
            scores = _scores(embedded.vectors, ids, qv, metric)
            cands = [Candidate(int(i), chunks[int(i)], float(s)) for i, s in zip(ids, scores, strict=True)]
            if reranker is not None:
                cands = reranker.rerank(text, cands)
            docs = aggregate_documents(cands)
            latencies[qi] = clock() - t0
            chunk_ids[qi, : len(cands)] = [c.id for c in cands[:k_chunks]]
            ranked[qid] = docs
            retrieved = [(c.doc_id, c.chunk.start, c.chunk.end) for c in cands[:span_k]]
            relevant = [(s.doc_id, s.start, s.end) for s, _g in ds.spans.get(qid, [])]
            per_query.append(evaluate_query(qid, docs, ds.qrels.get(qid, {}), ks, retrieved, relevant))
            bar.advance()
    q_tokens = query_embedder.usage.tokens - tokens_before
    if q_tokens == 0:
        q_tokens = sum(query_embedder.count_tokens(ds.queries[q]) for q in qids)
    return summarize(per_query, ks), latencies, chunk_ids, ranked, int(q_tokens)


def footprint_of(store: Any) -> dict[str, Any] | None:
    """The store's footprint when it can report one (a failure to report is not fatal)."""
    from vecbench.services.rss import with_service
    from vecbench.store import Footprint

    own = None
    if isinstance(store, Footprint):
        try:
            own = store.footprint().as_dict()
        except Exception:  # noqa: BLE001 - a missing figure is not a failed benchmark
            own = None
    info = getattr(store, "info", None)
    if info is None:
        return own
    return with_service(own, info.name, getattr(store, "_config", None))


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
    *,
    query_embedder: Any = None,
    metric: str | Metric = "cosine",
    index_type: str = "flat",
    build: Mapping[str, Any] | None = None,
    search: Mapping[str, Any] | None = None,
    k_chunks: int = 50,
    ks: Sequence[int] = (1, 5, 10, 20),
    span_k: int = 10,
    reranker: Reranker | None = None,
    batch_size: int = 64,
    price_per_1m_tokens: float = 0.0,
    embedded: EmbeddedCorpus | None = None,
    drop: bool = True,
    progress: Progress = NULL,
) -> RagResult:
    """Everything for one configuration, on a connected ``store`` (entered by the caller).

    ``query_embedder`` defaults to ``embedder``; a different name raises ConfigError, a
    different dimension DimensionMismatchError (checked before any work). Pass
    ``embedded`` to reuse a corpus already chunked and embedded with these components.
    """
    _check_identity(embedder.name, int(embedder.dim), query_embedder or embedder)
    if embedded is None:
        embedded = embed_corpus(chunk_corpus(ds, chunker, progress), embedder, batch_size, progress)
    elif embedded.embedder_name != embedder.name:
        raise ConfigError(f"embedded corpus is from {embedded.embedder_name!r}, not {embedder.name!r}")
    metric = Metric.parse(metric)
    info = ingest(store, embedded, metric=metric, index_type=index_type, build=build, progress=progress)
    try:
        quality, lat, chunk_ids, ranked, q_tokens = query(
            ds,
            embedded,
            store,
            query_embedder or embedder,
            metric=metric,
            search=search,
            k_chunks=k_chunks,
            ks=ks,
            span_k=span_k,
            reranker=reranker,
            progress=progress,
        )
        footprint = footprint_of(store)
        described = dict(store.describe())
    finally:
        if drop:
            store.drop()
    return RagResult(
        quality=quality,
        cost=cost_of(embedded, info, q_tokens, price_per_1m_tokens),
        latency=LatencyStats.from_ns(lat),
        latencies_ns=lat,
        chunk_ids=chunk_ids,
        ranked_docs=ranked,
        footprint=footprint,
        store=described,
        index={
            "collection": info["collection"],
            "type": index_type,
            "metric": metric.value,
            "build": dict(build or {}),
            "search": dict(search or {}),
        },
    )
