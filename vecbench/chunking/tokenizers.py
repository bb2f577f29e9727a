"""Pluggable tokenizers for token-sized chunks: a regex word tokenizer and a Hugging Face one.

Any object with ``count(text)`` can size chunks (the ``Tokenizer`` protocol of ``base``);
windows over tokens also need where each token lies in the text (``OffsetTokenizer``).
The Hugging Face ``tokenizers`` package is imported only when ``HFTokenizer`` is built.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from vecbench.errors import ConfigError, MissingDependencyError

if TYPE_CHECKING:
    from tokenizers import Tokenizer as _HFTokenizerType

__all__ = ["HFTokenizer", "OffsetTokenizer", "WordTokenizer"]


@runtime_checkable
class OffsetTokenizer(Protocol):
    """A tokenizer that says where its tokens are: ``spans`` are sorted, non-overlapping
    ``(start, end)`` character offsets into ``text``, one per token, none empty."""

    def count(self, text: str) -> int: ...

    def spans(self, text: str) -> list[tuple[int, int]]: ...


class WordTokenizer:
    """Words and single punctuation marks, by regex (``\\w+`` runs, then any other non-space).

    >>> WordTokenizer().spans("Hi, you.")
    [(0, 2), (2, 3), (4, 7), (7, 8)]
    """

    def __init__(self, pattern: str = r"\w+|[^\w\s]") -> None:
        try:
            self._regex = re.compile(pattern)
        except re.error as err:
            raise ConfigError(f"invalid token pattern {pattern!r}: {err}") from err
        if self._regex.search("") is not None:
            raise ConfigError(f"token pattern {pattern!r} matches the empty string")
        self.pattern = pattern

    def count(self, text: str) -> int:
        return sum(1 for _ in self._regex.finditer(text))

    def spans(self, text: str) -> list[tuple[int, int]]:
        return [m.span() for m in self._regex.finditer(text)]

    def __repr__(self) -> str:
        return f"WordTokenizer({self.pattern!r})"


class HFTokenizer:
    """A Hugging Face ``tokenizers`` tokenizer loaded from a ``tokenizer.json`` file.

    Special tokens are not added and truncation and padding are switched off, whatever the
    file says, so ``count`` is the length of the text itself in model tokens. Spans come
    from the encoding's character offsets; tokens that share characters (byte-level pieces
    of one character) are merged into one span so spans never overlap.

    >>> tok = HFTokenizer("model/tokenizer.json")  # doctest: +SKIP
    >>> tok.count("unbelievable results")  # doctest: +SKIP
    2
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._tokenizer: _HFTokenizerType | None = None  # loaded on first use: no I/O here

    def _load(self) -> _HFTokenizerType:
        if self._tokenizer is None:
            try:
                from tokenizers import Tokenizer
            except ImportError as err:
                raise MissingDependencyError("tokenizers", "embed") from err
            try:
                tokenizer = Tokenizer.from_file(self.path)
            except Exception as err:  # the Rust side raises plain Exception
                raise ConfigError(f"cannot load tokenizer from {self.path!r}: {err}") from err
            tokenizer.no_truncation()
            tokenizer.no_padding()
            self._tokenizer = tokenizer
        return self._tokenizer

    def count(self, text: str) -> int:
        return len(self._load().encode(text, add_special_tokens=False).ids)

    def spans(self, text: str) -> list[tuple[int, int]]:
        encoding = self._load().encode(text, add_special_tokens=False)
        spans: list[tuple[int, int]] = []
        for start, end in encoding.offsets:
            if start >= end:
                continue
            if spans and start < spans[-1][1]:
                spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
            else:
                spans.append((start, end))
        return spans

    def __getstate__(self) -> dict[str, Any]:
        # Pickle the path only; the worker reloads the file.
        return {"path": self.path, "_tokenizer": None}

    def __repr__(self) -> str:
        return f"HFTokenizer({self.path!r})"
