"""Real MiniLM vectors of the packaged Cranfield corpus: what the embedlike profile is fitted to.

    from vecbench.datasets.embedlike_real import cranfield_minilm
    passages, queries = cranfield_minilm()      # (n, 384) and (225, 384), unit norm

Passages are the corpus's documents cut by vecbench's recursive chunker (``CHUNK_CHARS``
characters, no overlap, titles dropped: Cranfield's text starts with its title) and embedded
by the packaged all-MiniLM-L6-v2 (``vecbench[embed]``), normalized, as a RAG index would
hold them; queries are the collection's 225 queries embedded the same way. Embedding takes
a minute or two on two cores, so the result is kept in ``$VECBENCH_CACHE/embedlike/``, keyed
by the corpus checksum, the model's weights and the chunking. Nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import io
import json
import os

import numpy as np
from numpy.typing import NDArray

from vecbench.util.atomic import write_atomic
from vecbench.util.paths import cache_dir

__all__ = ["CHUNK_CHARS", "cranfield_passages", "cranfield_minilm"]

CHUNK_CHARS = 300  # a short RAG passage; gives ~5k passages from Cranfield's 1,400 abstracts


def cranfield_passages() -> tuple[list[str], list[str], str]:
    """(passage texts, query texts, corpus checksum) of the packaged Cranfield collection."""
    from vecbench.chunking.recursive import RecursiveChunker
    from vecbench.rag.beir import load_beir

    ds = load_beir("beir:cranfield", title="ignore")
    chunker = RecursiveChunker(chunk_size=CHUNK_CHARS, chunk_overlap=0)
    passages = [c.text for doc in ds.docs.values() for c in chunker.chunk(doc.text) if c.text.strip()]
    return passages, list(ds.queries.values()), ds.checksum


def cranfield_minilm(batch_size: int = 64) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """(passage vectors, query vectors) from the packaged MiniLM, cached after the first call."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from vecbench.embedding.st import SentenceTransformerEmbedder

    passages, queries, checksum = cranfield_passages()
    embedder = SentenceTransformerEmbedder(batch_size=batch_size)
    key = json.dumps(
        {"corpus": checksum, "model": embedder.name, "chunk_chars": CHUNK_CHARS, "n": len(passages)},
        sort_keys=True,
    )
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
    path = cache_dir() / "embedlike" / f"cranfield-minilm-{digest}.npz"
    if path.is_file():
        with np.load(path) as f:
            return f["passages"], f["queries"]
    base = embedder.embed(passages)
    qvecs = embedder.embed([str(q) for q in queries])
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    np.savez(buf, passages=base, queries=qvecs)
    write_atomic(path, lambda f: f.write(buf.getvalue()))
    return base, qvecs
