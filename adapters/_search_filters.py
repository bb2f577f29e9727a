"""Filtered kNN on Elasticsearch and OpenSearch: attribute fields and the query DSL filter.

Both engines take the same pieces, so both adapters build them here:

- each declared attribute is a field of the index mapping: ``keyword`` -> ``keyword``,
  ``int`` -> ``long`` (the attributes are int64), indexed and with doc values, stored in the
  document's ``_source`` beside nothing else (the vector is kept out of it);
- a filter is a query DSL filter: ``Eq`` -> ``term``, ``In`` -> ``terms``, ``Range`` ->
  ``range`` with inclusive integer bounds (``int_bounds``: ``{"lt": 4.5}`` is ``lte 4``),
  ``And`` -> ``bool.filter`` of its clauses. It goes inside the kNN clause (Elasticsearch's
  ``knn.filter``, OpenSearch's ``knn.<field>.filter``), where the engine filters while it
  walks the graph (and scans exactly when few documents pass), so k results come back
  whenever k documents pass.

    >>> from vecbench.workloads.filters import parse_filter
    >>> filter_query(parse_filter({"label": "a", "year": {"gte": 2020, "lt": 2024}}))
    {'bool': {'filter': [{'term': {'label': 'a'}}, {'range': {'year': {'gte': 2020, 'lte': 2023}}}]}}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vecbench.errors import ConfigError
from vecbench.workloads.filters import And, Eq, Filter, In, Range

from ._attributes import INT64_MAX, INT64_MIN, clauses, int_bounds

FIELD_TYPES = {"keyword": "keyword", "int": "long"}


def check_attribute_names(kinds: Mapping[str, str], product: str, vector_field: str) -> None:
    """ConfigError for attribute names the index cannot take as fields (before any work)."""
    for attr in kinds:
        if attr.startswith("_") or attr == vector_field:
            raise ConfigError(
                f"{product}: attribute {attr!r} cannot be a field (names starting with '_' are the "
                f"engine's own, and {vector_field!r} holds the vectors)"
            )


def attribute_properties(kinds: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """The mapping ``properties`` of the declared attributes.

    >>> attribute_properties({"label": "keyword", "year": "int"})
    {'label': {'type': 'keyword'}, 'year': {'type': 'long'}}
    """
    return {attr: {"type": FIELD_TYPES[kind]} for attr, kind in kinds.items()}


def _clause(clause: Eq | In | Range) -> dict[str, Any] | None:
    if isinstance(clause, Eq):
        return {"term": {clause.attr: clause.value}}
    if isinstance(clause, In):
        return {"terms": {clause.attr: list(clause.values)}}
    bounds = int_bounds(clause)
    if bounds is None:
        return None  # no integer passes
    lo, hi = bounds
    body: dict[str, int] = {}
    if lo > INT64_MIN:
        body["gte"] = lo
    if hi < INT64_MAX:
        body["lte"] = hi
    return {"range": {clause.attr: body}}


def filter_query(flt: Filter) -> dict[str, Any] | None:
    """The query DSL filter of FLT; None when no document can pass (nothing to ask)."""
    parts = [_clause(c) for c in clauses(flt)]
    if any(p is None for p in parts):
        return None
    if isinstance(flt, And) and len(parts) > 1:
        return {"bool": {"filter": parts}}
    return parts[0]


def document_attributes(columns: Mapping[str, Any] | None, n: int) -> list[dict[str, Any]]:
    """One ``_source`` fragment per vector from the attribute columns (plain Python values)."""
    if not columns:
        return [{} for _ in range(n)]
    lists = {attr: col.tolist() for attr, col in columns.items()}
    return [{attr: values[i] for attr, values in lists.items()} for i in range(n)]
