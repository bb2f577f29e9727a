"""The retrieval harness for text: corpus -> chunker -> embedder -> store -> (reranker) -> top-k.

Quality against relevance judgments (hit@k, recall@k, MRR@k, nDCG@10, span-level
recall/precision/IoU), cost (chunks and tokens embedded, embedding and ingest time) and
end-to-end query latency. Submodules import nothing heavy:

    from vecbench.rag.beir import load_beir
    from vecbench.rag.pipeline import RetrievalPlan, run_pipeline
    from vecbench.rag.run import run_rag
"""

from __future__ import annotations

__all__: list[str] = []
