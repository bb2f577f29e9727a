"""The Chunk record and the Chunker protocol every splitter implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

__all__ = ["Chunk", "Chunker", "SizeUnit", "Tokenizer", "check_offsets"]

SizeUnit = Literal["chars", "tokens"]


@dataclass(slots=True)
class Chunk:
    """A piece of a text with exact offsets: ``text[chunk.start:chunk.end] == chunk.text``.

    ``meta`` carries what the chunker knows about the chunk (for example the discourse
    relations that joined its units, or the NSP scores across its joins). Chunkers make
    millions of these, so construction does no checking: the offset invariant is each
    chunker's contract, enforced by property tests (and ``check_offsets``).
    """

    text: str
    start: int
    end: int
    meta: dict[str, Any] = field(default_factory=dict)


def check_offsets(text: str, chunks: list[Chunk]) -> None:
    """Raise ValueError unless every chunk's offsets select exactly its text."""
    for i, c in enumerate(chunks):
        if not (0 <= c.start <= c.end <= len(text)) or text[c.start : c.end] != c.text:
            raise ValueError(f"chunk {i} offsets [{c.start}, {c.end}) do not select its text")


@runtime_checkable
class Tokenizer(Protocol):
    """Counts tokens for size limits given in tokens (any embedder's own tokenizer fits)."""

    def count(self, text: str) -> int: ...


@runtime_checkable
class Chunker(Protocol):
    """Splits a text into chunks, in order, with exact offsets.

    ``name`` identifies the chunker and ``params`` its settings, both for result records.
    """

    name: str

    @property
    def params(self) -> dict[str, Any]: ...

    def chunk(self, text: str) -> list[Chunk]: ...
