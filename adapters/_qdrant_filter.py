"""Qdrant's side of filtered search, for the server and local-mode stores (``qdrant_client.models``)
and for Qdrant Edge (``qdrant_edge``, whose filter types have the same shape but their own
classes): payloads of the declared attributes, the payload indexes to create for them, and
vecbench filters as Qdrant ``Filter``s. Pure functions of the client module handed in,
unit-tested without a server. Private to the Qdrant adapters.

    qdrant_filter(parse_filter({"label": "news", "year": {"gte": 2020}}), models)
    # Filter(must=[FieldCondition(key="label", match=MatchValue(value="news")),
    #              FieldCondition(key="year", range=Range(gte=2020))])

Equality is ``MatchValue``, ``in`` is ``MatchAny``, a range is one ``Range`` (``RangeFloat``
in Edge) with every bound it has; the clauses of an AND are the filter's ``must`` list.
Qdrant's guidance is a payload index on every field a filter uses, created before the
vectors are indexed, so that the HNSW build adds the filter-aware links and the query
planner can estimate a filter's cardinality (and search the payload index exactly when few
points pass): ``keyword`` for labels, ``integer`` (match and range) for integers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from numpy.typing import NDArray

from vecbench.workloads.filters import Eq, Filter, In

from ._attributes import clauses

__all__ = ["attribute_payloads", "edge_filter", "payload_index_schemas", "qdrant_filter"]

_SCHEMA = {"int": "integer", "keyword": "keyword"}


def payload_index_schemas(kinds: Mapping[str, str]) -> dict[str, str]:
    """The payload index schema (``keyword`` / ``integer``) of each declared attribute."""
    return {attr: _SCHEMA[kind] for attr, kind in kinds.items()}


def attribute_payloads(attributes: Mapping[str, NDArray[Any]], n: int) -> list[dict[str, Any]]:
    """One payload per point with the declared attributes' values (plain ints and strs)."""
    if not attributes:
        return [{} for _ in range(n)]
    names = list(attributes)
    columns = [attributes[a].tolist() for a in names]
    return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]


def _filter(flt: Filter, module: Any, range_cls: Any) -> Any:
    must = []
    for clause in clauses(flt):
        if isinstance(clause, Eq):
            cond = module.FieldCondition(key=clause.attr, match=module.MatchValue(value=clause.value))
        elif isinstance(clause, In):
            cond = module.FieldCondition(key=clause.attr, match=module.MatchAny(any=list(clause.values)))
        else:
            bounds = {
                b: getattr(clause, b) for b in ("gte", "gt", "lte", "lt") if getattr(clause, b) is not None
            }
            cond = module.FieldCondition(key=clause.attr, range=range_cls(**bounds))
        must.append(cond)
    return module.Filter(must=must)


def qdrant_filter(flt: Filter, models: Any) -> Any:
    """``models.Filter`` (``qdrant_client.models``) of a parsed filter."""
    return _filter(flt, models, models.Range)


def edge_filter(flt: Filter, qe: Any) -> Any:
    """``qdrant_edge.Filter`` of a parsed filter (``RangeFloat`` for ranges)."""
    return _filter(flt, qe, qe.RangeFloat)
