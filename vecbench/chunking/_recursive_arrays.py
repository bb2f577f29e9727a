"""RecursiveChunker's path for long texts: the same algorithm, one separator level at a time.

On a long text the Python steps per piece add up, so every level of the separator
hierarchy is done for all of its regions at once with numpy: separator positions come from
one comparison over the text's code points, pieces are (start, end) arrays, and the greedy
merge needs two merges of sorted arrays (the last piece that fits after each piece, and the
first piece the next chunk may start with); only the walk from one chunk to the next is a
Python loop. Offsets are positions in the text from the start; strings are cut once, for
the final chunks. Regions where pieces are small against chunks (words, say) are left to
the scanning path (``_recursive_scan``), whose work is per chunk rather than per piece.

Applies to literal separators kept on the pieces, sizes in characters.
"""

from __future__ import annotations

import sys
from array import array
from functools import cache
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

    Ints = NDArray[np.int64]

__all__ = ["split_spans"]

# Separator positions are looked up in the whole text once the regions to split cover
# 1/_WHOLE_TEXT_SHARE of it; below that, in each region (a slice each for _FEW_REGIONS).
_WHOLE_TEXT_SHARE = 16
_FEW_REGIONS = 32
# Regions whose pieces come this many to a chunk or more are left to the scanning path.
_DENSE_PIECES_PER_CHUNK = 32
_WCHAR = "w" if sys.version_info >= (3, 13) else "u"  # "u" is deprecated from 3.13 on


def code_points(text: str) -> NDArray[np.unsignedinteger]:
    """One array element per character of ``text`` (so array positions are str positions)."""
    if text.isascii():
        return np.frombuffer(text.encode("ascii"), np.uint8)
    # A wchar_t array is a plain copy of the code points where wchar_t has 4 bytes (far
    # faster than a codec); elsewhere (2 bytes, UTF-16) the UTF-32 codec does it.
    wide = array(_WCHAR, text)
    if wide.itemsize == 4 and len(wide) == len(text):
        return np.frombuffer(wide, np.uint32)
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), np.uint32)


