"""BM25 over the chunks' text, on the client, with the ``bm25s`` library.

The chunks are the units, as for dense retrieval: chunk i of the corpus is document i of
the BM25 index, so a sparse ranking, a dense ranking and their fusion all name chunks.
Tokens: lower-cased words of two or more characters (bm25s's splitter), English
stopwords removed, Snowball-stemmed (PyStemmer) unless ``stemmer`` is None.

    index = BM25Index(BM25Params(k1=1.2, b=0.75))
    index.build([c.text for c in chunks])
    ids, scores = index.search("shock wave boundary layer", k=50)

Both libraries are in the ``rag`` extra (``pip install 'vecbench[rag]'``) and imported
only when an index is built.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vecbench.errors import ConfigError, MissingDependencyError, UnknownNameError
from vecbench.util.validation import is_number

__all__ = ["BM25Params", "BM25Index", "bm25_params"]

METHODS = ("lucene", "robertson", "atire", "bm25l", "bm25+")


@dataclass(frozen=True)
class BM25Params:
    """BM25 settings (bm25s's names); checked when made.

    ``k1`` (term-frequency saturation, >= 0), ``b`` (length normalisation, [0, 1]),
    ``method`` (the BM25 variant: lucene, robertson, atire, bm25l, bm25+), ``stemmer`` (a
    Snowball language such as ``english``, or None), ``stopwords`` (``en`` or None).

    >>> BM25Params(b=2)
    Traceback (most recent call last):
    ...
    vecbench.errors.ConfigError: bm25: b must be a number in [0, 1], got 2
    """

    k1: float = 1.5
    b: float = 0.75
    method: str = "lucene"
    stemmer: str | None = "english"
    stopwords: str | None = "en"

    def __post_init__(self) -> None:
        if not is_number(self.k1) or not self.k1 >= 0:
            raise ConfigError(f"bm25: k1 must be a non-negative number, got {self.k1!r}")
        if not is_number(self.b) or not 0 <= self.b <= 1:
            raise ConfigError(f"bm25: b must be a number in [0, 1], got {self.b!r}")
        if self.method not in METHODS:
            raise UnknownNameError("bm25 method", self.method, METHODS)
        if self.stemmer is not None and not isinstance(self.stemmer, str):
            raise ConfigError(f"bm25: stemmer must be a language name or null, got {self.stemmer!r}")
        if self.stopwords not in (None, "en"):
            raise ConfigError(f"bm25: stopwords must be en or null, got {self.stopwords!r}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def bm25_params(value: Mapping[str, Any] | None) -> BM25Params:
    """BM25Params from a config mapping (unknown keys refused)."""
    if value is None:
        return BM25Params()
    if not isinstance(value, Mapping):
        raise ConfigError(f"bm25 must be a mapping, got {type(value).__name__}")
    known = set(BM25Params.__dataclass_fields__)
    unknown = sorted(set(value) - known)
    if unknown:
        raise ConfigError(
            f"bm25: unknown key(s) {', '.join(map(str, unknown))}; known: {', '.join(sorted(known))}"
        )
    return BM25Params(**dict(value))


def _stemmer(language: str | None) -> Any:
    if language is None:
        return None
    try:
        import Stemmer
    except ImportError as exc:
        raise MissingDependencyError("PyStemmer", "rag") from exc
    try:
        return Stemmer.Stemmer(language)
    except KeyError as exc:
        raise UnknownNameError("stemmer language", language, Stemmer.algorithms()) from exc


class BM25Index:
    """A BM25 index of texts (ids 0..n-1 in the order given); ``search`` ranks them.

    Only texts sharing a term with the query are returned (score > 0), best first, ties by
    id; a query with no indexed term returns nothing.
    """

    def __init__(self, params: BM25Params | None = None) -> None:
        self.params = params or BM25Params()
        self._tokenizer: Any = None
        self._bm25: Any = None
        self.n = 0

    def describe(self) -> dict[str, Any]:
        """Library, version and parameters (the record's index build of a sparse cell)."""
        from importlib.metadata import PackageNotFoundError, version

        try:
            lib = version("bm25s")
        except PackageNotFoundError:
            lib = None
        return {"library": "bm25s", "library_version": lib, **self.params.as_dict()}

    def build(self, texts: Sequence[str]) -> BM25Index:
        """Tokenize and index ``texts``; returns self."""
        try:
            import bm25s
        except ImportError as exc:
            raise MissingDependencyError("bm25s", "rag") from exc
        if not texts:
            raise ConfigError("bm25: nothing to index")
        p = self.params
        self._tokenizer = bm25s.tokenization.Tokenizer(
            stopwords=p.stopwords or [], stemmer=_stemmer(p.stemmer)
        )
        tokens = self._tokenizer.tokenize(
            list(texts), update_vocab=True, return_as="tuple", show_progress=False
        )
        self._bm25 = bm25s.BM25(k1=p.k1, b=p.b, method=p.method)
        self._bm25.index(tokens, show_progress=False)
        self.n = len(texts)
        return self

    def _query_ids(self, query: str) -> list[int]:
        if self._bm25 is None:
            raise ConfigError("bm25: search before build")
        ids = self._tokenizer.tokenize(
            [query], update_vocab=False, return_as="ids", show_progress=False, allow_empty=False
        )[0]
        return list(ids)

    def scores(self, query: str) -> NDArray[np.float32]:
        """The BM25 score of every indexed text for ``query`` (0 where no term is shared)."""
        ids = self._query_ids(query)
        if not ids:
            return np.zeros(self.n, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(ids), dtype=np.float32)

    def search(self, query: str, k: int) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        """The ``k`` best texts sharing a term with ``query``: (ids, scores), best first."""
        s = self.scores(query)
        hits = np.flatnonzero(s > 0)
        if hits.size > k:
            # the k best (ties at the cut broken by id below), then order them
            kth = np.partition(s[hits], hits.size - k)[hits.size - k]
            hits = hits[s[hits] >= kth]
        order = np.lexsort((hits, -s[hits]))[:k]
        top = hits[order].astype(np.int64)
        return top, s[top]
