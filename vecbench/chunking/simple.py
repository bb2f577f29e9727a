"""Baseline chunkers: fixed-size windows and whole sentences, plus the sentence splitter.

``split_sentences`` is shared: other chunkers (the discourse chunker) build on its spans.
"""

from __future__ import annotations

import re
from typing import Any

from vecbench.chunking.base import Chunk, SizeUnit
from vecbench.chunking.tokenizers import OffsetTokenizer, WordTokenizer
from vecbench.errors import ConfigError
from vecbench.util.validation import is_int

__all__ = ["ABBREVIATIONS", "FixedSizeChunker", "SentenceChunker", "split_sentences"]

# Lowercased words that end with a period without ending a sentence.
ABBREVIATIONS: frozenset[str] = frozenset(
    {
        "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "ft", "rev", "gen", "col",
        "capt", "lt", "sgt", "gov", "sen", "rep", "hon", "vs", "etc", "e.g", "i.e", "cf",
        "al", "fig", "figs", "eq", "eqs", "ref", "refs", "sec", "ch", "vol", "no", "nos",
        "pp", "p", "approx", "ca", "inc", "ltd", "co", "corp", "dept", "univ", "jan", "feb",
        "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "u.s",
        "u.k", "ph.d", "b.sc", "m.sc", "a.m", "p.m",
    }
)  # fmt: skip

# A run of terminators, closing quotes or brackets, then whitespace. Whether it ends a
# sentence is decided by what follows and by the word before it.
_BOUNDARY = re.compile(r"[.!?]+[\"')\]\u00bb\u201d\u2019]*(\s+)")
_BLANK_LINE = re.compile(r"\n[^\S\n]*\n\s*")
_OPENERS = "\"'([\u00ab\u201c\u2018"
_WORD_BEFORE = re.compile(r"([\w.]+)\.$")


def split_sentences(text: str, require_capital: bool | None = None) -> list[tuple[int, int]]:
    """Sentence spans ``(start, end)`` of ``text``, in order, without surrounding whitespace.

    A sentence ends at ``.``, ``!`` or ``?`` (optionally followed by closing quotes or
    brackets) followed by whitespace and a capital letter or a digit (an opening quote or
    bracket may come first), unless the period closes a known abbreviation or a single-letter
    initial; a blank line always ends a sentence. The spans cover every non-space character.
    ``require_capital=None`` (auto) drops the capital-letter rule for text with no capital
    letters at all (lowercased corpora such as Cranfield), where it would find no boundary.

    >>> text = "Dr. Smith arrived. He sat down!\\n\\nthen 2 more came."
    >>> [text[s:e] for s, e in split_sentences(text)]
    ['Dr. Smith arrived.', 'He sat down!', 'then 2 more came.']
    >>> low = "a wing was tested . the lift rose ."
    >>> [low[s:e] for s, e in split_sentences(low)]
    ['a wing was tested .', 'the lift rose .']
    """
    if not isinstance(text, str):
        raise ConfigError(f"text must be a str, got {type(text).__name__}")
    if require_capital is None:
        require_capital = text != text.lower()
    cuts: list[tuple[int, int]] = []  # (end of sentence, start of the whitespace's end)
    for m in _BOUNDARY.finditer(text):
        after = m.end()
        k = after
        while k < len(text) and text[k] in _OPENERS:
            k += 1
        if k >= len(text):
            continue
        if require_capital and not (text[k].isupper() or text[k].isdigit()):
            continue
        sentence_end = m.start(1)
        if text[m.start()] == "." and _is_abbreviation(text, m.start()):
            continue
        cuts.append((sentence_end, after))
    cuts.extend((m.start(), m.end()) for m in _BLANK_LINE.finditer(text))
    cuts.sort()

    spans: list[tuple[int, int]] = []
    pos = 0
    for end, nxt in cuts:
        if end >= pos:
            _append_stripped(text, pos, end, spans)
            pos = nxt
    _append_stripped(text, pos, len(text), spans)
    return spans


def _is_abbreviation(text: str, period: int) -> bool:
    m = _WORD_BEFORE.search(text, max(0, period - 20), period + 1)
    if m is None:
        return False
    word = m.group(1)
    if word.startswith("."):
        return False
    return word.lower() in ABBREVIATIONS or (len(word) == 1 and word.isupper())