def split_spans(
    text: str,
    separators: tuple[str, ...],
    keep_at_start: bool,
    chunk_size: int,
    chunk_overlap: int,
    strip_whitespace: bool,
) -> tuple[list[int], list[int], list[tuple[int, int, int, int]]]:
    """Chunk spans as LangChain's recursive splitter cuts ``text``: (starts, ends, regions).

    ``regions`` are ``(index, lo, hi, level)``, in order: ``text[lo:hi]`` is left to split
    with the separators from ``level`` on, its chunks going before the span ``index``.
    """
    points = code_points(text)
    n = len(text)
    lo, hi = np.array([0], np.int64), np.array([n], np.int64)
    # Spans per level, and whether the merge made them (stripped later) or they are long
    # pieces with no separator left (kept as they are).
    parts: list[tuple[Ints, Ints, bool]] = []
    last = len(separators) - 1
    seen = _Seen({}, {})
    deferred: list[tuple[int, int, int]] = []
    step = chunk_size - chunk_overlap  # about how far apart chunks start
    for level, sep in enumerate(separators):
        if not lo.size:
            break
        if not sep:
            parts.append((*_character_chunks(lo, hi, chunk_size, chunk_overlap), chunk_size > 1))
            lo = lo[:0]
            break
        cuts = _occurrences(points, sep, lo, hi, seen)
        if cuts.size * step > _DENSE_PIECES_PER_CHUNK * int((hi - lo).sum()):
            # Many pieces per chunk (words, say): a scan that steps from chunk to chunk does
            # less work than arrays over every piece. The caller scans these regions.
            deferred.extend(zip(lo.tolist(), hi.tolist(), [level] * lo.size, strict=True))
            lo = lo[:0]
            break
        first = np.searchsorted(cuts, lo, "left")
        count = np.searchsorted(cuts, hi - len(sep), "right") - first
        found = count > 0
        if not keep_at_start:
            cuts = cuts + len(sep)
        if found.all():
            starts, ends, region = _pieces(lo, hi, cuts, first, count)
            lo = hi = lo[:0]
        else:
            starts, ends, region = _pieces(lo[found], hi[found], cuts, first[found], count[found])
            lo, hi = lo[~found], hi[~found]
        short = (ends - starts) < chunk_size
        parts.append((*_merge(starts, ends, region, short, chunk_size, chunk_overlap), True))
        if short.all():
            continue
        long_starts, long_ends = starts[~short], ends[~short]
        if level == last:
            parts.append((long_starts, long_ends, False))
        else:
            lo = np.concatenate([lo, long_starts])
            hi = np.concatenate([hi, long_ends])
            if lo.size > long_starts.size:
                order = np.argsort(lo, kind="stable")
                lo, hi = lo[order], hi[order]
    if lo.size:  # regions in which no separator occurs: a single piece
        fits = (hi - lo) < chunk_size
        parts.append((lo[fits], hi[fits], True))
        parts.append((lo[~fits], hi[~fits], False))

    parts = [part for part in parts if part[0].size]
    if not parts:
        return [], [], [(0, *region) for region in sorted(deferred)]
    starts = np.concatenate([s for s, _, _ in parts])
    ends = np.concatenate([e for _, e, _ in parts])
    merged = np.concatenate([np.full(s.size, m) for s, _, m in parts])
    if len(parts) > 1:
        # Spans never overlap across regions and start at distinct positions within one,
        # so the order of the unstripped starts is the order LangChain emits chunks in.
        order = np.argsort(starts, kind="stable")
        starts, ends, merged = starts[order], ends[order], merged[order]
    raw_starts = starts
    if strip_whitespace:
        starts, ends = _strip(text, points, starts, ends, merged)
    keep = ends > starts  # LangChain drops chunks that are empty (once stripped)
    if not keep.all():
        starts, ends = starts[keep], ends[keep]
    places: list[tuple[int, int, int, int]] = []
    if deferred:  # where each scanned region goes among the chunks kept
        deferred.sort()
        before = np.searchsorted(raw_starts, np.array([d[0] for d in deferred], np.int64))
        kept_before = np.concatenate([[0], np.cumsum(keep)])[before].tolist()
        places = [(at, *d) for at, d in zip(kept_before, deferred, strict=True)]
    return starts.tolist(), ends.tolist(), places


def _ranges(firsts: Ints, counts: Ints) -> Ints:
    """``concatenate([arange(f, f + c) for f, c in zip(firsts, counts)])`` without the loop."""
    total = int(counts.sum())
    if not total:
        return np.zeros(0, np.int64)
    offsets = np.cumsum(counts) - counts
    return np.arange(total, dtype=np.int64) + np.repeat(firsts - offsets, counts)


def _nonzero(mask: NDArray[np.bool_]) -> Ints:
    """``flatnonzero(mask)``, faster for the sparse masks separators make."""
    n8 = mask.size // 8 * 8
    words = mask[:n8].view(np.uint64)  # eight characters' flags per word
    blocks = np.flatnonzero(words != 0)
    if blocks.size * 4 > words.size:  # dense: scanning every flag costs the same
        return np.flatnonzero(mask)
    hits = np.flatnonzero(words[blocks].view(bool))
    hits = blocks[hits >> 3] * 8 + (hits & 7)
    if n8 < mask.size:
        hits = np.concatenate([hits, np.flatnonzero(mask[n8:]) + n8])
    return hits


class _Seen(NamedTuple):
    """What was found in the whole text, kept for the levels below."""

    masks: dict[int, NDArray[np.bool_]]  # per code point: where it is
    matches: dict[str, Ints]  # per separator: where it starts (overlapping matches too)


def _matches(points: NDArray[np.unsignedinteger], sep: str, seen: _Seen) -> Ints:
    """Every start of ``sep`` in the whole text, overlapping ones included."""
    if sep not in seen.matches:
        n, width = len(points), len(sep)
        for code in map(ord, sep):
            if code not in seen.masks:
                seen.masks[code] = points == code
        mask = seen.masks[ord(sep[0])][: n - width + 1]
        for j in range(1, width):
            mask = mask & seen.masks[ord(sep[j])][j : n - width + 1 + j]
        seen.matches[sep] = _nonzero(mask)
    return seen.matches[sep]


