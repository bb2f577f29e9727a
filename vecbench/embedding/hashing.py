"""A model-free embedder: signed feature hashing of word n-grams. Deterministic across
processes and machines (blake2b, not Python's salted ``hash``); useful as a baseline and
for tests that must not load a model."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from vecbench.embedding.base import TokenUsage
from vecbench.errors import ConfigError

__all__ = ["HashingEmbedder"]

_WORD = re.compile(r"\w+")


class HashingEmbedder:
    """Lower-cased word n-grams hashed into ``dim`` buckets with a +/-1 sign, L2-normalised.

    Tokens are words (``\\w+``); an empty text embeds to the zero vector.

    >>> e = HashingEmbedder(dim=64)
    >>> e.embed(["a wing in a slipstream"]).shape
    (1, 64)
    """

    def __init__(self, dim: int = 256, ngram: tuple[int, int] = (1, 2), seed: int = 0) -> None:
        if int(dim) < 1:
            raise ConfigError(f"dim must be >= 1, got {dim!r}")
        lo, hi = (int(n) for n in ngram)
        if not 1 <= lo <= hi:
            raise ConfigError(f"ngram must be (lo, hi) with 1 <= lo <= hi, got {ngram!r}")
        self.dim = int(dim)
        self.ngram = (lo, hi)
        self.seed = int(seed)
        self.name = f"hashing-d{self.dim}-n{lo}-{hi}-s{self.seed}"
        self.usage = TokenUsage()
        self._key = self.seed.to_bytes(8, "little", signed=True)

    def __repr__(self) -> str:
        return f"HashingEmbedder(dim={self.dim}, ngram={self.ngram}, seed={self.seed})"

    def count_tokens(self, text: str) -> int:
        return len(_WORD.findall(text))

    def _bucket(self, gram: str) -> tuple[int, float]:
        d = hashlib.blake2b(gram.encode("utf-8"), digest_size=8, key=self._key).digest()
        return int.from_bytes(d[:7], "little") % self.dim, (1.0 if d[7] & 1 else -1.0)

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        tokens = 0
        lo, hi = self.ngram
        for row, text in enumerate(texts):
            words = _WORD.findall(text.lower())
            tokens += len(words)
            for n in range(lo, hi + 1):
                for i in range(len(words) - n + 1):
                    j, sign = self._bucket(" ".join(words[i : i + n]))
                    out[row, j] += sign
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        self.usage.add(len(texts), tokens)
        return out
