"""The Embedder protocol: texts in, float32 vectors out, with identity and token usage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

__all__ = ["Embedder", "TokenUsage"]


@dataclass
class TokenUsage:
    """Tokens and texts an embedder has processed (for cost), counted by its own tokenizer."""

    texts: int = 0
    tokens: int = 0

    def add(self, texts: int, tokens: int) -> None:
        self.texts += texts
        self.tokens += tokens


@runtime_checkable
class Embedder(Protocol):
    """``embed(texts)`` -> (n, dim) float32, and ``count_tokens(text)`` by its own tokenizer.

    Every embedder also has ``name`` (the identity used by caches and by the index/query
    consistency check: model id with version or weights hash), ``dim`` and ``usage``
    (TokenUsage). Those are left out of the runtime check on purpose: on Python < 3.12
    ``isinstance`` reads every member, and reading ``dim`` may load a model.
    """

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]: ...

    def count_tokens(self, text: str) -> int: ...
