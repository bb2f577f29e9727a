"""Chunkers and embedders by name, for configs and the command line.

Installed entry points (groups ``vecbench.chunkers`` and ``vecbench.embedders``) take
precedence; built-in names are used from a source tree. Nothing is imported until a
name is asked for.

    chunker = resolve_chunker("recursive", {"chunk_size": 512})
    embedder = resolve_embedder("hashing", {"dim": 256})
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from vecbench.chunking.base import Chunk
from vecbench.errors import ConfigError, UnknownNameError

__all__ = ["WholeDocumentChunker", "resolve_chunker", "resolve_embedder", "chunker_names", "BUILTIN_CHUNKERS"]

CHUNKER_GROUP = "vecbench.chunkers"
EMBEDDER_GROUP = "vecbench.embedders"

BUILTIN_CHUNKERS = {
    "recursive": "vecbench.chunking.recursive:RecursiveChunker",
    "fixed": "vecbench.chunking.simple:FixedSizeChunker",
    "sentence": "vecbench.chunking.simple:SentenceChunker",
    "discourse": "vecbench.chunking.discourse:DiscourseChunker",
    "nsp": "vecbench.chunking.nsp:NSPChunker",
    "whole": "vecbench.rag.components:WholeDocumentChunker",
}


class WholeDocumentChunker:
    """One chunk per document: the whole text (none for an empty or blank text).

    >>> WholeDocumentChunker().chunk("abc")
    [Chunk(text='abc', start=0, end=3, meta={})]
    """

    name = "whole"

    @property
    def params(self) -> dict[str, Any]:
        return {}

    def chunk(self, text: str) -> list[Chunk]:
        return [Chunk(text, 0, len(text))] if text.strip() else []


@cache
def _entry_points(group: str) -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=group)}


def chunker_names() -> list[str]:
    """Every chunker name: built-in and installed, sorted."""
    return sorted(set(BUILTIN_CHUNKERS) | set(_entry_points(CHUNKER_GROUP)))


def _construct(kind: str, name: str, factory: Any, params: Mapping[str, Any]) -> Any:
    try:
        return factory(**dict(params))
    except TypeError as exc:  # an unknown or missing keyword
        raise ConfigError(f"{kind} {name!r} with params {dict(params)}: {exc}") from exc


def resolve_chunker(name: str, params: Mapping[str, Any] | None = None) -> Any:
    """A chunker instance for ``name`` built with ``params`` (keyword arguments)."""
    params = dict(params or {})
    eps = _entry_points(CHUNKER_GROUP)
    if name in eps:
        return _construct("chunker", name, eps[name].load(), params)
    if name not in BUILTIN_CHUNKERS:
        raise UnknownNameError("chunker", name, chunker_names())
    module, _, attr = BUILTIN_CHUNKERS[name].partition(":")
    import importlib

    try:
        cls = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(
            f"chunker {name!r} is not available in this vecbench ({module}:{attr}): {exc}"
        ) from exc
    return _construct("chunker", name, cls, params)


def resolve_embedder(name: str, params: Mapping[str, Any] | None = None) -> Any:
    """An embedder instance for ``name``: an installed entry point, else
    ``vecbench.embedding.get_embedder(name, **params)``."""
    params = dict(params or {})
    eps = _entry_points(EMBEDDER_GROUP)
    if name in eps:
        return _construct("embedder", name, eps[name].load(), params)
    try:
        from vecbench.embedding import get_embedder
    except ImportError as exc:
        raise ConfigError(
            f"no embedder registry in this vecbench (vecbench.embedding.get_embedder): {exc}"
        ) from exc
    try:
        return get_embedder(name, **params)
    except TypeError as exc:
        raise ConfigError(f"embedder {name!r} with params {params}: {exc}") from exc
