"""The recursive separator-hierarchy chunker (LangChain's RecursiveCharacterTextSplitter, with offsets).

The algorithm: take the first separator of the hierarchy that occurs in the text, split on it,
merge the pieces shorter than ``chunk_size`` greedily into overlapping chunks, and split the
longer pieces again with the separators that remain. With the same parameters it yields the
same chunk texts as ``langchain_text_splitters.RecursiveCharacterTextSplitter`` (tested), and
every chunk carries exact offsets into the input, tracked while splitting.

Why it is faster: pieces are never materialised as strings, and offsets are positions in
the input from the start. With literal separators kept on the pieces and sizes in characters
(the common case), a text is cut with ``find``/``rfind`` once per chunk rather than once per
piece (``_recursive_scan``), and a long text level by level with numpy
(``_recursive_arrays``). The other settings split into piece spans with one C-level
``split`` and merge them with ``bisect`` (or with token counts).
"""

from __future__ import annotations

import gc
import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from itertools import accumulate, compress, count
from typing import Any, Literal

from vecbench.chunking._recursive_scan import ScanConfig, scan
from vecbench.chunking.base import Chunk, SizeUnit, Tokenizer
from vecbench.errors import ConfigError
from vecbench.util.validation import is_int

__all__ = ["DEFAULT_SEPARATORS", "RecursiveChunker"]

DEFAULT_SEPARATORS: tuple[str, ...] = ("\n\n", "\n", " ", "")

KeepSeparator = bool | Literal["start", "end"]

# From this length on, texts are split level by level with numpy (``_recursive_arrays``):
# below it, numpy's per-call overhead costs more than the Python steps it saves.
_ARRAYS_MIN_CHARS = 100_000

# A "split" is described by piece spans relative to the text being split:
# (starts, ends), both sorted, pieces non-empty and non-overlapping.
_Spans = tuple[list[int], list[int]]


