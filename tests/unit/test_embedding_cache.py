"""EmbeddingCache: reruns never re-embed, order and duplicates kept, usage counts misses only."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from vecbench.embedding import Embedder
from vecbench.embedding.cache import EmbeddingCache
from vecbench.embedding.hashing import HashingEmbedder


class CountingEmbedder(HashingEmbedder):
    """HashingEmbedder that records every text it is asked to embed."""

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.seen: list[str] = []

    def embed(self, texts):  # type: ignore[no-untyped-def]
        self.seen.extend(texts)
        return super().embed(texts)


TEXTS = ["wing in a slipstream", "boundary layer", "shock wave", "boundary layer", "nozzle flow"]


def test_embeds_only_misses_in_order(tmp_path: Path) -> None:
    inner = CountingEmbedder(dim=32)
    with EmbeddingCache(inner, root=tmp_path) as cache:
        assert isinstance(cache, Embedder) and cache.name == inner.name and cache.dim == 32
        first = cache.embed(TEXTS)
        assert inner.seen == ["wing in a slipstream", "boundary layer", "shock wave", "nozzle flow"]
        np.testing.assert_array_equal(first, HashingEmbedder(dim=32).embed(TEXTS))
        assert cache.stats.misses == 5 and cache.stats.hits == 0
        assert cache.usage.texts == 4 and cache.usage.tokens == 4 + 2 + 2 + 2

        inner.seen.clear()
        mixed = cache.embed(["nozzle flow", "new text here", "shock wave"])
        assert inner.seen == ["new text here"]
        np.testing.assert_array_equal(
            mixed, HashingEmbedder(dim=32).embed(["nozzle flow", "new text here", "shock wave"])
        )
        assert cache.stats.hits == 2 and cache.stats.misses == 6
        assert cache.stats.hit_rate == pytest.approx(2 / 8)
        assert cache.usage.texts == 5 and cache.usage.tokens == 10 + 3
        assert len(cache) == 5
        assert cache.embed([]).shape == (0, 32)


def test_rerun_in_a_new_process_never_reembeds(tmp_path: Path) -> None:
    with EmbeddingCache(CountingEmbedder(dim=16), root=tmp_path) as c1:
        a = c1.embed(TEXTS)
    inner = CountingEmbedder(dim=16)
    c2 = pickle.loads(pickle.dumps(EmbeddingCache(inner, root=tmp_path)))  # as a worker would get it
    b = c2.embed(TEXTS)
    assert c2.inner.seen == []  # type: ignore[attr-defined]
    assert c2.usage.tokens == 0 and c2.stats.hit_rate == 1.0
    np.testing.assert_array_equal(a, b)
    c2.close()


def test_identity_separates_models(tmp_path: Path) -> None:
    with (
        EmbeddingCache(HashingEmbedder(dim=16), root=tmp_path) as a,
        EmbeddingCache(CountingEmbedder(dim=16, seed=7), root=tmp_path) as b,
    ):
        a.embed(["x y"])
        b.embed(["x y"])
        assert b.inner.seen == ["x y"]  # type: ignore[attr-defined]
        assert a.path != b.path and a.path.parent == tmp_path


def test_default_root_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VECBENCH_CACHE", str(tmp_path))
    cache = EmbeddingCache(HashingEmbedder(dim=8))
    assert not (tmp_path / "embeddings").exists()  # constructor does no I/O
    cache.embed(["a"])
    assert cache.path.parent == tmp_path / "embeddings" and cache.path.exists()
    cache.close()
