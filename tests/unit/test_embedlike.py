"""The embedlike generator: determinism, streaming, statistics against the real MiniLM vectors'
(the reference stored in the profile at fit time), bad parameters, loading by name."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from vecbench.datasets import load
from vecbench.datasets.embedlike import GEN_ROWS, EmbedlikeSource, load_profile, profile_path
from vecbench.datasets.embedlike_fit import (
    QUANTILES,
    calibrate_topics,
    fit_profile,
    kmeans,
    neighbour_stats,
    reference_stats,
)
from vecbench.errors import ConfigError, DatasetError, UnknownNameError
from vecbench.metrics import Metric

pytestmark = pytest.mark.usefixtures("vb_cache")


def test_profile_is_small_and_complete():
    assert profile_path("minilm").stat().st_size < 1_000_000
    p = load_profile("minilm")
    assert p.dim == 384 and p.rank < p.dim and p.unit_norm
    assert p.centres.shape == (len(p.weights), 384) and abs(p.weights.sum() - 1) < 1e-9
    assert np.all(np.diff(p.eigenvalues) <= 0)  # descending spectrum
    assert {"eig_frac", "norm_q", "cos_q", "nn1_q", "nn10_q"} <= set(p.reference)
    assert p.topics > 0 and 0 < p.local_frac < 1
    assert "MiniLM" in p.meta["model"] and "cranfield" in p.meta["corpus"]


def test_same_seed_same_bytes_other_seed_other_bytes():
    a = EmbedlikeSource(n=3000, nq=50, seed=3)
    b = EmbedlikeSource(n=3000, nq=50, seed=3)
    c = EmbedlikeSource(n=3000, nq=50, seed=4)
    assert a.base().tobytes() == b.base().tobytes() and a.queries().tobytes() == b.queries().tobytes()
    assert a.checksum == b.checksum != c.checksum
    assert not np.array_equal(a.base(), c.base())
    assert not np.array_equal(a.base()[:50], a.queries())  # queries are fresh draws


def test_blocks_do_not_depend_on_block_size_or_n():
    n = 2 * GEN_ROWS + 1234
    src = EmbedlikeSource(n=n, nq=10, seed=1)
    whole = src.base()
    for rows in (1000, GEN_ROWS, GEN_ROWS + 7, n):
        parts = list(src.iter_blocks(rows))
        assert all(len(block) <= rows for _, block in parts)
        assert [first for first, _ in parts] == list(range(0, n, rows))
        assert np.concatenate([block for _, block in parts]).tobytes() == whole.tobytes()
    tail = list(src.iter_blocks(5000, start=GEN_ROWS - 5, stop=n - 3))
    assert np.concatenate([b for _, b in tail]).tobytes() == whole[GEN_ROWS - 5 : n - 3].tobytes()
    assert src.read(GEN_ROWS - 5, GEN_ROWS + 5).tobytes() == whole[GEN_ROWS - 5 : GEN_ROWS + 5].tobytes()
    assert src.block(1).tobytes() == whole[GEN_ROWS : 2 * GEN_ROWS].tobytes()  # one block, alone
    clone = pickle.loads(pickle.dumps(src))  # a worker process rebuilds it from the pickle
    assert clone.read(n - 10, n).tobytes() == whole[n - 10 :].tobytes()
    smaller = EmbedlikeSource(n=5000, nq=99, seed=1)  # a prefix; nq leaves the base alone
    assert smaller.base().tobytes() == whole[:5000].tobytes()
    assert smaller.queries()[:10].tobytes() == src.queries().tobytes()


def test_statistics_match_the_real_vectors():
    """Top-20 eigenvalue fractions, norms and random-pair cosines of 8k generated vectors
    against the same statistics of the real MiniLM passages (stored in the profile)."""
    prof = load_profile("minilm")
    x = EmbedlikeSource(n=8000, seed=0).base()
    got, real = reference_stats(x, seed=1), prof.reference
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(got["norm_q"], real["norm_q"], atol=1e-3)
    # The spectrum decays as the real one does: each of the top 20 within 20% (+0.002).
    np.testing.assert_allclose(got["eig_frac"], real["eig_frac"], rtol=0.2, atol=0.002)
    assert got["eig_frac"].sum() == pytest.approx(real["eig_frac"].sum(), rel=0.1)
    # Random pairs are as similar as real passages are, quantile by quantile.
    np.testing.assert_allclose(got["cos_q"], real["cos_q"], atol=0.04)
    assert np.linalg.norm(x.mean(axis=0) - prof.mean) < 0.05
    assert len(QUANTILES) == len(real["cos_q"])


def test_neighbourhoods_match_the_real_vectors():
    """Distances from held-out queries to their 1st and 10th neighbours, at the real set's size
    (6,227 passages, 500 queries), against the real passages' (stored at fit time)."""
    prof = load_profile("minilm")
    src = EmbedlikeSource(n=prof.n_fit - 500, nq=500, seed=0)
    got = neighbour_stats(src.base(), src.queries())
    np.testing.assert_allclose(got["nn1_q"], prof.reference["nn1_q"], atol=0.06)
    np.testing.assert_allclose(got["nn10_q"], prof.reference["nn10_q"], atol=0.06)


