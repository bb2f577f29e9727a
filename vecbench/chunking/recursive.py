"""The recursive separator-hierarchy chunker (LangChain's RecursiveCharacterTextSplitter, with offsets).

The algorithm: take the first separator of the hierarchy that occurs in the text, split on it,
merge the pieces shorter than ``chunk_size`` greedily into overlapping chunks, and split the
longer pieces again with the separators that remain. With the same parameters it yields the
same chunk texts as ``langchain_text_splitters.RecursiveCharacterTextSplitter`` (tested), and
every chunk carries exact offsets into the input, tracked while splitting.

Why it is faster: pieces are never materialised as strings. A split yields the boundary
positions of its pieces (one C-level ``split`` plus ``accumulate`` over the part lengths),
and in ``chars`` mode the greedy merge is done with ``bisect`` over those positions, so the
work per chunk is a few binary searches rather than a Python step per piece.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from itertools import accumulate, compress, count
from typing import Any, Literal

from vecbench.chunking.base import Chunk, SizeUnit, Tokenizer
from vecbench.errors import ConfigError

__all__ = ["DEFAULT_SEPARATORS", "RecursiveChunker"]

DEFAULT_SEPARATORS: tuple[str, ...] = ("\n\n", "\n", " ", "")

KeepSeparator = bool | Literal["start", "end"]

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
        # Chunks found by scanning the text: literal separators kept on pieces, sizes in chars.
        self._scan = self._mode != "drop" and length_unit == "chars"
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
        # Strings whose presence means two occurrences of a literal separator overlap
        # ("\n\n\n" for "\n\n"): there find() and str.split() would cut differently.
        self._overlap_witness: list[tuple[str, ...]] = [
            tuple(sep + sep[b:] for b in range(1, len(sep)) if sep[:b] == sep[-b:]) if search is None else ()
            for sep, search, _ in self._seps
        ]

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
        return [Chunk(t, s, s + len(t)) for t, s in self._split(text)]

    def split_text(self, text: str) -> list[str]:
        """The chunk texts only (what LangChain's ``split_text`` returns)."""
        return [t for t, _ in self._split(text)]

    # -- splitting -------------------------------------------------------------------------

    def _split(self, text: str) -> list[tuple[str, int]]:
        if not isinstance(text, str):
            raise ConfigError(f"text must be a str, got {type(text).__name__}")
        out: list[tuple[str, int]] = []
        if text:
            self._split_rec(text, 0, len(text), 0, out)
        return out

    def _split_rec(self, text: str, lo: int, hi: int, first_sep: int, out: list[tuple[str, int]]) -> None:
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
        if (
            self._scan
            and seps[chosen][1] is None
            and not any(text.find(w, lo, hi) >= 0 for w in self._overlap_witness[chosen])
        ):
            self._split_scan(text, lo, hi, chosen, rest, out)
            return

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

    def _long_piece(self, text: str, start: int, end: int, rest: int, out: list[tuple[str, int]]) -> None:
        if rest < len(self._seps):
            self._split_rec(text, start, end, rest, out)
        else:
            # No separator left: LangChain keeps the piece whole and unstripped.
            out.append((text[start:end], start))

    def _split_scan(
        self, text: str, lo: int, hi: int, sep_index: int, rest: int, out: list[tuple[str, int]]
    ) -> None:
        """Split and merge in one pass that visits chunks, not pieces (literal separators, chars).

        Piece boundaries are separator starts (keep "start") or ends (keep "end"); the greedy
        merge only needs the last boundary within ``chunk_size`` of a chunk's start and the
        first boundary after a position, which ``rfind``/``find`` give directly. The caller
        made sure no two occurrences of the separator overlap in the window, so every
        occurrence ``find`` sees is one ``str.split`` would cut at.
        """
        literal = self._seps[sep_index][0]
        size, overlap = self.chunk_size, self.chunk_overlap
        emit = self._emit
        sep_len = len(literal)
        find, rfind = text.find, text.rfind
        at_start = self._mode == "start"

        def next_boundary(x: int) -> int:
            """The first boundary at or after ``x`` (lo < x)."""
            if x >= hi or not sep_len:
                return min(x, hi)
            if at_start:
                o = find(literal, x, hi)
                return hi if o < 0 else o
            o = find(literal, x - sep_len if x - sep_len > lo else lo, hi)
            return hi if o < 0 else o + sep_len

        def prev_boundary(y: int) -> int:
            """The last boundary at or before ``y`` (lo < y)."""
            if y >= hi or not sep_len:
                return min(y, hi)
            if at_start:
                o = rfind(literal, lo, y + sep_len if y + sep_len < hi else hi)
                return lo if o < 0 else o
            o = rfind(literal, lo, y)
            return lo if o < 0 else o + sep_len

        p = lo
        while p < hi:
            q = next_boundary(p + 1)
            if q - p >= size:
                self._long_piece(text, p, q, rest, out)
                p = q
                continue
            s = p  # a run of short pieces starts here
            while True:
                e = prev_boundary(s + size)
                if e >= hi:
                    emit(text, 0, s, hi, out)
                    p = hi
                    break
                f = next_boundary(e + 1)
                emit(text, 0, s, e, out)
                if f - e >= size:  # a long piece ends the run
                    p = e
                    break
                # The new chunk keeps the tail of this one: at most chunk_overlap long, and
                # short enough for the next piece to fit (LangChain's popping, in one step).
                s = min(e, next_boundary(max(e - overlap, f - size)))

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
        out: list[tuple[str, int]],
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
        out: list[tuple[str, int]],
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

    def _emit(self, sub: str, base: int, start: int, end: int, out: list[tuple[str, int]]) -> None:
        piece = sub[start:end]
        if self.strip_whitespace:
            left = piece.lstrip()
            stripped = left.rstrip()
            if stripped:
                out.append((stripped, base + start + len(piece) - len(left)))
        elif piece:
            out.append((piece, base + start))


def _check_sizes(chunk_size: object, chunk_overlap: object) -> None:
    if not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size <= 0:
        raise ConfigError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    if not isinstance(chunk_overlap, int) or isinstance(chunk_overlap, bool) or chunk_overlap < 0:
        raise ConfigError(f"chunk_overlap must be a non-negative integer, got {chunk_overlap!r}")
    if chunk_overlap >= chunk_size:
        raise ConfigError(f"chunk_overlap ({chunk_overlap}) must be smaller than chunk_size ({chunk_size})")
