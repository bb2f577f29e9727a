"""The Chunk record and the Chunker protocol every splitter implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

__all__ = ["Chunk", "Chunker", "SizeUnit", "Tokenizer"]

SizeUnit = Literal["chars", "tokens"]


@dataclass(frozen=True)
class Chunk:
    """A piece of a text with exact offsets: ``text[chunk.start:chunk.end] == chunk.text``.

    ``meta`` carries what the chunker knows about the chunk (for example the discourse
    relations that joined its units, or the NSP scores across its joins).
    """

    text: str
    start: int
    end: int
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not (0 <= self.start <= self.end) or self.end - self.start != len(self.text):
            raise ValueError(f"inconsistent chunk offsets [{self.start}, {self.end}) for {len(self.text)} chars")


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
