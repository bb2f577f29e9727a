"""RecursiveChunker: same chunk texts as LangChain's RecursiveCharacterTextSplitter, exact offsets."""

from __future__ import annotations

import pickle
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rag_helpers import cranfield_texts

from vecbench.chunking.base import Chunker
from vecbench.chunking.langchain import ChunkAlignmentError, LangChainChunker
from vecbench.chunking.recursive import RecursiveChunker
from vecbench.chunking.tokenizers import WordTokenizer
from vecbench.errors import ConfigError

lc = pytest.importorskip("langchain_text_splitters")


def _synthetic(n: int = 120, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    alphabet = ["a", "b", "c", " ", " ", "\n", "\n\n", "\t", ".", "é", "漢字", "🙂", "\u00a0", "\r\n"]
    words = ["word", "x", "supercalifragilisticexpialidocious" * 3, "naïve", "Ünïcödé", "日本語テキスト"]
    texts = [
        "",
        " ",
        "\n\n\n",
        "a",
        "a" * 500,
        "short text",
        "\n\nleading and trailing\n\n",
        "para one.\n\n\n\npara two.\n\n\n\n\npara three.",
    ]
    for _ in range(n):
        parts = [
            rng.choice(alphabet) if rng.random() < 0.6 else rng.choice(words)
            for _ in range(rng.randint(1, 120))
        ]
        texts.append("".join(parts))
    return texts


def _assert_same(text: str, **params: object) -> None:
    ours = RecursiveChunker(**params)  # type: ignore[arg-type]
    theirs = lc.RecursiveCharacterTextSplitter(**params)
    chunks = ours.chunk(text)
    assert [c.text for c in chunks] == theirs.split_text(text), params
    for c in chunks:
        assert text[c.start : c.end] == c.text


SIZES = [(1, 0), (2, 1), (5, 2), (16, 0), (16, 15), (50, 10), (120, 30), (400, 0), (1000, 200)]


@pytest.mark.parametrize(("chunk_size", "chunk_overlap"), SIZES)
def test_matches_langchain_oncranfield_texts(chunk_size: int, chunk_overlap: int) -> None:
    for text in cranfield_texts(limit=300):
        _assert_same(text, chunk_size=chunk_size, chunk_overlap=chunk_overlap)


def test_matches_langchain_on_whole_cranfield_default_params() -> None:
    for text in cranfield_texts():
        _assert_same(text, chunk_size=1000, chunk_overlap=200)
        _assert_same(text, chunk_size=200, chunk_overlap=50)


@pytest.mark.parametrize(("chunk_size", "chunk_overlap"), SIZES)
@pytest.mark.parametrize("keep_separator", [True, "start", "end"])
@pytest.mark.parametrize("strip_whitespace", [True, False])
def test_matches_langchain_on_synthetic(
    chunk_size: int, chunk_overlap: int, keep_separator: object, strip_whitespace: bool
) -> None:
    for text in _synthetic():
        _assert_same(
            text,
            chunk_size=chunk_size,
            chunk_overlap=chunk_overlap,
            keep_separator=keep_separator,
            strip_whitespace=strip_whitespace,
        )


@pytest.mark.parametrize(
    "separators",
    [
        [r"\n{2,}", r"\n", r"\s+", ""],
        [r"(?<=\.)\s", " ", ""],  # lookbehind: zero-width-ish separator kept on the piece
        [r"(?=[A-Z])", ""],  # zero-width lookahead
        [r"[.!?]", r"\s", ""],
        [r"\d+", "x"],  # no "" at the end: long pieces are kept whole
    ],
)
@pytest.mark.parametrize("keep_separator", [True, "end"])
@pytest.mark.parametrize(("chunk_size", "chunk_overlap"), [(3, 1), (20, 5), (80, 0)])
def test_matches_langchain_with_regex_separators(
    separators: list[str], keep_separator: object, chunk_size: int, chunk_overlap: int
) -> None:
    texts = [*_synthetic(40, seed=3), "One. Two three. Four 12 five 345 Six.\n\nSeven EIGHT nine."]
    for text in texts:
        _assert_same(
            text,
            chunk_size=chunk_size,
            chunk_overlap=chunk_overlap,
            separators=separators,
            is_separator_regex=True,
            keep_separator=keep_separator,
        )


@pytest.mark.parametrize(("chunk_size", "chunk_overlap"), [(1, 0), (5, 2), (30, 10), (200, 40)])
@pytest.mark.parametrize("strip_whitespace", [True, False])
def test_matches_langchain_without_kept_separators(
    chunk_size: int, chunk_overlap: int, strip_whitespace: bool
) -> None:
    # LangChain re-joins pieces with the separator, so it agrees with the input span only
    # where separators are not repeated: the texts here have single separators only.
    rng = random.Random(11)
    words = ["alpha", "be", "c", "d" * 40, "é漢字", "x.y"]
    for _ in range(150):
        out = []
        for _ in range(rng.randint(1, 60)):
            out += [rng.choice(words), rng.choice([" ", " ", "\n", "\n\n"])]
        text = "".join(out[:-1])
        _assert_same(
            text,
            chunk_size=chunk_size,
            chunk_overlap=chunk_overlap,
            keep_separator=False,
            strip_whitespace=strip_whitespace,
        )


def test_without_kept_separators_chunks_are_input_spans() -> None:
    text = "aaa  bbb\n\n\n\nccc ddd"
    chunks = RecursiveChunker(chunk_size=9, chunk_overlap=0, keep_separator=False).chunk(text)
    assert [c.text for c in chunks] == ["aaa  bbb", "ccc ddd"]
    assert all(text[c.start : c.end] == c.text for c in chunks)
    assert all(len(c.text) <= 9 for c in chunks)


def test_long_words_are_split_by_characters() -> None:
    text = "tiny " + "x" * 25 + " end"
    chunks = RecursiveChunker(chunk_size=10, chunk_overlap=2).chunk(text)
    assert all(len(c.text) <= 10 for c in chunks)
    assert "".join(c.text for c in chunks if set(c.text) == {"x"}).count("x") >= 25
    _assert_same(text, chunk_size=10, chunk_overlap=2)


def test_offsets_point_at_stripped_text() -> None:
    text = "  first paragraph  \n\n   second one here   "
    chunks = RecursiveChunker(chunk_size=20, chunk_overlap=0).chunk(text)
    assert [(c.text, c.start, c.end) for c in chunks] == [
        ("first paragraph", 2, 17),
        ("second one here", 24, 39),
    ]


def test_tokens_mode_matches_langchain_with_same_length_function() -> None:
    tok = WordTokenizer()
    for text in cranfield_texts(limit=100) + _synthetic(40):
        for size, overlap in [(5, 1), (40, 10), (200, 50)]:
            ours = RecursiveChunker(
                chunk_size=size, chunk_overlap=overlap, length_unit="tokens", tokenizer=tok
            )
            theirs = lc.RecursiveCharacterTextSplitter(
                chunk_size=size, chunk_overlap=overlap, length_function=tok.count
            )
            chunks = ours.chunk(text)
            assert [c.text for c in chunks] == theirs.split_text(text)
            assert all(text[c.start : c.end] == c.text for c in chunks)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"chunk_size": 0}, "chunk_size"),
        ({"chunk_size": -5}, "chunk_size"),
        ({"chunk_size": 10, "chunk_overlap": -1}, "chunk_overlap"),
        ({"chunk_size": 10, "chunk_overlap": 10}, "smaller than chunk_size"),
        ({"chunk_size": 10, "chunk_overlap": 11}, "smaller than chunk_size"),
        ({"chunk_size": True, "chunk_overlap": 0}, "chunk_size"),
        ({"separators": []}, "separators"),
        ({"separators": "\n"}, "separators"),
        ({"keep_separator": "middle"}, "keep_separator"),
        ({"separators": ["("], "is_separator_regex": True}, "invalid separator regex"),
        ({"length_unit": "words"}, "length_unit"),
        ({"tokenizer": WordTokenizer()}, "tokenizer"),
    ],
)
def test_invalid_config(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        RecursiveChunker(**kwargs)  # type: ignore[arg-type]


def test_protocol_name_params_and_edge_inputs() -> None:
    chunker = RecursiveChunker(chunk_size=100, chunk_overlap=10)
    assert isinstance(chunker, Chunker)
    assert chunker.name == "recursive"
    assert chunker.params["chunk_size"] == 100
    assert chunker.params["unit"] == "chars"
    assert chunker.chunk("") == []
    assert chunker.chunk("   \n\n  ") == []
    with pytest.raises(ConfigError):
        chunker.chunk(b"bytes")  # type: ignore[arg-type]
    clone = pickle.loads(pickle.dumps(chunker))
    assert clone.chunk("a b c") == chunker.chunk("a b c")


# -- properties -------------------------------------------------------------------------------

TEXTS = st.text(
    alphabet=st.one_of(st.sampled_from(" \n\n\t.,aé漢🙂"), st.characters(codec="utf-8")),
    max_size=400,
)


@settings(max_examples=300, deadline=None)
@given(
    text=TEXTS,
    chunk_size=st.integers(1, 60),
    overlap_frac=st.floats(0, 0.99),
    keep_separator=st.sampled_from([True, False, "start", "end"]),
    strip_whitespace=st.booleans(),
)
def test_property_offsets_order_and_size(
    text: str, chunk_size: int, overlap_frac: float, keep_separator: object, strip_whitespace: bool
) -> None:
    overlap = min(int(chunk_size * overlap_frac), chunk_size - 1)
    chunker = RecursiveChunker(
        chunk_size=chunk_size,
        chunk_overlap=overlap,
        keep_separator=keep_separator,  # type: ignore[arg-type]
        strip_whitespace=strip_whitespace,
    )
    chunks = chunker.chunk(text)
    previous_start = -1
    for c in chunks:
        assert c.text
        assert text[c.start : c.end] == c.text
        assert len(c.text) <= chunk_size
        assert c.start >= previous_start  # LangChain may start two chunks at one offset ('\r00', 2, 1)
        previous_start = c.start
    if keep_separator is not False:
        expected = lc.RecursiveCharacterTextSplitter(
            chunk_size=chunk_size,
            chunk_overlap=overlap,
            keep_separator=keep_separator,
            strip_whitespace=strip_whitespace,
        ).split_text(text)
        assert [c.text for c in chunks] == expected


@settings(max_examples=150, deadline=None)
@given(text=TEXTS, chunk_size=st.integers(2, 80), overlap_frac=st.floats(0, 0.9))
def test_property_langchain_wrapper_offsets(text: str, chunk_size: int, overlap_frac: float) -> None:
    overlap = int(chunk_size * overlap_frac)
    splitter = lc.RecursiveCharacterTextSplitter(chunk_size=chunk_size, chunk_overlap=overlap)
    chunks = LangChainChunker(splitter).chunk(text)
    assert [c.text for c in chunks] == [t for t in splitter.split_text(text) if t]
    for c in chunks:
        assert text[c.start : c.end] == c.text


# -- the LangChain wrapper ------------------------------------------------------------------------


def test_langchain_wrapper_matches_native_offsets_oncranfield_texts() -> None:
    for text in cranfield_texts(limit=200):
        wrapped = LangChainChunker(lc.RecursiveCharacterTextSplitter(chunk_size=300, chunk_overlap=60)).chunk(
            text
        )
        native = RecursiveChunker(chunk_size=300, chunk_overlap=60).chunk(text)
        assert [(c.text, c.start) for c in wrapped] == [(c.text, c.start) for c in native]
        assert all(c.meta["offsets"] == "reconstructed" for c in wrapped)


def test_langchain_wrapper_by_class_name_and_errors() -> None:
    chunker = LangChainChunker(
        "CharacterTextSplitter", {"chunk_size": 12, "chunk_overlap": 0, "separator": " "}
    )
    assert chunker.name == "langchain"
    assert chunker.params["splitter"] == "CharacterTextSplitter"
    assert chunker.params["offsets"] == "reconstructed"
    text = "one two three four five"
    assert all(text[c.start : c.end] == c.text for c in chunker.chunk(text))
    with pytest.raises(ConfigError, match="no splitter class"):
        LangChainChunker("NoSuchSplitter")
    with pytest.raises(ConfigError, match="split_text"):
        LangChainChunker(object())
    # keep_separator=False re-joins with a separator that was not there: not a substring.
    rejoining = lc.CharacterTextSplitter(separator=" ", chunk_size=20, chunk_overlap=0, keep_separator=False)
    with pytest.raises(ChunkAlignmentError):
        LangChainChunker(rejoining).chunk("aaa    bbb")


@pytest.mark.parametrize("dense", [0, 2, 10**9])
@pytest.mark.parametrize("keep_separator", [True, "end"])
@pytest.mark.parametrize("strip_whitespace", [True, False])
def test_long_text_array_path_matches_langchain(
    monkeypatch: pytest.MonkeyPatch, dense: int, keep_separator: object, strip_whitespace: bool
) -> None:
    """The numpy path (long texts) and its hand-back to the scan path, forced on short texts."""
    from vecbench.chunking import _recursive_arrays, recursive

    monkeypatch.setattr(recursive, "_ARRAYS_MIN_CHARS", 0)
    monkeypatch.setattr(_recursive_arrays, "_DENSE_PIECES_PER_CHUNK", dense)
    for text in _synthetic(n=40, seed=11):
        for size, overlap in [(1, 0), (5, 2), (16, 15), (120, 30)]:
            _assert_same(
                text,
                chunk_size=size,
                chunk_overlap=overlap,
                keep_separator=keep_separator,
                strip_whitespace=strip_whitespace,
            )


def test_text_over_100k_chars_matches_langchain() -> None:
    rng = random.Random(3)
    vocab = ["flow", "the", "boundary", "é", "漢字", "x" * 40, "\n", "\n\n", ". ", " ", " ", " "]
    text = "".join(rng.choice(vocab) for _ in range(60_000))
    assert len(text) >= 100_000
    for size, overlap in [(1000, 200), (256, 32), (64, 0)]:
        _assert_same(text, chunk_size=size, chunk_overlap=overlap)