def test_projected_dim_keeps_the_leading_principal_components():
    native = EmbedlikeSource(n=500, seed=2).base()
    small = EmbedlikeSource(n=500, seed=2, dim=64).base()
    assert small.shape == (500, 64)
    np.testing.assert_allclose(np.linalg.norm(small, axis=1), 1.0, atol=1e-5)
    pcs = native @ load_profile("minilm").basis[:, :64]  # same rows, in principal coordinates
    pcs /= np.linalg.norm(pcs, axis=1, keepdims=True)
    assert np.min(np.einsum("ij,ij->i", pcs, small)) > 0.995


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"n": 0}, "n must be a positive integer"),
        ({"n": "many"}, "n must be a positive integer"),
        ({"nq": -1}, "nq must be a positive integer"),
        ({"seed": -1}, "seed must be a non-negative integer"),
        ({"dim": 385}, r"dim must be an integer in 1\.\.384"),
        ({"dim": 0}, r"dim must be an integer in 1\.\.384"),
        ({"dim": 1.5}, r"dim must be an integer"),
        ({"clusters": 8}, "unknown parameter"),
        ({"metric": "hamming"}, "metric"),
    ],
)
def test_bad_parameters_raise_before_any_work(monkeypatch, params, match):
    def boom(*args, **kwargs):
        raise AssertionError("generated before the parameters were checked")

    monkeypatch.setattr(EmbedlikeSource, "block", boom)
    with pytest.raises(ConfigError, match=match):
        load("embedlike:minilm", **params)


def test_unknown_profile_and_bad_block_size():
    with pytest.raises(UnknownNameError, match="embedlike profile 'nope'"):
        load("embedlike:nope", n=10)
    with pytest.raises(ConfigError, match="rows per block"):
        EmbedlikeSource(n=10).iter_blocks(0)
    with pytest.raises(DatasetError, match="outside"):
        EmbedlikeSource(n=10).read(5, 11)


def test_load_by_name_gives_a_dataset():
    ds = load("embedlike:minilm", n=1000, nq=20, seed=5)
    same = load("embedlike", n=1000, nq=20, seed=5)
    assert ds.name == "embedlike-minilm-1000x384-cosine-s5" and ds.metric is Metric.COSINE
    assert (ds.n, ds.nq, ds.dim) == (1000, 20, 384)
    assert ds.checksum == same.checksum and ds.checksum.startswith("embedlike:")
    assert ds.base.tobytes() == same.base.tobytes()
    assert ds.params == {"profile": "minilm", "n": 1000, "nq": 20, "dim": 384, "metric": "cosine", "seed": 5}
    assert set(ds.attributes) == {"int_attr", "label"} and len(ds.attributes["label"]) == 1000


def test_fit_recovers_a_known_mixture():
    """fit_profile on data drawn from a known low-rank mixture: the spectrum, weights and the
    sampled statistics come back."""
    rng = np.random.default_rng(0)
    dim, k = 24, 4
    centres = rng.standard_normal((k, dim)) * 3
    scales = np.r_[np.linspace(2, 0.5, 6), np.full(dim - 6, 0.1)]
    labels = rng.choice(k, size=4000, p=[0.4, 0.3, 0.2, 0.1])
    x = centres[labels] + rng.standard_normal((4000, dim)) * scales
    profile = fit_profile(x, clusters=k, rank=6, seed=0)
    np.testing.assert_allclose(np.sort(profile["weights"]), [0.1, 0.2, 0.3, 0.4], atol=0.02)
    np.testing.assert_allclose(
        profile["eigenvalues"], np.linalg.eigvalsh(np.cov(x, rowvar=False))[::-1], rtol=1e-4
    )
    assert not bool(profile["unit_norm"])
    found = kmeans(x.astype(np.float32), k, seed=0)
    assert max(np.bincount(found[labels == j]).max() / np.sum(labels == j) for j in range(k)) == 1.0
    with pytest.raises(ConfigError, match="rank"):
        fit_profile(x, clusters=k, rank=dim)
    calibrated = calibrate_topics(profile, x, heldout=200)
    assert int(calibrated["topics"]) > 0 and 0 < float(calibrated["local_frac"]) < 1
    assert calibrated["ref_nn1_q"].shape == (3,)


def test_a_streamed_embedlike_set_holds_the_same_data() -> None:
    from vecbench.datasets.embedlike import load_embedlike
    from vecbench.datasets.stream import BlockSource
    from vecbench.measures.groundtruth import exact_knn

    streamed = load_embedlike(n=20_000, nq=8, dim=32, stream=True)
    whole = load_embedlike(n=20_000, nq=8, dim=32, stream=False)
    assert isinstance(streamed.base, BlockSource) and isinstance(whole.base, np.ndarray)
    assert streamed.checksum == whole.checksum
    blocks = [b for _, b in streamed.base.iter_blocks(7_000)]
    assert np.array_equal(np.concatenate(blocks), whole.base)
    ids = np.array([19_999, 3, 8_192, 8_191])
    assert np.array_equal(streamed.base[ids], whole.base[ids])
    assert np.array_equal(streamed.attributes["int_attr"], whole.attributes["int_attr"])
    a = exact_knn(streamed.base, streamed.queries, 10, "cosine")
    b = exact_knn(whole.base, whole.queries, 10, "cosine")
    assert np.array_equal(a.ids, b.ids)


def test_stream_must_be_a_boolean() -> None:
    from vecbench.datasets.embedlike import load_embedlike

    with pytest.raises(ConfigError, match="stream must be true or false"):
        load_embedlike(n=100, stream="yes")
