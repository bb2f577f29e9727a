"""The text pipeline's embedded default: what ``vecbench rag run`` with no arguments runs.

The packaged Cranfield (1,400 abstracts, 225 judged queries) x four chunkers (whole,
recursive, discourse, nsp) x the distilled static model2vec (every chunker) and the
offline all-MiniLM-L6-v2 (whole documents) x FAISS exact search, in four retrieval modes
(dense, BM25, hybrid by reciprocal rank, hybrid by a 50/50 weighted sum), without and
(whole documents) with a MiniLM embedding reranker over the top 50. No server, no
download.

MiniLM embeds 1,400 whole documents in about a minute on 2 cores; each further chunker
would add one to three minutes to a cold run, so MiniLM runs with ``whole`` only here.
``benchmarks/configs/rag-cranfield-hybrid.yaml`` is the full grid (every chunker with both
embedders, reranked). Corpus vectors go to the embedding cache
(``$VECBENCH_CACHE/embeddings``): a second run embeds nothing.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from vecbench.errors import ConfigError

__all__ = ["default_config", "check_default_installed"]

_NEEDS = {
    "faiss": "faiss",
    "sentence_transformers": "embed",
    "model2vec": "embed",
    "bm25s": "rag",
    "Stemmer": "rag",
}


def default_config() -> dict[str, Any]:
    """The default grid as a rag config mapping (see the module's docstring)."""
    minilm = {"name": "sentence-transformers"}
    return {
        "dataset": "beir:cranfield",
        "chunkers": [
            {"name": "whole"},
            {"name": "recursive", "params": {"chunk_size": 512, "chunk_overlap": 64}},
            {"name": "discourse", "params": {"max_chars": 1000}},
            # (cos + 1) / 2 >= 0.8 between adjacent sentences under the static model
            {"name": "nsp", "params": {"threshold": 0.8, "max_chars": 1000, "scorer": "cosine:model2vec"}},
        ],
        "embedders": [{"name": "model2vec"}, {**minilm, "chunkers": ["whole"]}],
        "stores": [{"name": "faiss", "index": "flat", "metric": "cosine"}],
        "hybrid_where": "client",  # FAISS has no full-text index: fused on the client
        "retrieval": [
            "dense",
            "sparse",
            {"mode": "hybrid", "fusion": "rrf", "rrf_k": 60},
            {"mode": "hybrid", "fusion": "weighted", "alpha": 0.5},
        ],
        "rerankers": [
            "none",
            {"name": "embedding", "embedder": minilm, "precompute": True, "chunkers": ["whole"]},
        ],
        "k": [1, 5, 10, 20],
        "k_chunks": 50,
        "price_per_1m_tokens": 0.02,
    }


def check_default_installed() -> None:
    """ConfigError naming the extras to install when a library the default needs is missing."""
    missing = sorted({extra for mod, extra in _NEEDS.items() if importlib.util.find_spec(mod) is None})
    if missing:
        raise ConfigError(
            f"the text pipeline's default needs pip install 'vecbench[{','.join(missing)},report]' "
            "(or bash scripts/rag-demo.sh)"
        )
