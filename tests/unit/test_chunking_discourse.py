import pytest
from chunk_helpers import check_disjoint_spans
from hypothesis import given, settings
from hypothesis import strategies as st

from vecbench.chunking.base import Chunker
from vecbench.chunking.discourse import (
    ConnectiveDetector,
    DiscourseChunker,
    Relation,
    RelationDetector,
    RSTParserDetector,
    fit_spans,
    unit_spans,
)
from vecbench.errors import ConfigError


def test_is_a_chunker_with_name_and_params():
    chunker = DiscourseChunker(max_chars=300)
    assert isinstance(chunker, Chunker)
    assert chunker.name == "discourse"
    assert chunker.params == {
        "max_chars": 300,
        "unit": "chars",
        "detector": "connective",
        "min_strength": 0.0,
    }


def test_units_are_sentences_within_paragraphs_with_exact_spans():
    text = "  First one. Second one!\n \n\nThird (e.g. this) one?  Last"
    spans = unit_spans(text)
    assert [text[a:b] for a, b in spans] == ["First one.", "Second one!", "Third (e.g. this) one?", "Last"]
    assert [text[a:b] for a, b in unit_spans(text, "paragraph")] == [
        "First one. Second one!",
        "Third (e.g. this) one?  Last",
    ]


@pytest.mark.parametrize(
    ("right", "name", "nuclearity"),
    [
        ("For example, a swept wing stalls late.", "example", "nucleus-satellite"),
        ("In particular the tip stalls first.", "elaboration", "nucleus-satellite"),
        ("Because the flow separates.", "explanation", "nucleus-satellite"),
        ("As a result, lift drops.", "result", "nucleus-satellite"),
        ("Therefore lift drops.", "result", "nucleus-satellite"),
        ("However, drag rises.", "concession", "nucleus-satellite"),
        ("But drag rises.", "concession", "nucleus-satellite"),
        ("Unless the slats are out.", "condition", "nucleus-satellite"),
        ("In other words, it stalls.", "restatement", "nucleus-satellite"),
        ("In conclusion, wings stall.", "summary", "nucleus-satellite"),
        ("Moreover, drag rises.", "joint", "multinuclear"),
        ("Finally, the wing stalls.", "sequence", "multinuclear"),
        ("On the other hand, drag falls.", "contrast", "multinuclear"),
        ("- the second item", "list", "multinuclear"),
    ],
)
def test_connectives_by_relation_class(right, name, nuclearity):
    rel = ConnectiveDetector().relation("Lift rises with angle of attack.", right)
    assert rel is not None and (rel.name, rel.nuclearity) == (name, nuclearity)
    assert rel.strength == 1.0


def test_cue_matching_needs_a_word_boundary_and_prefers_the_longest_cue():
    detector = ConnectiveDetector()
    assert detector.relation("A.", "Software is hard.") is None  # "so" is not a word here
    assert detector.relation("A.", "Ifrit appears.") is None
    assert detector.relation("A.", "So-called wings.") is None
    assert detector.relation("A.", "That is a problem.").cue == "that"  # anaphoric, not restatement
    assert detector.relation("A.", "That is, a problem.").name == "restatement"
    assert detector.relation("A.", "This means the wing stalls.").cue == "this means"


def test_anaphoric_openers_are_weaker_elaboration_and_can_be_turned_off():
    rel = ConnectiveDetector().relation("The wing stalls.", "This happens at 15 degrees.")
    assert rel == Relation("elaboration", "nucleus-satellite", "this", 0.5)
    assert ConnectiveDetector(anaphora=False).relation("The wing stalls.", "This happens.") is None


def test_colon_at_end_of_left_unit_is_elaboration():
    rel = ConnectiveDetector().relation("The steps are:", "- measure the lift")
    assert rel is not None and (rel.name, rel.cue) == ("elaboration", ":")


