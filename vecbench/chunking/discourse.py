"""Discourse-aware chunking: merge sentences joined by a subordinating (nucleus-satellite)
discourse relation, cut where the relation is coordinating (multinuclear) or absent.

The text is split into paragraphs (blank-line separated) and the paragraphs into sentences;
these are the *units*, each with exact offsets. For every adjacent pair of units a
:class:`RelationDetector` names the discourse relation between them, in the spirit of
Rhetorical Structure Theory (RST): a satellite (an example, a cause, a concession) belongs with
its nucleus, so the two go in one chunk; parts of a list or two sides of a contrast between
equals are multinuclear, each can stand alone, so the boundary is a cut.

The default :class:`ConnectiveDetector` reads explicit discourse connectives ("because",
"however", "for example", ...) at the start of the right unit, anaphoric openers ("This",
"Such") as a weaker elaboration signal, and a colon at the end of the left unit.
:class:`RSTParserDetector` wraps an external RST parser instead.

The unit helpers here (:func:`unit_spans`, :func:`fit_spans`, :func:`group_units`) are shared
with the NSP chunker (:mod:`vecbench.chunking.nsp`).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, Literal, Protocol, runtime_checkable

from vecbench.chunking.base import Chunk, SizeUnit, Tokenizer
from vecbench.chunking.simple import split_sentences
from vecbench.errors import ConfigError
from vecbench.util.validation import is_int

__all__ = [
    "ConnectiveDetector",
    "DiscourseChunker",
    "Nuclearity",
    "RSTParserDetector",
    "Relation",
    "RelationDetector",
    "fit_spans",
    "group_units",
    "unit_spans",
]

Nuclearity = Literal["nucleus-satellite", "multinuclear"]
Segment = Literal["sentence", "paragraph"]
Span = tuple[int, int]
SizeFn = Callable[[str], int]


# --------------------------------------------------------------------------- units


_BLANK_LINE = re.compile(r"\n(?:[^\S\n]*\n)+")
_WORD = re.compile(r"\S+")


def _strip(text: str, start: int, end: int) -> list[Span]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return [(start, end)] if start < end else []


def paragraph_spans(text: str) -> list[Span]:
    """Spans of the blank-line separated paragraphs of ``text``, outer whitespace excluded."""
    spans: list[Span] = []
    cur = 0
    for m in _BLANK_LINE.finditer(text):
        spans.extend(_strip(text, cur, m.start()))
        cur = m.end()
    spans.extend(_strip(text, cur, len(text)))
    return spans


def unit_spans(text: str, segment: Segment = "sentence") -> list[Span]:
    """Spans of the units of ``text``: paragraphs, or the sentences within each paragraph.

    >>> unit_spans("One. Two.\\n\\nThree.")
    [(0, 4), (5, 9), (11, 17)]
    """
    paragraphs = paragraph_spans(text)
    if segment == "paragraph":
        return paragraphs
    spans: list[Span] = []
    for p0, p1 in paragraphs:
        for s0, s1 in split_sentences(text[p0:p1]):
            spans.append((p0 + s0, p0 + s1))
    return spans


def fit_spans(text: str, span: Span, size: SizeFn, max_size: int) -> list[Span]:
    """Split ``span`` into consecutive spans of at most ``max_size`` (by ``size``): whole if it
    fits, else greedily packed words, and words that are too long alone cut by characters.

    In tokens, a single character worth more than ``max_size`` tokens is kept whole (the only
    case where a piece can exceed the limit).
    """
    start, end = span
    if size(text[start:end]) <= max_size:
        return [span]
    pieces: list[Span] = []
    cur: Span | None = None
    for m in _WORD.finditer(text, start, end):
        w0, w1 = m.span()
        if cur is not None and size(text[cur[0] : w1]) <= max_size:
            cur = (cur[0], w1)
            continue
        if cur is not None:
            pieces.append(cur)
        if size(text[w0:w1]) <= max_size:
            cur = (w0, w1)
        else:
            *whole, cur = _hard_split(text, w0, w1, size, max_size)
            pieces.extend(whole)
    if cur is not None:
        pieces.append(cur)
    return pieces


def _hard_split(text: str, start: int, end: int, size: SizeFn, max_size: int) -> list[Span]:
    pieces: list[Span] = []
    while start < end:
        # The longest prefix that fits, by binary search (exact for len, near enough for tokens).
        lo, hi = start + 1, end
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if size(text[start:mid]) <= max_size:
                lo = mid
            else:
                hi = mid - 1
        pieces.append((start, lo))
        start = lo
    return pieces


def group_units(
    text: str, spans: Sequence[Span], joins: Sequence[bool], size: SizeFn, max_size: int
) -> list[list[int]]:
    """Group consecutive units: unit ``i`` joins the group before it when ``joins[i - 1]`` and
    the group's span up to unit ``i`` still fits ``max_size``. Returns lists of unit indices."""
    if not spans:
        return []
    groups = [[0]]
    for i in range(1, len(spans)):
        first = spans[groups[-1][0]][0]
        if joins[i - 1] and size(text[first : spans[i][1]]) <= max_size:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def make_sizer(unit: SizeUnit, tokenizer: Tokenizer | None) -> SizeFn:
    """``len`` for ``"chars"``, ``tokenizer.count`` for ``"tokens"`` (a tokenizer is then required)."""
    if unit == "chars":
        return len
    if unit == "tokens":
        if tokenizer is None:
            raise ConfigError("unit='tokens' needs a tokenizer (anything with count(text) -> int)")
        return tokenizer.count
    raise ConfigError(f"unit must be 'chars' or 'tokens', got {unit!r}")


