"""Corpus embedding with Ray Data: the chunks' texts as a dataset, ``map_batches`` with the
embedder on the cluster's nodes, vectors back in chunk order.

Each Ray Data actor gets its own copy of the embedder (pickled once per actor) and embeds
``batch_size`` texts per call; the tokens each batch spent are counted by that copy and
summed here. ``embed_s`` is the wall time of the whole pipeline (scheduling included).

    embedded = embed_corpus_ray(chunked, embedder, batch_size=64, concurrency=4)
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from vecbench.errors import ConfigError
from vecbench.util.progress import NULL, Progress

__all__ = ["embed_corpus_ray"]


class _EmbedBatch:
    """The ``map_batches`` callable: embeds a batch of texts with its own embedder copy."""

    def __init__(self, embedder: Any) -> None:
        self.embedder = embedder

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        from vecbench.rag.retrieve import check_vectors

        texts = [str(t) for t in batch["text"]]
        before = self.embedder.usage.tokens
        vecs = check_vectors(self.embedder.embed(texts), len(texts), self.embedder)
        tokens = np.zeros(len(texts), dtype=np.int64)
        if len(texts):
            tokens[0] = self.embedder.usage.tokens - before
        return {"i": np.asarray(batch["i"], dtype=np.int64), "vector": vecs, "tokens": tokens}


def embed_corpus_ray(
    chunked: Any,
    embedder: Any,
    batch_size: int = 64,
    progress: Progress = NULL,
    concurrency: int | None = None,
) -> Any:
    """``vecbench.rag.corpus.embed_corpus`` on the joined Ray cluster (``concurrency``: embedding
    actors, default one per CPU); the same EmbeddedCorpus, vectors in chunk order."""
    from vecbench.distributed.cluster import alive_nodes, connect
    from vecbench.rag.corpus import EmbeddedCorpus

    ray = connect()
    if batch_size < 1:
        raise ConfigError(f"batch_size must be positive, got {batch_size}")
    n = len(chunked.chunks)
    if n == 0:
        raise ConfigError("the chunker produced no chunks: nothing to index")
    actors = concurrency or max(1, int(sum(node["cpus"] for node in alive_nodes())))
    rows = [{"i": i, "text": c.text} for i, c in enumerate(chunked.chunks)]
    vectors = np.empty((n, embedder.dim), dtype=np.float32)
    tokens = 0
    t0 = time.perf_counter_ns()
    with progress.task(f"embed on Ray ({embedder.name})", total=n, unit="chunk") as bar:
        ds = ray.data.from_items(rows).map_batches(
            _EmbedBatch,
            fn_constructor_args=(embedder,),
            batch_size=batch_size,
            concurrency=actors,
            num_cpus=1,
            batch_format="numpy",
        )
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
            vectors[batch["i"]] = batch["vector"]
            tokens += int(batch["tokens"].sum())
            bar.advance(len(batch["i"]))
    spent_s = (time.perf_counter_ns() - t0) / 1e9
    if tokens == 0:  # an embedder that does not keep usage: count with its tokenizer
        tokens = sum(embedder.count_tokens(c.text) for c in chunked.chunks)
    return EmbeddedCorpus(chunked, vectors, embedder.name, int(embedder.dim), int(tokens), spent_s)
