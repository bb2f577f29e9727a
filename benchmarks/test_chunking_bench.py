"""RecursiveChunker vs LangChain's RecursiveCharacterTextSplitter: same output, throughput ratio.

Both run in the same process on the same inputs with the same parameters. The ratio is
LangChain's best time over ours (goal: >= 5x), for ``chunk()`` (Chunk records with offsets)
and for ``split_text()`` (strings, like LangChain); both are printed and kept in ``extra_info``.
"""

from __future__ import annotations

import random
import time
from typing import Any

import pytest

from vecbench.chunking.recursive import RecursiveChunker
from vecbench.rag.beir import load_beir

lc = pytest.importorskip("langchain_text_splitters")

PARAMS = [(1000, 200), (256, 32)]


def _cranfield() -> list[str]:
    """The packaged Cranfield documents' text fields, as stored."""
    return [d.text for d in load_beir("beir:cranfield", title="ignore").docs.values()]


def _long_synthetic(n_words: int = 300_000, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    vocab = ["flow", "the", "boundary", "layer", "é", "漢字", "supersonic", "a", "of", "x" * 30]
    seps = [" "] * 12 + ["\n"] * 2 + ["\n\n", ". "]
    return ["".join(rng.choice(vocab) + rng.choice(seps) for _ in range(n_words))]


def _best_of(fn: Any, rounds: int = 5) -> float:
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _compare(benchmark: Any, texts: list[str], chunk_size: int, chunk_overlap: int, label: str) -> None:
    ours = RecursiveChunker(chunk_size=chunk_size, chunk_overlap=chunk_overlap)
    theirs = lc.RecursiveCharacterTextSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap)

    def run_ours() -> list[list[Any]]:
        return [ours.chunk(t) for t in texts]

    def run_theirs() -> list[list[str]]:
        return [theirs.split_text(t) for t in texts]

    ours_out = run_ours()
    assert [[c.text for c in chunks] for chunks in ours_out] == run_theirs()

    theirs_s = _best_of(run_theirs)
    # Like for like with LangChain's output (strings, no Chunk records): the algorithm alone.
    strings_s = _best_of(lambda: [ours.split_text(t) for t in texts])
    benchmark.pedantic(run_ours, rounds=5, iterations=1, warmup_rounds=1)
    ours_s = benchmark.stats.stats.min
    chars = sum(map(len, texts))
    ratio = theirs_s / ours_s
    benchmark.extra_info.update(
        {
            "corpus": label,
            "chunk_size": chunk_size,
            "chunk_overlap": chunk_overlap,
            "chars": chars,
            "chunks": sum(map(len, ours_out)),
            "ours_s": ours_s,
            "langchain_s": theirs_s,
            "ours_mchars_per_s": chars / ours_s / 1e6,
            "langchain_mchars_per_s": chars / theirs_s / 1e6,
            "speedup": ratio,
            "ours_strings_s": strings_s,
            "speedup_strings": theirs_s / strings_s,
        }
    )
    print(
        f"\n[{label} size={chunk_size} overlap={chunk_overlap}] ours {ours_s * 1e3:.1f} ms, "
        f"langchain {theirs_s * 1e3:.1f} ms (best of 5): {ratio:.1f}x faster; "
        f"strings only {strings_s * 1e3:.1f} ms: {theirs_s / strings_s:.1f}x"
    )


@pytest.mark.parametrize(("chunk_size", "chunk_overlap"), PARAMS)
def test_recursive_vs_langchain_cranfield(benchmark: Any, chunk_size: int, chunk_overlap: int) -> None:
    _compare(benchmark, _cranfield(), chunk_size, chunk_overlap, "cranfield")


@pytest.mark.parametrize(("chunk_size", "chunk_overlap"), PARAMS)
def test_recursive_vs_langchain_long_text(benchmark: Any, chunk_size: int, chunk_overlap: int) -> None:
    _compare(benchmark, _long_synthetic(), chunk_size, chunk_overlap, "synthetic-long")