def check_max_size(max_chars: object) -> int:
    if not is_int(max_chars) or max_chars < 1:
        raise ConfigError(f"max_chars must be a positive integer, got {max_chars!r}")
    return max_chars


def sized_units(text: str, segment: Segment, size: SizeFn, max_size: int) -> list[Span]:
    """The units of ``text``, each cut further until it fits ``max_size``."""
    out: list[Span] = []
    for span in unit_spans(text, segment):
        if segment == "paragraph" and size(text[span[0] : span[1]]) > max_size:
            # Too-long paragraphs fall back to their sentences first.
            p0 = span[0]
            subs = [(p0 + a, p0 + b) for a, b in split_sentences(text[span[0] : span[1]])]
        else:
            subs = [span]
        for sub in subs:
            out.extend(fit_spans(text, sub, size, max_size))
    return out


# ----------------------------------------------------------------------- relations


@dataclass(frozen=True)
class Relation:
    """A discourse relation between two adjacent units.

    ``cue`` is what signalled it (a connective, ``":"``, a parser's label); ``strength`` is the
    detector's confidence in [0, 1] (explicit connectives 1.0, anaphoric openers less).
    """

    name: str
    nuclearity: Nuclearity
    cue: str
    strength: float = 1.0


@runtime_checkable
class RelationDetector(Protocol):
    """Names the discourse relation from ``left`` to the unit ``right`` that follows it, or None."""

    name: str

    def relation(self, left: str, right: str) -> Relation | None: ...


_NS: Nuclearity = "nucleus-satellite"
_MN: Nuclearity = "multinuclear"
_ANAPHORA_STRENGTH = 0.5

# (relation, nuclearity, cues). A cue matches at the start of the right unit, case-insensitive,
# followed by a non-word character; the longest matching cue wins ("on the other hand" over
# "on", "this means" over "this"). Cues ending in "," need the comma ("that is," but not
# "that is a problem").
_LEXICON: tuple[tuple[str, Nuclearity, tuple[str, ...]], ...] = (
    (
        "example",
        _NS,
        ("for example", "for instance", "e.g.", "to illustrate", "as an example", "such as", "consider"),
    ),
    (
        "elaboration",
        _NS,
        (
            "in particular",
            "specifically",
            "particularly",
            "notably",
            "in fact",
            "indeed",
            "more precisely",
            "in detail",
            "here,",
            "this means",
            "this implies",
            "this shows",
            "this suggests",
        ),
    ),
    (
        "explanation",
        _NS,
        (
            "because",
            "since",
            "the reason is",
            "this is because",
            "this is due to",
            "owing to",
            "due to",
            "given that",
            "for,",
        ),
    ),
    (
        "result",
        _NS,
        (
            "as a result",
            "as a consequence",
            "therefore",
            "thus",
            "consequently",
            "hence",
            "so",
            "accordingly",
            "for this reason",
            "for these reasons",
            "it follows that",
            "this leads to",
            "this results in",
        ),
    ),
    (
        "concession",
        _NS,
        (
            "however",
            "although",
            "though",
            "even though",
            "nevertheless",
            "nonetheless",
            "even so",
            "still,",
            "yet",
            "but",
            "despite",
            "in spite of",
            "admittedly",
            "granted,",
            "that said",
        ),
    ),
    (
        "condition",
        _NS,
        (
            "if",
            "unless",
            "provided that",
            "providing that",
            "as long as",
            "in that case",
            "in this case",
            "in which case",
            "otherwise",
            "if so",
            "if not",
        ),
    ),
    (
        "restatement",
        _NS,
        (
            "in other words",
            "that is,",
            "that is to say",
            "i.e.",
            "namely",
            "put differently",
            "to put it another way",
            "in short,",
        ),
    ),
    (
        "summary",
        _NS,
        (
            "in summary",
            "in conclusion",
            "to summarize",
            "to summarise",
            "to sum up",
            "to conclude",
            "overall",
            "in brief",
            "all in all",
            "in sum",
            "briefly,",
        ),
    ),
    ("purpose", _NS, ("to this end", "for this purpose", "to do so", "to do this", "in order to")),
    (
        "joint",
        _MN,
        (
            "in addition",
            "additionally",
            "moreover",
            "furthermore",
            "also",
            "besides",
            "similarly",
            "likewise",
            "and",
            "as well",
            "another",
        ),
    ),
    (
        "sequence",
        _MN,
        (
            "first",
            "firstly",
            "second",
            "secondly",
            "third",
            "thirdly",
            "next",
            "then",
            "finally",
            "lastly",
            "after that",
            "afterwards",
            "subsequently",
            "meanwhile",
            "later",
            "first of all",
            "to begin with",
        ),
    ),
    (
        "contrast",
        _MN,
        (
            "on the other hand",
            "by contrast",
            "in contrast",
            "conversely",
            "on the contrary",
            "whereas",
            "alternatively",
            "instead",
        ),
    ),
)