def _append_stripped(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start < end:
        spans.append((start, end))


def _check_text(text: object) -> None:
    if not isinstance(text, str):
        raise ConfigError(f"text must be a str, got {type(text).__name__}")


def _positive_int(name: str, value: object, minimum: int = 1) -> int:
    if not is_int(value) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


class FixedSizeChunker:
    """Windows of ``size`` characters (or tokens) that advance by ``size - overlap``.

    In ``tokens`` mode a window runs from its first token's start to its last token's end,
    so the text between tokens inside a window is kept. The last window ends at the end of
    the text (or of its last token); no window lies inside the one before it.

    >>> [c.text for c in FixedSizeChunker(4, 1).chunk("abcdefghij")]
    ['abcd', 'defg', 'ghij']
    """

    name = "fixed"

    def __init__(
        self,
        size: int,
        overlap: int = 0,
        unit: SizeUnit = "chars",
        tokenizer: OffsetTokenizer | None = None,
    ) -> None:
        self.size = _positive_int("size", size)
        self.overlap = _positive_int("overlap", overlap, minimum=0)
        if overlap >= size:
            raise ConfigError(f"overlap ({overlap}) must be smaller than size ({size})")
        if unit not in ("chars", "tokens"):
            raise ConfigError(f"unit must be 'chars' or 'tokens', got {unit!r}")
        if unit == "tokens":
            if tokenizer is None:
                tokenizer = WordTokenizer()
            elif not isinstance(tokenizer, OffsetTokenizer):
                raise ConfigError("unit='tokens' needs a tokenizer with spans(text) and count(text)")
        elif tokenizer is not None:
            raise ConfigError("a tokenizer is only used with unit='tokens'")
        self.unit: SizeUnit = unit
        self.tokenizer = tokenizer

    @property
    def params(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "overlap": self.overlap,
            "unit": self.unit,
            "tokenizer": None if self.tokenizer is None else type(self.tokenizer).__name__,
        }

    def chunk(self, text: str) -> list[Chunk]:
        _check_text(text)
        step = self.size - self.overlap
        if self.unit == "chars":
            n = len(text)
            chunks = []
            for start in range(0, n, step):
                end = min(start + self.size, n)
                chunks.append(Chunk(text[start:end], start, end))
                if end == n:
                    break
            return chunks
        spans = self.tokenizer.spans(text)  # type: ignore[union-attr]
        chunks = []
        for first in range(0, len(spans), step):
            last = min(first + self.size, len(spans)) - 1
            start, end = spans[first][0], spans[last][1]
            chunks.append(Chunk(text[start:end], start, end, {"tokens": last - first + 1}))
            if last == len(spans) - 1:
                break
        return chunks


class SentenceChunker:
    """Whole sentences packed greedily up to ``max_chars`` characters or ``max_tokens`` tokens.

    A chunk spans from its first sentence's start to its last sentence's end. A sentence
    longer than the limit becomes a chunk of its own (``meta["oversize"] = True``): this
    baseline never cuts inside a sentence. ``overlap_sentences`` repeats up to that many
    sentences of a chunk at the start of the next, as long as the next still fits and
    brings a new sentence.

    >>> chunker = SentenceChunker(max_chars=30)
    >>> [c.text for c in chunker.chunk("One here. Two there. Three everywhere.")]
    ['One here. Two there.', 'Three everywhere.']
    """

    name = "sentence"

    def __init__(
        self,
        max_chars: int | None = None,
        max_tokens: int | None = None,
        overlap_sentences: int = 0,
        tokenizer: OffsetTokenizer | None = None,
    ) -> None:
        if (max_chars is None) == (max_tokens is None):
            raise ConfigError("give exactly one of max_chars and max_tokens")
        self.max_chars = None if max_chars is None else _positive_int("max_chars", max_chars)
        self.max_tokens = None if max_tokens is None else _positive_int("max_tokens", max_tokens)
        self.overlap_sentences = _positive_int("overlap_sentences", overlap_sentences, minimum=0)
        if max_tokens is not None:
            if tokenizer is None:
                tokenizer = WordTokenizer()
            elif not hasattr(tokenizer, "count") or not callable(tokenizer.count):
                raise ConfigError("max_tokens needs a tokenizer with count(text)")
        elif tokenizer is not None:
            raise ConfigError("a tokenizer is only used with max_tokens")
        self.tokenizer = tokenizer

    @property
    def params(self) -> dict[str, Any]:
        return {
            "max_chars": self.max_chars,
            "max_tokens": self.max_tokens,
            "overlap_sentences": self.overlap_sentences,
            "unit": "chars" if self.max_chars is not None else "tokens",
            "tokenizer": None if self.tokenizer is None else type(self.tokenizer).__name__,
        }

    def chunk(self, text: str) -> list[Chunk]:
        _check_text(text)
        sentences = split_sentences(text)
        if self.max_chars is not None:
            limit = self.max_chars

            def size(first: int, last: int) -> int:
                return sentences[last][1] - sentences[first][0]
        else:
            limit = self.max_tokens  # type: ignore[assignment]
            count = self.tokenizer.count  # type: ignore[union-attr]

            def size(first: int, last: int) -> int:
                return count(text[sentences[first][0] : sentences[last][1]])

        chunks: list[Chunk] = []
        first, n = 0, len(sentences)
        while first < n:
            last = first
            while last + 1 < n and size(first, last + 1) <= limit:
                last += 1
            start, end = sentences[first][0], sentences[last][1]
            meta: dict[str, Any] = {"sentences": (first, last + 1)}
            if first == last and size(first, last) > limit:
                meta["oversize"] = True
            chunks.append(Chunk(text[start:end], start, end, meta))
            if last + 1 >= n:
                break
            nxt = max(first + 1, last + 1 - self.overlap_sentences)
            while nxt <= last and size(nxt, last + 1) > limit:
                nxt += 1
            first = nxt
        return chunks
