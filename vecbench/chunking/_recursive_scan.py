"""RecursiveChunker's path for short and mid-sized texts: one pass over chunks, not pieces.

With literal separators kept on the pieces and sizes in characters, a piece boundary is
where a separator starts (kept at the start of the piece after it) or ends (kept at the
end of the piece before it). LangChain's greedy merge then only needs, per chunk, the last
boundary within ``chunk_size`` of its start (``rfind``), the first boundary after its end
(``find``: is the next piece a long one?) and the first boundary the next chunk may start
at (``find`` again). The pieces between are never looked at, so the work is per chunk.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from vecbench.chunking.base import Chunk

__all__ = ["ScanConfig", "scan"]


class ScanConfig(NamedTuple):
    separators: tuple[str, ...]
    # Strings whose presence shows overlapping occurrences of a separator ("\n\n\n" for
    # "\n\n"): there find() and str.split() would cut differently, so ``fallback`` splits.
    witnesses: tuple[tuple[str, ...], ...]
    at_start: bool
    chunk_size: int
    chunk_overlap: int
    strip_whitespace: bool
    fallback: Callable[[str, int, int, int, list[Chunk]], None]


def scan(cfg: ScanConfig, text: str, lo: int, hi: int, level: int, out: list[Chunk]) -> None:
    """Append the chunks of ``text[lo:hi]``, split with the separators from ``level`` on."""
    seps = cfg.separators
    size, overlap, strip = cfg.chunk_size, cfg.chunk_overlap, cfg.strip_whitespace
    find, rfind, add = text.find, text.rfind, out.append
    count = len(seps)
    i = level
    while i < count:
        sep = seps[i]
        if not sep:
            _characters(text, lo, hi, size, overlap, strip, add)
            return
        if find(sep, lo, hi) >= 0:
            break
        i += 1
    else:  # no separator occurs: one piece, kept whole if it is long
        if hi - lo >= size or not strip:
            add(Chunk(text[lo:hi], lo, hi))
        else:
            _add_stripped(text, lo, hi, add)
        return
    if cfg.witnesses[i] and any(find(w, lo, hi) >= 0 for w in cfg.witnesses[i]):
        cfg.fallback(text, lo, hi, i, out)
        return
    width = len(sep)
    # A boundary is an occurrence's start (+ 0) or its end (+ width); `shift` converts.
    shift = 0 if cfg.at_start else width
    rest = i + 1
    p = lo
    while p < hi:
        o = find(sep, p + 1 - shift if p + 1 - shift > lo else lo, hi)
        q = hi if o < 0 else o + shift  # the end of the piece that starts at p
        if q - p >= size:  # a long piece: split it with the separators left
            if rest < count:
                scan(cfg, text, p, q, rest, out)
            else:
                add(Chunk(text[p:q], p, q))
            p = q
            continue
        s = p  # a run of short pieces starts here: merge them into chunks
        while True:
            if s + size >= hi:
                e = hi
            else:  # the last boundary within chunk_size of s (one exists: q above)
                y = s + size + width - shift
                e = rfind(sep, lo, y if y < hi else hi) + shift
            if strip:
                piece = text[s:e]
                left = piece.lstrip()
                stripped = left.rstrip()
                if stripped:
                    start = s + len(piece) - len(left)
                    add(Chunk(stripped, start, start + len(stripped)))
            else:
                add(Chunk(text[s:e], s, e))
            if e >= hi:
                p = hi
                break
            o = find(sep, e + 1 - shift, hi)
            f = hi if o < 0 else o + shift  # the end of the piece after the chunk
            if f - e >= size:  # that piece is long: the run ends here
                p = e
                break
            # The next chunk keeps the tail of this one: at most chunk_overlap long, and
            # short enough for piece [e, f) to fit (LangChain's popping, in one step).
            x = e - overlap if e - overlap > f - size else f - size
            o = find(sep, x - shift if x - shift > lo else lo, hi)
            s = e if o < 0 or o + shift > e else o + shift


def _add_stripped(text: str, lo: int, hi: int, add: Callable[[Chunk], None]) -> None:
    piece = text[lo:hi]
    left = piece.lstrip()
    stripped = left.rstrip()
    if stripped:
        start = lo + len(piece) - len(left)
        add(Chunk(stripped, start, start + len(stripped)))


def _characters(
    text: str, lo: int, hi: int, size: int, overlap: int, strip: bool, add: Callable[[Chunk], None]
) -> None:
    """Single-character pieces: windows of ``size`` every ``size - overlap`` characters."""
    if size == 1:  # every character is a long piece, kept as it is
        for k in range(lo, hi):
            add(Chunk(text[k], k, k + 1))
        return
    s = lo
    while True:
        e = s + size if s + size < hi else hi
        if strip:
            _add_stripped(text, s, e, add)
        else:
            add(Chunk(text[s:e], s, e))
        if e >= hi:
            return
        s = e - overlap
