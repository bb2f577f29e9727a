"""Chroma's side of filtered search: vecbench filters as ``where`` documents, and the metadata
each vector is stored with (the payloads a RAG pipeline passes, plus the declared attributes).
Pure functions, unit-tested without a server. Private to the Chroma adapters.

    chroma_where(parse_filter({"label": "news", "year": {"gte": 2020, "lt": 2024}}))
    # {"$and": [{"label": {"$eq": "news"}}, {"year": {"$gte": 2020}}, {"year": {"$lt": 2024}}]}

Chroma's operators take one bound each, and ``$and`` needs at least two parts, so a range
becomes one condition per bound and a single condition stands alone. A range compares an
integer attribute: a fractional bound is rounded to the integer bound that selects the same
integers (``gte 2.5`` -> ``$gte 3``), so Chroma always compares integers with integers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vecbench.errors import ConfigError
from vecbench.workloads.filters import Eq, Filter, In, Range

from ._attributes import clauses

__all__ = ["chroma_metadatas", "chroma_where", "integer_bound"]

_RANGE_OPS = (
    ("gte", "$gte", math.ceil),
    ("gt", "$gt", math.floor),
    ("lte", "$lte", math.floor),
    ("lt", "$lt", math.ceil),
)


def integer_bound(value: float, rounding: Any) -> int:
    """``value`` as an int: exact when integral, else rounded the way that keeps the integers
    a bound selects (``ceil`` for gte and lt, ``floor`` for gt and lte)."""
    return int(value) if float(value).is_integer() else int(rounding(value))


def _conditions(clause: Eq | In | Range) -> list[dict[str, Any]]:
    if isinstance(clause, Eq):
        return [{clause.attr: {"$eq": clause.value}}]
    if isinstance(clause, In):
        return [{clause.attr: {"$in": list(clause.values)}}]
    out = []
    for name, op, rounding in _RANGE_OPS:
        bound = getattr(clause, name)
        if bound is not None:
            out.append({clause.attr: {op: integer_bound(bound, rounding)}})
    return out


def chroma_where(flt: Filter) -> dict[str, Any]:
    """The ``where`` document of a parsed filter."""
    parts = [cond for clause in clauses(flt) for cond in _conditions(clause)]
    return parts[0] if len(parts) == 1 else {"$and": parts}


def _payload_rows(payloads: Any, n: int) -> list[dict[str, Any]]:
    if payloads is None:
        return [{} for _ in range(n)]
    if isinstance(payloads, Mapping):  # one column per key
        cols = {str(k): np.asarray(v).tolist() for k, v in payloads.items()}
        return [{k: col[i] for k, col in cols.items()} for i in range(n)]
    if not isinstance(payloads, Sequence):
        raise ConfigError(
            f"payloads must be one mapping per vector or a mapping of columns, got {type(payloads)}"
        )
    return [dict(p) if p else {} for p in payloads]


def chroma_metadatas(
    payloads: Any, attributes: Mapping[str, NDArray[Any]] | None, n: int
) -> list[dict[str, Any] | None] | None:
    """One metadata mapping per vector: its payload with the declared attributes' values
    (plain Python ints and strs), None for a vector with neither; None when no vector has any."""
    rows = _payload_rows(payloads, n)
    for attr, column in (attributes or {}).items():
        for row, value in zip(rows, column.tolist(), strict=True):
            row[attr] = value
    if not any(rows):
        return None
    return [row or None for row in rows]