def _occurrences(points: NDArray[np.unsignedinteger], sep: str, lo: Ints, hi: Ints, seen: _Seen) -> Ints:
    """Start positions of ``sep`` inside the regions, found left to right like ``str.split``."""
    codes = [ord(c) for c in sep]
    n, width = len(points), len(sep)
    if max(codes) > np.iinfo(points.dtype).max or n < width:
        return np.zeros(0, np.int64)
    if sep in seen.matches or int((hi - lo).sum()) * _WHOLE_TEXT_SHARE >= n:
        cand = _matches(points, sep, seen)
        if lo.size > 1 or lo[0] > 0 or hi[0] < n:
            a = np.searchsorted(cand, lo, "left")
            cand = cand[_ranges(a, np.maximum(np.searchsorted(cand, hi - width, "right") - a, 0))]
    else:
        if lo.size <= _FEW_REGIONS:  # a few small regions: look at them only
            parts = [
                np.flatnonzero(points[a : b - width + 1] == codes[0]) + a
                for a, b in zip(lo.tolist(), hi.tolist(), strict=True)
            ]
            cand = np.concatenate(parts).astype(np.int64, copy=False)
        else:
            at = _ranges(lo, np.maximum(hi - lo - width + 1, 0))
            cand = at[points[at] == codes[0]]
        for j in range(1, width):
            cand = cand[points[cand + j] == codes[j]]
    if width > 1 and cand.size > 1 and bool((np.diff(cand) < width).any()):
        # Overlapping matches ("\n\n" in "\n\n\n"): keep them greedily from the left. A match
        # cannot overlap one from the previous region, both lying inside their regions.
        kept, end = [], -1
        for p in cand.tolist():
            if p >= end:
                kept.append(p)
                end = p + width
        cand = np.array(kept, np.int64)
    return cand


def _pieces(lo: Ints, hi: Ints, cuts: Ints, first: Ints, count: Ints) -> tuple[Ints, Ints, Ints]:
    """Non-empty pieces of each region cut at ``cuts[first:first+count]``: starts, ends, region."""
    if lo.size == 1:  # the whole text, typically
        inner = cuts[int(first[0]) : int(first[0] + count[0])]
        starts = np.concatenate([lo, inner])
        ends = np.concatenate([inner, hi])
        a = 1 if ends[0] == starts[0] else 0  # an empty first or last piece
        b = starts.size - 1 if ends[-1] == starts[-1] else starts.size
        return starts[a:b], ends[a:b], np.zeros(b - a, np.int64)
    inner = cuts[_ranges(first, count)]
    total = int(count.sum()) + lo.size
    head = np.cumsum(count + 1) - (count + 1)  # index of each region's first piece
    tail = head + count
    starts = np.empty(total, np.int64)
    ends = np.empty(total, np.int64)
    not_head = np.ones(total, bool)
    not_head[head] = False
    not_tail = np.ones(total, bool)
    not_tail[tail] = False
    starts[head], starts[not_head] = lo, inner
    ends[tail], ends[not_tail] = hi, inner
    region = np.repeat(np.arange(lo.size), count + 1)
    keep = ends > starts
    return starts[keep], ends[keep], region[keep]