_ANAPHORIC_OPENERS: tuple[str, ...] = (
    "this",
    "these",
    "that",
    "those",
    "it",
    "its",
    "such",
    "they",
    "their",
    "them",
    "the latter",
    "the former",
    "the above",
    "the same",
    "both",
    "each of these",
    "here",
)

_BULLET = re.compile(r"(?:[-*\u2022\u2013\u2014]|\d{1,3}[.)]|\(?[a-z][.)]|\([0-9ivx]{1,4}\))\s")
_OPENING_JUNK = "\"'\u201c\u2018([{"


class ConnectiveDetector:
    """Relations from explicit discourse connectives and cue phrases (a lexicon, no model).

    Looks at the right unit's opening words and the left unit's last character:

    - a colon ending the left unit: ``elaboration`` (what follows expands it);
    - a list bullet opening the right unit: ``list`` (multinuclear);
    - a connective opening the right unit, by relation class (see ``_LEXICON``): example,
      elaboration, explanation, result, concession, condition, restatement, summary, purpose
      (nucleus-satellite); joint, sequence, contrast (multinuclear);
    - with ``anaphora=True``, an anaphoric opener ("This", "These", "It", "Such", ...):
      ``elaboration`` with strength 0.5 (a weaker signal: the unit refers back).

    ``extra`` adds cues: ``{"cue phrase": ("relation", "nucleus-satellite"), ...}``.

    >>> ConnectiveDetector().relation("Lift rises with angle.", "For example, at 5 degrees...")
    Relation(name='example', nuclearity='nucleus-satellite', cue='for example', strength=1.0)
    """

    name = "connective"

    def __init__(self, anaphora: bool = True, extra: dict[str, tuple[str, Nuclearity]] | None = None) -> None:
        self.anaphora = anaphora
        cues: dict[str, tuple[str, Nuclearity, float]] = {}
        for relation, nuclearity, phrases in _LEXICON:
            for phrase in phrases:
                cues[phrase] = (relation, nuclearity, 1.0)
        if anaphora:
            for phrase in _ANAPHORIC_OPENERS:
                cues.setdefault(phrase, ("elaboration", _NS, _ANAPHORA_STRENGTH))
        for phrase, (relation, nuclearity) in (extra or {}).items():
            if nuclearity not in (_NS, _MN):
                raise ConfigError(f"nuclearity must be {_NS!r} or {_MN!r}, got {nuclearity!r}")
            cues[phrase.lower()] = (relation, nuclearity, 1.0)
        # Longest first, so the first match is the longest cue.
        self._cues = sorted(cues.items(), key=lambda kv: -len(kv[0]))

    def relation(self, left: str, right: str) -> Relation | None:
        if left.rstrip().endswith(":"):
            return Relation("elaboration", _NS, ":")
        opening = right.lstrip()
        if _BULLET.match(opening):
            return Relation("list", _MN, "bullet")
        opening = opening.lstrip(_OPENING_JUNK).lower()
        for phrase, (name, nuclearity, strength) in self._cues:
            if opening.startswith(phrase) and _ends_word(opening, len(phrase)):
                return Relation(name, nuclearity, phrase, strength)
        return None


def _ends_word(s: str, i: int) -> bool:
    return i >= len(s) or not (s[i].isalnum() or s[i] in "_-") or not s[i - 1].isalnum()


