"""The parts of a ``kind: "rag"`` record: the cell's id, its confidence intervals, its
cost and latency sections, and the record itself.

A sparse (BM25-only) cell uses no embedder and no store: its record has ``embedder``
null, ``store.name`` ``bm25s`` and ``index.type`` ``bm25`` (the BM25 settings as its
build). Every record says how it retrieved in ``search.retrieval`` (mode; for hybrid the
fusion, its parameter and ``where: client`` or ``native``, and for native the engine's
``method``) and times each stage in ``latency.stages``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from vecbench.measures.cost import rag_cost
from vecbench.measures.latency import LatencyStats
from vecbench.measures.stats import ci_section, mean_ci
from vecbench.rag.beir import RagDataset
from vecbench.rag.config import ComponentConfig, RagConfig, StoreConfig
from vecbench.rag.corpus import ChunkedCorpus, EmbeddedCorpus
from vecbench.rag.fusion import RetrievalMode
from vecbench.rag.metrics import QualityReport
from vecbench.rag.pipeline import QueryOutcome, cost_of, rag_machine_load, stage_latency
from vecbench.results import public_config
from vecbench.results.records import canonical

__all__ = ["rag_cell_id", "rag_ci", "measured_sections", "BM25_STORE"]

BM25_STORE = "bm25s"
"""The ``store.name`` of a sparse cell: BM25 on the client, through the bm25s library."""


def rag_cell_id(
    cfg: RagConfig,
    ds: RagDataset,
    chunker: ComponentConfig,
    embedder: ComponentConfig | None,
    store: StoreConfig | None,
    search: Mapping[str, Any],
    reranker: ComponentConfig | None,
    mode: RetrievalMode | None = None,
) -> str:
    """A stable sha256 of everything that defines the cell (store secrets excluded).

    A dense cell's id is what it was before retrieval modes existed (results files keep
    resuming); a sparse cell's names no embedder and no store.
    """
    mode = mode or RetrievalMode()
    payload: dict[str, Any] = {
        "kind": "rag",
        "dataset": ds.checksum,
        "chunker": [chunker.name, chunker.params],
    }
    if mode.uses_dense:
        assert embedder is not None and store is not None
        payload.update(
            embedder=[embedder.name, embedder.params],
            store=store.name,
            config=public_config(store.config),
            index=store.index,
            metric=store.metric,
            build=store.build,
            search=dict(search),
        )
    payload.update(
        reranker=None if reranker is None else [reranker.name, reranker.params],
        k=cfg.ks,
        k_chunks=cfg.k_chunks,
        span_k=cfg.span_k,
    )
    if mode.uses_sparse:
        payload.update(retrieval=mode.as_dict(), bm25=cfg.bm25.as_dict())
    elif mode.native:  # the engine's own full-text index: no BM25 settings of ours
        payload.update(retrieval=mode.as_dict())
    return hashlib.sha256(canonical(payload).encode()).hexdigest()


def rag_ci(report: QualityReport, latencies_ns: Any, ks: Sequence[int], resamples: int) -> dict[str, Any]:
    """The ``ci`` section of a rag record: nDCG@10, MRR@10, span IoU (over the queries where
    it is defined), recall@k and hit@k (per k, as in ``quality``), p50 and p99 of the
    end-to-end query latency."""
    per = report.per_query
    iou = [q.span.get("span_iou") for q in per]
    section = ci_section(
        per_query={
            "ndcg_at_10": [q.ndcg_at_10 for q in per],
            "mrr_at_10": [q.mrr_at_10 for q in per],
            "span_iou": [v for v in iou if v is not None] or None,
        },
        latencies_ns=latencies_ns,
        latency_keys=("p50_ms", "p99_ms"),
        repeats=1,
        resamples=resamples,
    )
    for name in ("recall_at_k", "hit_at_k"):
        section[name] = {str(k): mean_ci([getattr(q, name)[k] for q in per], resamples=resamples) for k in ks}
    return section


def measured_sections(
    cfg: RagConfig,
    corpus: EmbeddedCorpus | ChunkedCorpus,
    info: Mapping[str, Any],
    out: QueryOutcome,
    footprint: Any,
    machine: Any,
    store_config: Mapping[str, Any] | None,
    bm25_index_s: float | None = None,
) -> dict[str, Any]:
    """The measured sections of an ok record (quality, cost, latency, footprint, ci,
    machine_load)."""
    lat = LatencyStats.from_ns(out.latencies_ns).as_dict()
    tokens = corpus.tokens if isinstance(corpus, EmbeddedCorpus) else 0
    dollars = rag_cost(
        latency=lat,
        footprint=footprint,
        machine=machine,
        store_config=store_config,
        ingest_s=info.get("ingest_s"),
        embedding_tokens=tokens,
        query_tokens=out.query_tokens,
        prices=cfg.prices,
    )
    cost = {
        **cost_of(corpus, info, out.query_tokens, cfg.prices.usd_per_1m_embedding_tokens, bm25_index_s),
        **dollars,
    }
    return {
        "quality": out.quality.means,
        "cost": cost,
        "latency": {**lat, "queries": int(out.latencies_ns.size), "stages": stage_latency(out.stage_ns)},
        "footprint": footprint,
        "ci": rag_ci(out.quality, out.latencies_ns, cfg.ks, cfg.ci_resamples),
        "machine_load": rag_machine_load(info.get("machine_load"), out.machine_load),
    }
