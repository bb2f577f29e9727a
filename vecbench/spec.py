"""What a store is asked to build: ``CollectionSpec`` and the index-type catalogue."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vecbench.errors import ConfigError, InvalidParameterError, UnknownNameError
from vecbench.metrics import Metric
from vecbench.util.validation import is_int

__all__ = ["ATTRIBUTE_KINDS", "CollectionSpec", "IndexType", "check_identifier"]

# The kinds of filterable attribute a collection declares: integers (equality, ``in``,
# ranges) and keywords (labels: equality and ``in``).
ATTRIBUTE_KINDS = ("int", "keyword")

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def check_identifier(name: str, what: str = "collection name") -> str:
    """Refuse names outside ``[A-Za-z0-9_]`` (they are used as table, index and key names)."""
    if not isinstance(name, str) or not _IDENT.match(name):
        raise ConfigError(
            f"invalid {what} {name!r}: use 1-63 characters from [A-Za-z0-9_], not starting with a digit"
        )
    return name


@dataclass(frozen=True)
class IndexType:
    """One index type a store can build, with its parameters and their defaults.

    ``build`` parameters are fixed when the index is created; ``search`` parameters
    can change between searches on the same index (``Store.set_search_params``).
    ``metrics`` lists the metrics this index type supports.
    """

    name: str
    build: Mapping[str, Any] = field(default_factory=dict)
    search: Mapping[str, Any] = field(default_factory=dict)
    metrics: tuple[Metric, ...] = (Metric.EUCLIDEAN, Metric.COSINE, Metric.IP)
    exact: bool = False
    description: str = ""

    def build_params(self, given: Mapping[str, Any] | None) -> dict[str, Any]:
        """Defaults overlaid with ``given``; unknown keys raise InvalidParameterError."""
        return _merge(self.name, "index", self.build, given)

    def search_params(self, given: Mapping[str, Any] | None) -> dict[str, Any]:
        """Search defaults overlaid with ``given``; unknown keys raise InvalidParameterError."""
        return _merge(self.name, "search", self.search, given)


def _merge(
    index: str, what: str, defaults: Mapping[str, Any], given: Mapping[str, Any] | None
) -> dict[str, Any]:
    given = dict(given or {})
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        known = ", ".join(sorted(defaults)) or "(none)"
        raise InvalidParameterError(
            f"unknown {what} parameter(s) {', '.join(unknown)} for index type {index!r}; known: {known}"
        )
    return {**defaults, **given}


@dataclass(frozen=True)
class CollectionSpec:
    """A collection to create: name, dimension, metric and index, the attributes it can
    filter on (name -> ``"int"`` or ``"keyword"``; stored and indexed by a Filterable store)
    and ``full_text``: the payload key whose text a HybridSearch store indexes for its own
    full-text search (None: no text is stored).

    >>> CollectionSpec("bench", dim=128, metric="l2", index_type="hnsw", index_params={"m": 16})
    CollectionSpec(name='bench', dim=128, metric=<Metric.EUCLIDEAN: 'euclidean'>, index_type='hnsw', index_params={'m': 16}, attributes={})
    """

    name: str
    dim: int
    metric: Metric = Metric.EUCLIDEAN
    index_type: str = "flat"
    index_params: Mapping[str, Any] = field(default_factory=dict)
    attributes: Mapping[str, str] = field(default_factory=dict)
    full_text: str | None = None

    def __post_init__(self) -> None:
        check_identifier(self.name)
        if not is_int(self.dim) or self.dim <= 0:
            raise ConfigError(f"dim must be a positive integer, got {self.dim!r}")
        object.__setattr__(self, "metric", Metric.parse(self.metric))
        object.__setattr__(self, "index_params", dict(self.index_params))
        if not isinstance(self.attributes, Mapping):
            raise ConfigError(f"attributes must map names to kinds, got {self.attributes!r}")
        for attr, kind in self.attributes.items():
            check_identifier(attr, "attribute name")
            if kind not in ATTRIBUTE_KINDS:
                raise ConfigError(
                    f"attribute {attr!r} has kind {kind!r}; valid: {', '.join(ATTRIBUTE_KINDS)}"
                )
        object.__setattr__(self, "attributes", dict(self.attributes))
        if self.full_text is not None:
            check_identifier(self.full_text, "full_text key")
            if self.full_text in self.attributes:
                raise ConfigError(f"full_text key {self.full_text!r} is also a filter attribute")

    def resolve(self, index_types: Mapping[str, IndexType], store: str) -> IndexType:
        """The IndexType this spec names in ``index_types``, checked against metric and params."""
        if self.index_type not in index_types:
            raise UnknownNameError(f"index type for store {store!r}", self.index_type, index_types)
        it = index_types[self.index_type]
        if self.metric not in it.metrics:
            raise UnknownNameError(
                f"metric for {store} index {self.index_type!r}",
                self.metric.value,
                [m.value for m in it.metrics],
            )
        it.build_params(self.index_params)
        return it