class RSTParserDetector:
    """Relations from an external RST discourse parser.

    ``parser`` is a callable ``(left, right) -> (relation, nuclearity) | Relation | None``, or an
    import path ``"package.module:function"`` to one, imported on first use. No RST parser is
    a vecbench dependency (the usable ones, such as isanlp_rst or DPLP, need their own models
    and services); wrap yours in such a function. Without one this raises ConfigError.
    """

    name = "rst"

    def __init__(self, parser: Callable[[str, str], Any] | str | None = None) -> None:
        if parser is None:
            raise ConfigError(
                "RSTParserDetector needs an RST parser: pass parser=callable or "
                "parser='package.module:function' (none is bundled; detector='connective' needs none)"
            )
        if isinstance(parser, str) and ":" not in parser:
            raise ConfigError(f"parser must be 'package.module:function', got {parser!r}")
        self._spec = parser
        self._parser: Callable[[str, str], Any] | None = None if isinstance(parser, str) else parser

    def _load(self) -> Callable[[str, str], Any]:
        if self._parser is None:
            assert isinstance(self._spec, str)
            module, _, attr = self._spec.partition(":")
            try:
                self._parser = getattr(importlib.import_module(module), attr)
            except (ImportError, AttributeError) as exc:
                raise ConfigError(f"RST parser {self._spec!r} is not installed or not found: {exc}") from exc
        return self._parser

    def relation(self, left: str, right: str) -> Relation | None:
        out = self._load()(left, right)
        if out is None or isinstance(out, Relation):
            return out
        name, nuclearity = out
        if nuclearity not in (_NS, _MN):
            raise ConfigError(f"RST parser returned nuclearity {nuclearity!r}; expected {_NS!r} or {_MN!r}")
        return Relation(str(name), nuclearity, "rst-parser")


def _resolve_detector(detector: RelationDetector | str | None) -> RelationDetector:
    if detector is None or detector == "connective":
        return ConnectiveDetector()
    if isinstance(detector, str):
        if detector == "rst" or detector.startswith("rst:"):
            return RSTParserDetector(detector[4:] or None)
        raise ConfigError(
            f"detector must be 'connective', 'rst:package.module:function' or an object, got {detector!r}"
        )
    if not isinstance(detector, RelationDetector):
        raise ConfigError(f"detector {detector!r} has no name and relation(left, right)")
    return detector


# ------------------------------------------------------------------------ chunker


class DiscourseChunker:
    """Chunks whose sentences are joined by nucleus-satellite discourse relations.

    Units (sentences within blank-line paragraphs) are merged with the unit before them when
    the detector finds a nucleus-satellite relation of at least ``min_strength`` between them
    and the chunk stays within ``max_chars`` (measured in ``unit``: characters, or tokens by
    ``tokenizer.count``). Multinuclear relations and no relation are cuts. A unit longer than
    the limit is cut at word boundaries, and a word longer than it by characters, so no chunk
    exceeds the limit. ``meta``: ``relations`` (names of the joins inside the chunk, in order),
    ``cues``, ``units`` (count).

    >>> chunker = DiscourseChunker(max_chars=200)
    >>> [c.meta["relations"] for c in chunker.chunk("Wings stall. For example, at 15 degrees. Also, drag rises.")]
    [['example'], []]
    """

    name = "discourse"

    def __init__(
        self,
        max_chars: int = 1500,
        unit: SizeUnit = "chars",
        detector: RelationDetector | str | None = None,
        min_strength: float = 0.0,
        tokenizer: Tokenizer | None = None,
    ) -> None:
        self.max_chars = check_max_size(max_chars)
        self.unit = unit
        self._size = make_sizer(unit, tokenizer)
        self.detector = _resolve_detector(detector)
        if not 0.0 <= float(min_strength) <= 1.0:
            raise ConfigError(f"min_strength must be in [0, 1], got {min_strength!r}")
        self.min_strength = float(min_strength)

    @property
    def params(self) -> dict[str, Any]:
        return {
            "max_chars": self.max_chars,
            "unit": self.unit,
            "detector": self.detector.name,
            "min_strength": self.min_strength,
        }

    def chunk(self, text: str) -> list[Chunk]:
        spans = sized_units(text, "sentence", self._size, self.max_chars)
        relations: list[Relation | None] = []
        for (a0, a1), (b0, b1) in pairwise(spans):
            rel = self.detector.relation(text[a0:a1], text[b0:b1])
            relations.append(rel)
        joins = [r is not None and r.nuclearity == _NS and r.strength >= self.min_strength for r in relations]
        chunks: list[Chunk] = []
        for group in group_units(text, spans, joins, self._size, self.max_chars):
            start, end = spans[group[0]][0], spans[group[-1]][1]
            inner = [relations[i - 1] for i in group[1:]]
            meta = {
                "relations": [r.name for r in inner if r is not None],
                "cues": [r.cue for r in inner if r is not None],
                "units": len(group),
            }
            chunks.append(Chunk(text[start:end], start, end, meta))
        return chunks