def _merge(
    starts: Ints, ends: Ints, region: Ints, short: NDArray[np.bool_], size: int, overlap: int
) -> tuple[Ints, Ints]:
    """Greedy merge of each run of short pieces (LangChain's ``_merge_splits``), as spans."""
    idx = np.flatnonzero(short)
    if not idx.size:
        return idx, idx
    # From here on only the short pieces count, in order: runs are the stretches of them
    # that are adjacent in the same region.
    starts, ends = starts[idx], ends[idx]
    new_run = np.ones(idx.size, bool)
    new_run[1:] = np.diff(idx) != 1
    if region[-1] != region[0]:
        new_run[1:] |= np.diff(region[idx]) != 0
    run_first = np.flatnonzero(new_run)
    run_last = np.append(run_first[1:] - 1, idx.size - 1)[np.cumsum(new_run) - 1]  # per piece
    # The last piece of the chunk that starts at piece i (pieces are sorted and disjoint).
    fit = np.minimum(_rank(ends, starts + size, ties_before=True) - 1, run_last)
    closes_run = fit == run_last
    if closes_run[run_first].all():  # every run makes a single chunk
        return starts[run_first], ends[fit[run_first]]
    # After a chunk ending at piece j, the next one starts at the first piece that leaves at
    # most `overlap` behind and lets piece j + 1 fit (LangChain's popping, in one step).
    after = np.minimum(np.arange(1, idx.size + 1), idx.size - 1)
    restart = _rank(starts, np.maximum(ends - overlap, ends[after] - size), ties_before=False)
    # The first piece of the chunk after the one starting at piece i (-1: i's chunk closes its
    # run). Walking these is the one step per chunk done in Python.
    follow = np.where(closes_run, -1, restart[fit]).tolist()
    firsts: list[int] = []
    add = firsts.append
    for i in run_first.tolist():
        while i >= 0:
            add(i)
            i = follow[i]
    first = np.array(firsts, np.int64)
    return starts[first], ends[fit[first]]


def _rank(values: Ints, keys: Ints, ties_before: bool) -> Ints:
    """``searchsorted(values, keys, "right" if ties_before else "left")`` for sorted keys.

    A stable sort of the two sorted arrays side by side is a linear merge (timsort finds the
    two runs), several times faster than a binary search per key.
    """
    if ties_before:  # values equal to a key sort before it
        order = np.argsort(np.concatenate([values, keys]), kind="stable")
        return np.flatnonzero(order >= values.size) - np.arange(keys.size)
    order = np.argsort(np.concatenate([keys, values]), kind="stable")
    return np.flatnonzero(order < keys.size) - np.arange(keys.size)


def _character_chunks(lo: Ints, hi: Ints, size: int, overlap: int) -> tuple[Ints, Ints]:
    """Chunks of single-character pieces: windows of ``size`` every ``size - overlap``."""
    if size == 1:  # every character is a long piece of its own
        starts = _ranges(lo, hi - lo)
        return starts, starts + 1
    step = size - overlap
    length = hi - lo
    counts = np.where(length <= size, 1, 1 + (length - size + step - 1) // step)
    within = _ranges(np.zeros_like(lo), counts)
    starts = np.repeat(lo, counts) + within * step
    return starts, np.minimum(starts + size, np.repeat(hi, counts))


@cache
def _whitespace_table() -> NDArray[np.bool_]:
    """``str.isspace`` for every BMP code point (the rest is looked up as met)."""
    return np.array([chr(c).isspace() for c in range(0x10000)], bool)


def _is_space(values: NDArray[np.unsignedinteger]) -> NDArray[np.bool_]:
    table = _whitespace_table()
    if values.dtype != np.uint32 or not values.size or int(values.max()) < 0x10000:
        return table[values]
    small = values < 0x10000
    out = np.zeros(values.size, bool)
    out[small] = table[values[small]]
    if not small.all():
        big = np.unique(values[~small])
        spaces = [v for v in big.tolist() if chr(v).isspace()]
        if spaces:
            out |= np.isin(values, spaces)
    return out


def _strip(
    text: str, points: NDArray[np.unsignedinteger], starts: Ints, ends: Ints, which: NDArray[np.bool_]
) -> tuple[Ints, Ints]:
    """Move the merged spans' ends inward past whitespace (``str.strip``), a step at a time."""
    starts, ends = starts.copy(), ends.copy()
    for side in (0, 1):
        active = np.flatnonzero(which & (ends > starts))
        for _ in range(8):
            if not active.size:
                break
            at = starts[active] if side == 0 else ends[active] - 1
            active = active[_is_space(points[at])]
            if side == 0:
                starts[active] += 1
            else:
                ends[active] -= 1
            active = active[ends[active] > starts[active]]
        for k in active.tolist():  # long whitespace runs: finish with str methods
            piece = text[starts[k] : ends[k]]
            if side == 0:
                starts[k] += len(piece) - len(piece.lstrip())
            else:
                ends[k] -= len(piece) - len(piece.rstrip())
    return starts, ends