def test_satellites_merge_multinuclear_and_unrelated_cut():
    text = (
        "Wings stall at high angles. For example, a flat plate stalls at 10 degrees. "
        "Moreover, drag rises. This is because the flow separates.\n\n"
        "Propellers are different. On the other hand, rotors behave alike."
    )
    chunks = DiscourseChunker(max_chars=1000).chunk(text)
    check_disjoint_spans(text, chunks, 1000)
    assert [c.meta["relations"] for c in chunks] == [["example"], ["explanation"], [], []]
    assert [c.meta["units"] for c in chunks] == [2, 2, 1, 1]
    assert chunks[0].text == "Wings stall at high angles. For example, a flat plate stalls at 10 degrees."
    assert chunks[1].meta["cues"] == ["this is because"]


def test_min_strength_drops_anaphoric_joins():
    text = "The wing stalls. It then drops."
    assert len(DiscourseChunker().chunk(text)) == 1
    assert len(DiscourseChunker(min_strength=0.6).chunk(text)) == 2


def test_merging_stops_at_the_size_limit():
    text = "A long first sentence here. Because of this, more. Because of that, more still."
    chunks = DiscourseChunker(max_chars=50).chunk(text)
    check_disjoint_spans(text, chunks, 50)
    assert [c.meta["units"] for c in chunks] == [2, 1]


def test_oversized_units_are_split_at_words_then_characters():
    text = "word " * 30 + "x" * 45 + ". Short."
    chunks = DiscourseChunker(max_chars=20).chunk(text)
    check_disjoint_spans(text, chunks, 20)
    assert chunks[0].text == "word word word word"
    assert fit_spans("abcdefgh", (0, 8), len, 3) == [(0, 3), (3, 6), (6, 8)]


class _CharTokens:
    def count(self, text: str) -> int:
        return len(text.split())


def test_token_unit_uses_the_tokenizer():
    text = "one two three. For example four five six. Seven."
    chunks = DiscourseChunker(max_chars=8, unit="tokens", tokenizer=_CharTokens()).chunk(text)
    assert [c.meta["units"] for c in chunks] == [2, 1]
    with pytest.raises(ConfigError):
        DiscourseChunker(unit="tokens")


class _AlwaysJoint:
    name = "always-joint"

    def relation(self, left, right):
        return Relation("joint", "multinuclear", "test")


def test_pluggable_detector():
    assert isinstance(_AlwaysJoint(), RelationDetector)
    chunks = DiscourseChunker(detector=_AlwaysJoint()).chunk("Aa. Because bb. For example cc.")
    assert len(chunks) == 3
    assert DiscourseChunker(detector=_AlwaysJoint()).params["detector"] == "always-joint"


def test_rst_detector_needs_a_parser():
    with pytest.raises(ConfigError, match="RST parser"):
        RSTParserDetector()
    with pytest.raises(ConfigError, match="RST parser"):
        DiscourseChunker(detector="rst")
    bad = RSTParserDetector("no_such_rst_module_xyz:parse")
    with pytest.raises(ConfigError, match="not installed"):
        bad.relation("a", "b")


def test_rst_detector_wraps_a_parser_callable():
    def parser(left, right):
        return ("background", "nucleus-satellite") if right.startswith("B") else None

    detector = RSTParserDetector(parser)
    assert detector.relation("Aa.", "Bb.") == Relation("background", "nucleus-satellite", "rst-parser")
    chunks = DiscourseChunker(detector=detector).chunk("Aa. Bb. Cc.")
    assert [c.meta["relations"] for c in chunks] == [["background"], []]


@pytest.mark.parametrize("bad", [0, -5, 1.5, "100", True])
def test_bad_max_chars(bad):
    with pytest.raises(ConfigError):
        DiscourseChunker(max_chars=bad)


def test_empty_and_blank_texts():
    assert DiscourseChunker().chunk("") == []
    assert DiscourseChunker().chunk(" \n\n\t ") == []


_pieces = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        ["\n\n", "\r\n \r\n", ". ", "? ", "For example, ", "However ", "This ", ": ", "- ", " ", "\u2029"]
    ),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_pieces, max_size=25).map("".join), st.integers(1, 120))
def test_offsets_exact_and_no_chunk_over_max(text, max_chars):
    chunks = DiscourseChunker(max_chars=max_chars).chunk(text)
    check_disjoint_spans(text, chunks, max_chars)
    # Every non-space character lands in some chunk.
    covered = sum(len(c.text) - sum(ch.isspace() for ch in c.text) for c in chunks)
    assert covered == sum(not ch.isspace() for ch in text)
