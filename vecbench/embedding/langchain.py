"""Any LangChain ``Embeddings`` object as a vecbench Embedder."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vecbench.embedding.base import TokenUsage

__all__ = ["LangChainEmbedder"]

_WORD = re.compile(r"\w+")


def _words(text: str) -> int:
    return len(_WORD.findall(text))


class LangChainEmbedder:
    """Wraps a ``langchain_core.embeddings.Embeddings``: ``embed`` calls ``embed_documents``,
    ``embed_query`` calls the object's ``embed_query``.

    ``name`` defaults to ``langchain:<class>`` plus ``:<model>`` when the object has a
    ``model`` or ``model_name`` attribute; pass ``name=`` to pin a version. ``dim`` is known
    after the first call (asking for it earlier embeds one probe text). LangChain reports no
    token usage, so tokens are counted by ``tokenizer`` (default: words).

    >>> from langchain_core.embeddings import DeterministicFakeEmbedding
    >>> LangChainEmbedder(DeterministicFakeEmbedding(size=8)).embed(["x"]).shape
    (1, 8)
    """

    def __init__(
        self, embeddings: Any, name: str | None = None, tokenizer: Callable[[str], int] | None = None
    ) -> None:
        self.embeddings = embeddings
        self.tokenizer = tokenizer or _words
        if name is None:
            model = getattr(embeddings, "model", None) or getattr(embeddings, "model_name", None)
            name = f"langchain:{type(embeddings).__name__}" + (f":{model}" if isinstance(model, str) else "")
            size = getattr(embeddings, "size", None)
            if model is None and isinstance(size, int):
                name += f"-d{size}"
        self.name = name
        self.usage = TokenUsage()
        self._dim: int | None = None

    def __repr__(self) -> str:
        return f"LangChainEmbedder({type(self.embeddings).__name__}, name={self.name!r})"

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = len(self.embeddings.embed_query("dimension probe"))
        return self._dim

    def count_tokens(self, text: str) -> int:
        return int(self.tokenizer(text))

    def _as_array(self, rows: list[list[float]], n: int) -> NDArray[np.float32]:
        out = (
            np.asarray(rows, dtype=np.float32).reshape(n, -1)
            if n
            else np.empty((0, self._dim or 0), np.float32)
        )
        if n and self._dim is None:
            self._dim = int(out.shape[1])
        return out

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        texts = list(texts)
        out = self._as_array(self.embeddings.embed_documents(texts) if texts else [], len(texts))
        self.usage.add(len(texts), sum(self.count_tokens(t) for t in texts))
        return out

    def embed_query(self, text: str) -> NDArray[np.float32]:
        """One query vector, (dim,), through the object's own ``embed_query``."""
        out = self._as_array([self.embeddings.embed_query(text)], 1)[0]
        self.usage.add(1, self.count_tokens(text))
        return out