class RecursiveChunker:
    """Split text on a hierarchy of separators into chunks of at most ``chunk_size``.

    ``keep_separator``: ``True`` or ``"start"`` keeps each separator at the start of the piece
    that follows it, ``"end"`` at the end of the piece before it, ``False`` drops it (the
    chunk is then the input span from its first to its last piece, separators included).
    ``length_unit="tokens"`` measures pieces with ``tokenizer.count`` instead of ``len``.

    Differences from LangChain, all in favour of exact offsets: with ``keep_separator=False``,
    LangChain re-joins pieces with the separator string, which drops runs of repeated
    separators (``"a  b"`` becomes ``"a b"``) and, for regex separators, inserts the pattern
    text itself; this chunker returns the input span instead, and sizes it by its real length.
    Regex separators containing their own capture groups are split on the whole match.

    >>> chunker = RecursiveChunker(chunk_size=12, chunk_overlap=0)
    >>> [(c.text, c.start, c.end) for c in chunker.chunk("one two three four")]
    [('one two', 0, 7), ('three four', 8, 18)]
    """

    name = "recursive"

    def __init__(
        self,
        chunk_size: int = 1000,
        chunk_overlap: int = 200,
        separators: Sequence[str] = DEFAULT_SEPARATORS,
        keep_separator: KeepSeparator = True,
        strip_whitespace: bool = True,
        is_separator_regex: bool = False,
        length_unit: SizeUnit = "chars",
        tokenizer: Tokenizer | None = None,
    ) -> None:
        _check_sizes(chunk_size, chunk_overlap)
        if isinstance(separators, str) or not isinstance(separators, Sequence) or not separators:
            raise ConfigError(f"separators must be a non-empty sequence of strings, got {separators!r}")
        if not all(isinstance(s, str) for s in separators):
            raise ConfigError(f"separators must all be strings, got {separators!r}")
        if keep_separator not in (True, False, "start", "end") or not isinstance(keep_separator, (bool, str)):
            raise ConfigError(f"keep_separator must be True, False, 'start' or 'end', got {keep_separator!r}")
        if length_unit not in ("chars", "tokens"):
            raise ConfigError(f"length_unit must be 'chars' or 'tokens', got {length_unit!r}")
        if length_unit == "tokens":
            if tokenizer is None:
                from vecbench.chunking.tokenizers import WordTokenizer

                tokenizer = WordTokenizer()
            elif not isinstance(tokenizer, Tokenizer):
                raise ConfigError(f"tokenizer must have a count(text) method, got {type(tokenizer).__name__}")
        elif tokenizer is not None:
            raise ConfigError("a tokenizer is only used with length_unit='tokens'")

        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap
        self.separators = tuple(separators)
        self.keep_separator: KeepSeparator = keep_separator
        self.strip_whitespace = bool(strip_whitespace)
        self.is_separator_regex = bool(is_separator_regex)
        self.length_unit: SizeUnit = length_unit
        self.tokenizer = tokenizer
        self._mode: Literal["start", "end", "drop"] = (
            "drop" if keep_separator is False else ("end" if keep_separator == "end" else "start")
        )
        # (literal or None, search pattern or None, split pattern or None) per separator.
        self._seps: list[tuple[str, re.Pattern[str] | None, re.Pattern[str] | None]] = []
        for sep in self.separators:
            if not sep or not self.is_separator_regex:
                self._seps.append((sep, None, None))
                continue
            try:
                search = re.compile(sep)
                split = re.compile(f"({sep})")
            except re.error as err:
                raise ConfigError(f"invalid separator regex {sep!r}: {err}") from err
            self._seps.append((sep, search, split if split.groups == 1 else None))
        # Pieces that partition the text and sizes in chars: a text shorter than chunk_size
        # is one chunk. With literal separators too, chunks are found by scanning.
        self._partition = self._mode != "drop" and length_unit == "chars"
        self._scan: ScanConfig | None = None
        if self._partition and not self.is_separator_regex:
            self._scan = ScanConfig(
                separators=self.separators,
                witnesses=tuple(
                    tuple(sep + sep[b:] for b in range(1, len(sep)) if sep[:b] == sep[-b:])
                    for sep in self.separators
                ),
                at_start=self._mode == "start",
                chunk_size=chunk_size,
                chunk_overlap=chunk_overlap,
                strip_whitespace=self.strip_whitespace,
                fallback=self._split_rec,
            )

    @property
    def params(self) -> dict[str, Any]:
        return {
            "chunk_size": self.chunk_size,
            "chunk_overlap": self.chunk_overlap,
            "separators": list(self.separators),
            "keep_separator": self.keep_separator,
            "strip_whitespace": self.strip_whitespace,
            "is_separator_regex": self.is_separator_regex,
            "unit": self.length_unit,
            "tokenizer": None if self.tokenizer is None else type(self.tokenizer).__name__,
        }

    def chunk(self, text: str) -> list[Chunk]:
        """Split ``text``; every chunk has ``text[c.start:c.end] == c.text``."""
        if not isinstance(text, str):
            raise ConfigError(f"text must be a str, got {type(text).__name__}")
        n = len(text)
        if self._partition and n < self.chunk_size:  # the pieces add up to one chunk
            if not self.strip_whitespace:
                return [Chunk(text, 0, n)] if n else []
            left = text.lstrip()
            stripped = left.rstrip()
            return [Chunk(stripped, n - len(left), n - len(left) + len(stripped))] if stripped else []
        if self._scan is not None and n >= _ARRAYS_MIN_CHARS:
            return self._long_text(text, self._scan, records=True)
        out: list[Chunk] = []
        if self._scan is not None:
            scan(self._scan, text, 0, n, 0, out)
        elif text:
            self._split_rec(text, 0, n, 0, out)
        return out

    def split_text(self, text: str) -> list[str]:
        """The chunk texts only (what LangChain's ``split_text`` returns)."""
        if isinstance(text, str) and self._scan is not None and len(text) >= _ARRAYS_MIN_CHARS:
            return self._long_text(text, self._scan, records=False)
        return [c.text for c in self.chunk(text)]

    def _long_text(self, text: str, cfg: ScanConfig, records: bool) -> list[Any]:
        """A long text: spans level by level with numpy, regions of many small pieces scanned.

        The cyclic GC is paused meanwhile: the output holds no cycles, and it has enough
        objects that collections would walk over them again and again.
        """
        from vecbench.chunking._recursive_arrays import split_spans

        enabled = gc.isenabled()
        gc.disable()
        try:
            starts, ends, regions = split_spans(
                text,
                self.separators,
                cfg.at_start,
                self.chunk_size,
                self.chunk_overlap,
                self.strip_whitespace,
            )
            texts = [text[s:e] for s, e in zip(starts, ends, strict=True)]
            out: list[Any] = list(map(Chunk, texts, starts, ends)) if records else texts
            if not regions:
                return out
            spliced: list[Any] = []
            done = 0
            for at, lo, hi, level in regions:
                spliced += out[done:at]
                found: list[Chunk] = []
                scan(cfg, text, lo, hi, level, found)
                spliced += found if records else [c.text for c in found]
                done = at
            spliced += out[done:]
            return spliced
        finally:
            if enabled:
                gc.enable()

    # -- splitting into piece spans (regex separators, dropped separators, token sizes) ----

    def _split_rec(self, text: str, lo: int, hi: int, first_sep: int, out: list[Chunk]) -> None:
        """Split ``text[lo:hi]`` with the separators from ``first_sep`` on; offsets stay absolute."""
        seps = self._seps
        chosen = len(seps) - 1
        rest = len(seps)  # index of the first separator left for the long pieces
        sub: str | None = None
        for i in range(first_sep, len(seps)):
            literal, search, _ = seps[i]
            if not literal:
                chosen, rest = i, len(seps)
                break
            if search is None:
                found = text.find(literal, lo, hi) >= 0
            else:
                if sub is None:
                    sub = text[lo:hi]  # regexes see the piece alone, as in LangChain (^, lookbehind)
                found = search.search(sub) is not None
            if found:
                chosen, rest = i, i + 1
                break
        if sub is None:
            sub = text if lo == 0 and hi == len(text) else text[lo:hi]
        starts, ends = self._pieces(sub, chosen)
        size = self.chunk_size
        if self.length_unit == "chars":
            lengths: list[int] = list(map(int.__sub__, ends, starts))
        else:
            count_tokens = self.tokenizer.count  # type: ignore[union-attr]
            lengths = [count_tokens(sub[s:e]) for s, e in zip(starts, ends, strict=True)]
        long_idx = list(compress(count(), map(size.__le__, lengths)))

        run_start = 0
        for j in long_idx:
            if run_start < j:
                self._merge(sub, lo, starts, ends, lengths, run_start, j, chosen, out)
            self._long_piece(text, lo + starts[j], lo + ends[j], rest, out)
            run_start = j + 1
        if run_start < len(starts):
            self._merge(sub, lo, starts, ends, lengths, run_start, len(starts), chosen, out)

    def _long_piece(self, text: str, start: int, end: int, rest: int, out: list[Chunk]) -> None:
        if rest < len(self._seps) and self._scan is not None:
            scan(self._scan, text, start, end, rest, out)
        elif rest < len(self._seps):
            self._split_rec(text, start, end, rest, out)
        else:
            # No separator left: LangChain keeps the piece whole and unstripped.
            out.append(Chunk(text[start:end], start, end))

    def _pieces(self, sub: str, sep_index: int) -> _Spans:
        """Spans of the pieces ``sub`` splits into on separator ``sep_index`` (empties dropped)."""
        literal, search, split = self._seps[sep_index]
        n = len(sub)
        if not literal:
            return list(range(n)), list(range(1, n + 1))
        if search is None:
            sep_len = len(literal)
            # End of each part plus the separator after it; the last one runs past the text.
            match_ends = list(accumulate(map(sep_len.__add__, map(len, sub.split(literal)))))
            match_ends.pop()
            match_starts = list(map((-sep_len).__add__, match_ends))
        elif split is not None:
            # Parts and matches alternate: [t0, s1, t1, ..., sn, tn].
            cum = [0, *accumulate(map(len, split.split(sub)))]
            match_starts, match_ends = cum[1:-1:2], cum[2::2]
        else:
            match_starts, match_ends = [], []
            for m in search.finditer(sub):
                match_starts.append(m.start())
                match_ends.append(m.end())

        if self._mode == "drop":
            starts, ends = [0, *match_ends], [*match_starts, n]
            if any(map(int.__eq__, starts, ends)):
                keep = list(map(int.__ne__, starts, ends))
                starts = list(compress(starts, keep))
                ends = list(compress(ends, keep))
            return starts, ends
        bounds = [0, *(match_starts if self._mode == "start" else match_ends), n]
        if len(set(bounds)) != len(bounds):  # empty pieces show as repeated boundaries
            bounds = sorted(set(bounds))
        return bounds[:-1], bounds[1:]

    def _merge(
        self,
        sub: str,
        base: int,
        starts: list[int],
        ends: list[int],
        lengths: list[int],
        lo: int,
        hi: int,
        sep_index: int,
        out: list[Chunk],
    ) -> None:
        """Greedy merge of pieces ``lo..hi-1`` (all shorter than chunk_size) with overlap."""
        if self.length_unit != "chars":
            self._merge_counted(sub, base, starts, ends, lengths, lo, hi, sep_index, out)
            return
        size, overlap = self.chunk_size, self.chunk_overlap
        emit = self._emit
        i = lo
        k = bisect_right(ends, starts[i] + size, i, hi)
        while True:
            emit(sub, base, starts[i], ends[k - 1], out)
            if k == hi:
                return
            # Drop pieces from the front while the rest is longer than the overlap or the
            # next piece would not fit: both conditions are monotone in the new first piece.
            i = max(
                bisect_left(starts, ends[k - 1] - overlap, i, k),
                bisect_left(starts, ends[k] - size, i, k),
            )
            k = bisect_right(ends, starts[i] + size, k, hi)

    def _merge_counted(
        self,
        sub: str,
        base: int,
        starts: list[int],
        ends: list[int],
        lengths: list[int],
        lo: int,
        hi: int,
        sep_index: int,
        out: list[Chunk],
    ) -> None:
        """The same merge with token counts: piece counts add up, as LangChain sums them."""
        size, overlap = self.chunk_size, self.chunk_overlap
        sep_len = 0
        if self._mode == "drop":
            sep_len = self.tokenizer.count(self._seps[sep_index][0])  # type: ignore[union-attr]
        first = lo
        total = 0
        for j in range(lo, hi):
            length = lengths[j]
            if first < j and total + length + sep_len > size:
                self._emit(sub, base, starts[first], ends[j - 1], out)
                while first < j and (total > overlap or total + length + sep_len > size):
                    total -= lengths[first] + (sep_len if j - first > 1 else 0)
                    first += 1
            total += length + (sep_len if j > first else 0)
        self._emit(sub, base, starts[first], ends[hi - 1], out)

    def _emit(self, sub: str, base: int, start: int, end: int, out: list[Chunk]) -> None:
        piece = sub[start:end]
        if self.strip_whitespace:
            left = piece.lstrip()
            stripped = left.rstrip()
            if stripped:
                first = base + start + len(piece) - len(left)
                out.append(Chunk(stripped, first, first + len(stripped)))
        elif piece:
            out.append(Chunk(piece, base + start, base + end))


def _check_sizes(chunk_size: object, chunk_overlap: object) -> None:
    if not is_int(chunk_size) or chunk_size <= 0:
        raise ConfigError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    if not is_int(chunk_overlap) or chunk_overlap < 0:
        raise ConfigError(f"chunk_overlap must be a non-negative integer, got {chunk_overlap!r}")
    if chunk_overlap >= chunk_size:
        raise ConfigError(f"chunk_overlap ({chunk_overlap}) must be smaller than chunk_size ({chunk_size})")
