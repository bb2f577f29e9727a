"""Embedders: texts in, float32 vectors out, with an identity (``name``) and token usage.

``get_embedder(name, **params)`` builds one by name: the built-ins below, or any class a
package registers in the ``vecbench.embedders`` entry-point group. Model libraries are
imported only when an embedder first loads its model.

>>> e = get_embedder("hashing", dim=64)
>>> e.embed(["an experimental study of a wing"]).shape
(1, 64)
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from vecbench.embedding.base import Embedder, TokenUsage
from vecbench.errors import ConfigError, DimensionMismatchError, UnknownNameError

if TYPE_CHECKING:
    from vecbench.embedding.cache import EmbeddingCache
    from vecbench.embedding.hashing import HashingEmbedder
    from vecbench.embedding.langchain import LangChainEmbedder
    from vecbench.embedding.onnx import OnnxEmbedder
    from vecbench.embedding.openai_http import OpenAIEmbedder
    from vecbench.embedding.st import SentenceTransformerEmbedder
    from vecbench.embedding.static import Model2VecEmbedder

__all__ = [
    "Embedder",
    "TokenUsage",
    "HashingEmbedder",
    "SentenceTransformerEmbedder",
    "OnnxEmbedder",
    "Model2VecEmbedder",
    "OpenAIEmbedder",
    "LangChainEmbedder",
    "EmbeddingCache",
    "get_embedder",
    "embedder_names",
    "check_same_embedder",
    "check_dim",
]

# Name -> "module:Class". The same lines are the pyproject entry points; these make a
# source checkout work without an installed distribution. Installed entry points win.
BUILTIN_EMBEDDERS = {
    "hashing": "vecbench.embedding.hashing:HashingEmbedder",
    "sentence-transformers": "vecbench.embedding.st:SentenceTransformerEmbedder",
    "onnx": "vecbench.embedding.onnx:OnnxEmbedder",
    "model2vec": "vecbench.embedding.static:Model2VecEmbedder",
    "openai": "vecbench.embedding.openai_http:OpenAIEmbedder",
    "langchain": "vecbench.embedding.langchain:LangChainEmbedder",
}

_LAZY = {target.rsplit(":", 1)[1]: target for target in BUILTIN_EMBEDDERS.values()}
_LAZY["EmbeddingCache"] = "vecbench.embedding.cache:EmbeddingCache"

_GROUP = "vecbench.embedders"


def __getattr__(attr: str) -> Any:  # PEP 562: import a backend module only when named
    if attr in _LAZY:
        module, cls = _LAZY[attr].split(":")
        return getattr(importlib.import_module(module), cls)
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")


def _targets() -> dict[str, str]:
    found = dict(BUILTIN_EMBEDDERS)
    found.update({ep.name: ep.value for ep in entry_points(group=_GROUP)})
    return found


def embedder_names() -> list[str]:
    """Every embedder name: built-ins plus the ``vecbench.embedders`` entry points, sorted."""
    return sorted(_targets())


def get_embedder(name: str, **params: Any) -> Embedder:
    """A new embedder registered as ``name``, built with ``params``; no model loads yet."""
    targets = _targets()
    if name not in targets:
        raise UnknownNameError("embedder", name, targets)
    module, _, attr = targets[name].partition(":")
    cls: Any = importlib.import_module(module)
    for part in attr.split("."):
        cls = getattr(cls, part)
    try:
        return cls(**params)  # type: ignore[no-any-return]
    except TypeError as exc:
        raise ConfigError(f"embedder {name!r}: {exc}") from exc


def check_same_embedder(index_name: str, query_name: str) -> None:
    """Raise ConfigError unless the index side and the query side were embedded by the same
    identity (model id and weights hash): vectors from different models are not comparable."""
    if index_name != query_name:
        raise ConfigError(
            f"index was embedded with {index_name!r} but queries with {query_name!r}; "
            "use the same embedder on both sides"
        )


def check_dim(embedder: Embedder, store_dim: int) -> None:
    """Raise DimensionMismatchError when ``embedder.dim`` differs from the store's dimension."""
    if int(embedder.dim) != int(store_dim):
        raise DimensionMismatchError(
            f"embedder {embedder.name!r} makes {embedder.dim}-d vectors; the collection is {store_dim}-d"
        )
