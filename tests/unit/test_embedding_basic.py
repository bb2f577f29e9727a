"""HashingEmbedder, get_embedder, the identity/dimension checks and the LangChain wrapper."""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pytest

from vecbench.embedding import (
    Embedder,
    check_dim,
    check_same_embedder,
    embedder_names,
    get_embedder,
)
from vecbench.embedding.hashing import HashingEmbedder
from vecbench.errors import ConfigError, DimensionMismatchError, UnknownNameError


def test_hashing_is_deterministic_normalised_and_an_embedder() -> None:
    e = HashingEmbedder(dim=128)
    assert isinstance(e, Embedder)
    a = e.embed(["An experimental study of a wing", "shock waves", ""])
    b = HashingEmbedder(dim=128).embed(["an EXPERIMENTAL study of a wing", "shock waves", ""])
    assert a.dtype == np.float32 and a.shape == (3, 128)
    np.testing.assert_array_equal(a, b)  # lower-cased, same seed -> same vectors
    np.testing.assert_allclose(np.linalg.norm(a[:2], axis=1), 1.0, rtol=1e-6)
    assert not a[2].any()
    assert e.count_tokens("an experimental study") == 3
    assert e.usage.texts == 3 and e.usage.tokens == 6 + 2
    assert e.name == "hashing-d128-n1-2-s0"


def test_hashing_stable_across_processes_and_seeds() -> None:
    code = "from vecbench.embedding.hashing import HashingEmbedder as H; print(H(dim=32).embed(['wing lift'])[0].tolist())"
    runs = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        for _ in range(2)
    }
    assert len(runs) == 1  # PYTHONHASHSEED differs per process; blake2b does not care
    assert runs.pop().strip() == str(HashingEmbedder(dim=32).embed(["wing lift"])[0].tolist())
    assert not np.array_equal(
        HashingEmbedder(seed=1).embed(["wing lift"]), HashingEmbedder().embed(["wing lift"])
    )


def test_hashing_similar_texts_are_closer() -> None:
    v = HashingEmbedder().embed(
        ["boundary layer transition", "transition of the boundary layer", "rocket nozzle"]
    )
    assert v[0] @ v[1] > v[0] @ v[2]


@pytest.mark.parametrize("bad", [{"dim": 0}, {"ngram": (2, 1)}, {"ngram": (0, 1)}])
def test_hashing_rejects_bad_config(bad: dict) -> None:
    with pytest.raises(ConfigError):
        HashingEmbedder(**bad)


def test_get_embedder_builtins_and_unknown() -> None:
    assert {"hashing", "sentence-transformers", "onnx", "model2vec", "openai"} <= set(embedder_names())
    e = get_embedder("hashing", dim=16, seed=3)
    assert isinstance(e, HashingEmbedder) and e.dim == 16
    with pytest.raises(UnknownNameError, match="hashing"):
        get_embedder("no-such-embedder")
    with pytest.raises(ConfigError):
        get_embedder("hashing", bogus=1)


def test_model_constructors_do_no_io_and_pickle() -> None:
    for name, params in [
        ("sentence-transformers", {}),
        ("onnx", {}),
        ("openai", {"base_url": "http://127.0.0.1:9", "model": "m"}),
    ]:
        e = get_embedder(name, **params)
        assert pickle.loads(pickle.dumps(e)) is not None


def test_import_embedding_loads_no_model_library() -> None:
    code = (
        "import sys, vecbench.embedding as e; e.get_embedder('hashing');"
        "heavy = {'torch', 'sentence_transformers', 'onnxruntime', 'model2vec', 'transformers', 'langchain_core'};"
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_check_same_embedder_and_dim() -> None:
    check_same_embedder("st:all-MiniLM-L6-v2@abc", "st:all-MiniLM-L6-v2@abc")
    with pytest.raises(ConfigError, match="same embedder"):
        check_same_embedder("st:all-MiniLM-L6-v2@abc", "st:all-MiniLM-L6-v2@def")
    e = HashingEmbedder(dim=64)
    check_dim(e, 64)
    with pytest.raises(DimensionMismatchError):
        check_dim(e, 384)


def test_langchain_wrapper() -> None:
    lc = pytest.importorskip("langchain_core.embeddings")
    from vecbench.embedding.langchain import LangChainEmbedder

    class HashingLC(lc.Embeddings):  # a real Embeddings subclass backed by a real embedder
        model = "hashing-d32"

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return HashingEmbedder(dim=32).embed(texts).tolist()

        def embed_query(self, text: str) -> list[float]:
            return self.embed_documents([text])[0]

    e = LangChainEmbedder(HashingLC())
    assert isinstance(e, Embedder)
    assert e.name == "langchain:HashingLC:hashing-d32"
    v = e.embed(["wing lift", "drag"])
    assert v.shape == (2, 32) and v.dtype == np.float32 and e.dim == 32
    np.testing.assert_allclose(v, HashingEmbedder(dim=32).embed(["wing lift", "drag"]), rtol=1e-6)
    assert e.embed_query("drag").shape == (32,)
    assert e.usage.texts == 3 and e.usage.tokens == 4
    assert e.embed([]).shape == (0, 32)

    fake = LangChainEmbedder(lc.DeterministicFakeEmbedding(size=12))
    assert fake.dim == 12 and fake.name == "langchain:DeterministicFakeEmbedding-d12"
    np.testing.assert_array_equal(fake.embed(["a"]), fake.embed(["a"]))
