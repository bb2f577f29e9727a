"""Checks shared by the chunker tests (no tests here)."""

from __future__ import annotations

from collections.abc import Sequence

from vecbench.chunking.base import Chunk


def check_disjoint_spans(text: str, chunks: Sequence[Chunk], max_size: int) -> None:
    """Each chunk is the slice of ``text`` its offsets name, at most ``max_size`` long, and
    chunks follow each other without overlapping."""
    for c in chunks:
        assert text[c.start : c.end] == c.text
        assert len(c.text) <= max_size
    assert all(a.end <= b.start for a, b in zip(chunks, chunks[1:], strict=False))
