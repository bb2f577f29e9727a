"""Test helpers for the retrieval-harness tests (no tests here): a whole-document chunker,
a deterministic bag-of-words hashing embedder, and the Cranfield location."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vecbench.chunking.base import Chunk
from vecbench.embedding.base import TokenUsage

CRANFIELD = Path("/work/shared/data/cranfield")

needs_cranfield = pytest.mark.skipif(
    not (CRANFIELD / "corpus.jsonl").is_file(),
    reason=f"Cranfield (BEIR layout) not found at {CRANFIELD}",
)

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
