"""Chunk a corpus and embed its chunks (the first stages of the retrieval pipeline).

    chunked = chunk_corpus(ds, chunker)
    embedded = embed_corpus(chunked, EmbeddingCache(embedder))   # reruns read the vectors back

Through an ``EmbeddingCache`` a corpus is embedded once per embedder identity, ever; what
embedding it cost (seconds, tokens) is kept beside the vectors, so a run that reads them
back still reports the cost of computing them (``embed_s_source: "cache"``).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vecbench.errors import ConfigError
from vecbench.rag.beir import RagDataset
from vecbench.rag.rerank import DocChunk
from vecbench.rag.retrieve import check_vectors
from vecbench.util.progress import NULL, Progress

__all__ = ["ChunkedCorpus", "EmbeddedCorpus", "chunk_corpus", "embed_corpus"]


@dataclass
class ChunkedCorpus:
    """Every chunk of every document, in document order; chunk i is stored with id i."""

    chunks: list[DocChunk]
    chunker: dict[str, Any]
    chunk_s: float
    docs_without_chunks: int


@dataclass
class EmbeddedCorpus:
    """Chunks with their vectors, and what embedding them cost.

    ``embed_s`` is the time to compute every vector; ``embed_s_source`` says where it comes
    from: ``measured`` (every vector computed now), ``extrapolated`` (some vectors were in
    the cache already, from other corpora: the time of the rest x distinct texts / texts
    computed), ``cache`` or ``cache, extrapolated`` (every vector read back: the figure kept
    by the run that computed them), ``unknown`` (read back with no figure kept: the lookup
    time). ``cache`` holds the texts computed now, the rest, and this run's time in the
    embedder (``lookup_s``) when an EmbeddingCache was used.
    """

    chunked: ChunkedCorpus
    vectors: NDArray[np.float32]
    embedder_name: str
    dim: int
    tokens: int
    embed_s: float
    embed_s_source: str = "measured"
    cache: dict[str, Any] | None = field(default=None)

    @property
    def n(self) -> int:
        return len(self.chunked.chunks)

    def batches(self, batch_size: int) -> Iterator[tuple[NDArray[np.int64], NDArray[np.float32], list[dict]]]:
        """(ids, vectors, payloads) in order; chunk i has id i and payload doc_id, start, end
        and text (what a HybridSearch store indexes for full-text search; others ignore it)."""
        chunks = self.chunked.chunks
        for i in range(0, self.n, batch_size):
            j = min(self.n, i + batch_size)
            payloads = [
                {"doc_id": c.doc_id, "start": c.start, "end": c.end, TEXT_KEY: c.text} for c in chunks[i:j]
            ]
            yield np.arange(i, j, dtype=np.int64), self.vectors[i:j], payloads


TEXT_KEY = "text"
"""The payload key of a chunk's text (``CollectionSpec.full_text`` of a native hybrid index)."""


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


def _corpus_key(chunked: ChunkedCorpus) -> str:
    h = hashlib.sha256()
    for c in chunked.chunks:
        h.update(hashlib.sha256(c.text.encode("utf-8")).digest())
    return "corpus:" + h.hexdigest()


def embed_corpus(
    chunked: ChunkedCorpus, embedder: Any, batch_size: int = 64, progress: Progress = NULL
) -> EmbeddedCorpus:
    """Embed every chunk in batches; only the embed calls are timed. ``embedder`` may be an
    ``EmbeddingCache`` (see the module's docstring)."""
    from vecbench.embedding.cache import EmbeddingCache

    if batch_size < 1:
        raise ConfigError(f"batch_size must be positive, got {batch_size}")
    n = len(chunked.chunks)
    if n == 0:
        raise ConfigError("the chunker produced no chunks: nothing to index")
    cached = isinstance(embedder, EmbeddingCache)
    texts_before = embedder.usage.texts
    vectors = np.empty((n, embedder.dim), dtype=np.float32)
    tokens_before = embedder.usage.tokens
    spent = 0
    with progress.task(f"embed ({embedder.name})", total=n, unit="chunk") as bar:
        for i in range(0, n, batch_size):
            texts = [c.text for c in chunked.chunks[i : i + batch_size]]
            t0 = time.perf_counter_ns()
            vecs = embedder.embed(texts)
            spent += time.perf_counter_ns() - t0
            vectors[i : i + len(texts)] = check_vectors(vecs, len(texts), embedder)
            bar.advance(len(texts))
    tokens = embedder.usage.tokens - tokens_before
    if not cached:
        if tokens == 0:  # an embedder that does not keep usage: count with its tokenizer
            tokens = sum(embedder.count_tokens(c.text) for c in chunked.chunks)
        return EmbeddedCorpus(chunked, vectors, embedder.name, int(embedder.dim), int(tokens), spent / 1e9)
    computed = embedder.usage.texts - texts_before
    return _from_cache(chunked, vectors, embedder, computed, spent / 1e9)


def _from_cache(
    chunked: ChunkedCorpus, vectors: NDArray[np.float32], cache: Any, computed: int, spent_s: float
) -> EmbeddedCorpus:
    """The EmbeddedCorpus of a run through an EmbeddingCache (``computed``: distinct texts
    the model embedded now), with the cost of a complete embedding kept beside the vectors.
    Tokens count every chunk (duplicates too), by the embedder's own tokenizer."""
    key = _corpus_key(chunked)
    note = cache.get_note(key)
    kept = json.loads(note) if note else None
    distinct = len({c.text for c in chunked.chunks})
    if computed == 0 and kept is not None:
        embed_s, tokens = float(kept["embed_s"]), int(kept["tokens"])
        source = "cache" if kept.get("source") == "measured" else "cache, extrapolated"
    else:
        tokens = sum(cache.count_tokens(c.text) for c in chunked.chunks)
        if computed == distinct:
            embed_s, source = spent_s, "measured"
        elif computed:  # some vectors came from other corpora: scale the time of the rest
            embed_s, source = spent_s * distinct / computed, "extrapolated"
        else:
            embed_s, source = spent_s, "unknown"
        if source != "unknown":
            cache.set_note(key, json.dumps({"embed_s": embed_s, "tokens": tokens, "source": source}))
    n = len(chunked.chunks)
    stats = {"computed": computed, "not_computed": n - computed, "lookup_s": spent_s}
    return EmbeddedCorpus(chunked, vectors, cache.name, int(cache.dim), int(tokens), embed_s, source, stats)
