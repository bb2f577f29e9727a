"""Test helpers for the retrieval-harness tests (no tests here): a whole-document chunker,
a deterministic bag-of-words hashing embedder, and the packaged Cranfield collection."""

from __future__ import annotations

import functools
import hashlib
import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from vecbench.chunking.base import Chunk
from vecbench.embedding.base import TokenUsage

CRANFIELD = "beir:cranfield"
"""Shipped with vecbench (datasets/cranfield): 1,400 documents, 225 queries, always there."""


def cranfield_texts(limit: int | None = None) -> list[str]:
    """The first ``limit`` Cranfield documents' ``text`` fields as stored (titles not added)."""
    return list(_cranfield_texts()[:limit])


@functools.cache
def _cranfield_texts() -> tuple[str, ...]:
    from vecbench.rag.beir import load_beir

    return tuple(d.text for d in load_beir(CRANFIELD, title="ignore").docs.values())


_WORD = re.compile(r"[a-z0-9]+")


class WholeDocChunker:
    name = "test-whole"

    @property
    def params(self) -> dict[str, Any]:
        return {}

    def chunk(self, text: str) -> list[Chunk]:
        return [Chunk(text, 0, len(text))] if text.strip() else []


class HashingEmbedder:
    """Signed feature hashing of lower-cased words, sublinear tf, L2-normalised."""

    def __init__(self, dim: int = 4096, name: str | None = None) -> None:
        self.dim = dim
        self.name = name or f"test-hashing-{dim}"
        self.usage = TokenUsage()

    def count_tokens(self, text: str) -> int:
        return len(_WORD.findall(text.lower()))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        tokens = 0
        for i, text in enumerate(texts):
            words = _WORD.findall(text.lower())
            tokens += len(words)
            tf: dict[str, int] = {}
            for w in words:
                tf[w] = tf.get(w, 0) + 1
            for w, n in tf.items():
                h = int.from_bytes(hashlib.blake2b(w.encode(), digest_size=8).digest(), "little")
                out[i, h % self.dim] += (1.0 if (h >> 40) & 1 else -1.0) * (1.0 + math.log(n))
            norm = float(np.linalg.norm(out[i]))
            if norm > 0:
                out[i] /= norm
        self.usage.add(len(texts), tokens)
        return out
