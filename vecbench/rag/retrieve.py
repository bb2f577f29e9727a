"""Answer one query in a retrieval mode, stage by stage, for the measuring core to time.

Stages, in order (each ends with a lap of ``vecbench.harness.measure.timed_stage_calls``):

- ``embed_query``: the query embedded by the index's embedder (dense, hybrid);
- ``dense_search``: the store's top ``k_chunks`` and their scores, recomputed by vecbench
  from the stored vectors under the index metric (never the engine's own scores);
- ``sparse_search``: BM25's top ``k_chunks`` (sparse, hybrid);
- ``fusion``: the two rankings fused, cut to ``k_chunks`` (hybrid on the client);
- ``hybrid_search``: the store's own hybrid query (``HybridSearch``), full-text and vector
  search fused by the engine in one request (hybrid ``where: native``); the candidates'
  scores are then ``1 / rank`` (the engine's fused scores are not the harness's);
- ``rerank``: the reranker over the candidates (when there is one).

    r = Retriever(RetrievalMode("hybrid"), chunks, 50, store=s, vectors=v, embedder=e, bm25=ix)
    candidates = r.answer("shock wave interaction", lap)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vecbench.errors import ConfigError, DimensionMismatchError, InvalidVectorError
from vecbench.metrics import Metric
from vecbench.rag.fusion import RetrievalMode, rrf_fusion, weighted_fusion
from vecbench.rag.rerank import Candidate, DocChunk, Reranker
from vecbench.rag.sparse import BM25Index

__all__ = ["STAGES", "Retriever", "check_vectors", "harness_scores"]

STAGES = ("embed_query", "dense_search", "sparse_search", "fusion", "hybrid_search", "rerank")


def check_vectors(vecs: Any, n: int, embedder: Any) -> NDArray[np.float32]:
    """``vecs`` as a C-contiguous float32 (n, dim) array; DimensionMismatchError or
    InvalidVectorError when the embedder returned something else."""
    out = np.ascontiguousarray(vecs, dtype=np.float32)
    if out.shape != (n, embedder.dim):
        raise DimensionMismatchError(
            f"embedder {embedder.name!r} returned shape {out.shape} for {n} texts; its dim is {embedder.dim}"
        )
    if not np.isfinite(out).all():
        raise InvalidVectorError(f"embedder {embedder.name!r} returned NaN or inf")
    return out


def harness_scores(
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


def _no_lap(stage: str) -> None:
    return None


@dataclass
class Retriever:
    """What one cell needs to answer a query: the mode, the chunks (id i is chunk i), how
    many chunks each retriever returns, and the parts the mode uses."""

    mode: RetrievalMode
    chunks: Sequence[DocChunk]
    k_chunks: int
    store: Any = None
    vectors: NDArray[np.float32] | None = None
    metric: Metric = Metric.COSINE
    embedder: Any = None
    bm25: BM25Index | None = None
    reranker: Reranker | None = None

    def __post_init__(self) -> None:
        if self.mode.uses_dense and (self.store is None or self.vectors is None or self.embedder is None):
            raise ConfigError(
                f"retrieval {self.mode.label}: needs a store, the chunk vectors and an embedder"
            )
        if self.mode.uses_sparse and self.bm25 is None:
            raise ConfigError(f"retrieval {self.mode.label}: needs a BM25 index of the chunks")
        if self.mode.mode == "hybrid" and self.mode.where == "auto":
            from vecbench.rag.fusion import resolve_where

            self.mode = resolve_where(self.mode, self.store)
        if self.mode.native:
            from vecbench.rag.fusion import resolve_where

            resolve_where(self.mode, self.store)  # ConfigError when the store cannot

    @property
    def stages(self) -> tuple[str, ...]:
        """The stages this retriever runs, in order."""
        native = self.mode.native
        ran = {
            "embed_query": self.mode.uses_dense,
            "dense_search": self.mode.uses_dense and not native,
            "sparse_search": self.mode.uses_sparse,
            "fusion": self.mode.mode == "hybrid" and not native,
            "hybrid_search": native,
            "rerank": self.reranker is not None,
        }
        return tuple(s for s in STAGES if ran[s])

    def _dense(self, text: str, lap: Callable[[str], None]) -> list[tuple[int, float]]:
        qv = check_vectors(self.embedder.embed([text]), 1, self.embedder)[0]
        lap("embed_query")
        ids = np.asarray(self.store.search(qv, self.k_chunks), dtype=np.int64)
        ids = ids[ids >= 0]
        assert self.vectors is not None  # checked in __post_init__
        scores = harness_scores(self.vectors, ids, qv, self.metric)
        ranked = [(int(i), float(s)) for i, s in zip(ids, scores, strict=True)]
        lap("dense_search")
        return ranked

    def _native(self, text: str, lap: Callable[[str], None]) -> list[tuple[int, float]]:
        qv = check_vectors(self.embedder.embed([text]), 1, self.embedder)[0]
        lap("embed_query")
        m = self.mode
        ids = self.store.search_hybrid(qv, text, self.k_chunks, fusion=m.fusion, alpha=m.alpha, rrf_k=m.rrf_k)
        ranked = [(int(i), 1.0 / r) for r, i in enumerate(ids, start=1)]
        lap("hybrid_search")
        return ranked

    def _sparse(self, text: str, lap: Callable[[str], None]) -> list[tuple[int, float]]:
        assert self.bm25 is not None  # checked in __post_init__
        ids, scores = self.bm25.search(text, self.k_chunks)
        ranked = [(int(i), float(s)) for i, s in zip(ids, scores, strict=True)]
        lap("sparse_search")
        return ranked

    def answer(self, text: str, lap: Callable[[str], None] = _no_lap) -> list[Candidate]:
        """The query's candidate chunks, best first (at most ``k_chunks``)."""
        mode = self.mode
        if mode.native:
            return self._candidates(text, self._native(text, lap), lap)
        dense = self._dense(text, lap) if mode.uses_dense else []
        sparse = self._sparse(text, lap) if mode.uses_sparse else []
        if mode.mode == "hybrid":
            if mode.fusion == "rrf":
                ranked = rrf_fusion([dense, sparse], mode.rrf_k)[: self.k_chunks]
            else:
                ranked = weighted_fusion(dense, sparse, float(mode.alpha or 0.0))[: self.k_chunks]
            lap("fusion")
        else:
            ranked = dense or sparse
        return self._candidates(text, ranked, lap)

    def _candidates(
        self, text: str, ranked: list[tuple[int, float]], lap: Callable[[str], None]
    ) -> list[Candidate]:
        cands = [Candidate(cid, self.chunks[cid], score) for cid, score in ranked]
        if self.reranker is not None:
            cands = self.reranker.rerank(text, cands)
            lap("rerank")
        return cands
