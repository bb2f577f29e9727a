"""Filterable attributes on the store side: payloads checked into columns, and the table the
embedded stores (bruteforce, FAISS) keep to evaluate a filter themselves.

A collection declares its attributes in ``CollectionSpec.attributes`` (name -> ``"int"`` or
``"keyword"``). ``upsert`` takes their values as payloads, either one mapping per vector or
one column per attribute; ``attribute_columns`` checks them and returns one numpy column per
declared attribute (int64, or str objects for keywords), the form every adapter's
``_do_upsert(ids, vectors, attributes)`` receives.

``AttributeTable`` keeps the columns by id (upsert replaces, delete removes) and answers
``passes(filter, ids)``: which of the given ids pass. Keywords are held as integer codes, so
a filter over a million rows is a few vectorized comparisons.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vecbench.errors import ConfigError
from vecbench.workloads.filters import And, Eq, Filter, In, Range

from ._base import IdIndex

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "AttributeTable",
    "attribute_columns",
    "check_filter_attributes",
    "clauses",
    "int_bounds",
    "text_column",
]

Columns = dict[str, NDArray[Any]]
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def clauses(flt: Filter) -> tuple[Eq | In | Range, ...]:
    """The ANDed clauses of a filter (one for a single condition)."""
    return flt.clauses if isinstance(flt, And) else (flt,)


def int_bounds(clause: Range) -> tuple[int, int] | None:
    """A range over an int64 attribute as inclusive integer bounds ``(lo, hi)``, the same set
    of int64 values whatever the bounds' type (``{"lt": 4.5}`` -> ``hi == 4``); None when no
    int64 passes. An open side is ``INT64_MIN`` / ``INT64_MAX``. Engines that refuse a float
    bound on an integer field (Milvus), or would compare as floats and miss the index
    (PostgreSQL), get exact integers from it.

    >>> int_bounds(Range("year", gt=2019.5, lt=2024))
    (2020, 2023)
    """
    lo, hi = INT64_MIN, INT64_MAX
    if clause.gte is not None:
        lo = max(lo, math.ceil(clause.gte))
    if clause.gt is not None:
        lo = max(lo, math.floor(clause.gt) + 1)
    if clause.lte is not None:
        hi = min(hi, math.floor(clause.lte))
    if clause.lt is not None:
        hi = min(hi, math.ceil(clause.lt) - 1)
    return (lo, hi) if lo <= hi else None


def _column(values: Any, attr: str, kind: str, n: int) -> NDArray[Any]:
    arr = np.asarray(values)
    if arr.shape != (n,):
        raise ConfigError(f"attribute {attr!r}: got {arr.shape[0] if arr.ndim else 0} values for {n} vectors")
    if kind == "int":
        if not (np.issubdtype(arr.dtype, np.integer) or (arr.dtype == object and _all_ints(arr))):
            raise ConfigError(f"attribute {attr!r} is declared int, got values of type {arr.dtype}")
        return arr.astype(np.int64)
    if not (arr.dtype.kind == "U" or (arr.dtype == object and all(isinstance(v, str) for v in arr))):
        raise ConfigError(f"attribute {attr!r} is declared keyword, got values of type {arr.dtype}")
    return arr.astype(object)


def _all_ints(arr: NDArray[Any]) -> bool:
    return all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in arr)


def attribute_columns(payloads: Any, kinds: Mapping[str, str], n: int) -> Columns:
    """One checked column per declared attribute, from payloads given as one mapping per
    vector or as a mapping of columns; ConfigError when one is missing or of the wrong kind.
    Keys that are not declared attributes are left out (a store may keep them otherwise)."""
    if payloads is None:
        raise ConfigError(
            f"the collection declares attributes {', '.join(kinds)}: upsert needs payloads with their values"
        )
    if isinstance(payloads, Mapping):
        missing = [a for a in kinds if a not in payloads]
        if missing:
            raise ConfigError(f"payload columns lack attribute(s) {', '.join(missing)}")
        return {a: _column(payloads[a], a, kind, n) for a, kind in kinds.items()}
    if not isinstance(payloads, Sequence) or len(payloads) != n:
        raise ConfigError(f"payloads must be one mapping per vector ({n}) or a mapping of columns")
    out: Columns = {}
    for attr, kind in kinds.items():
        try:
            values = [p[attr] for p in payloads]
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"a payload lacks attribute {attr!r} (or is not a mapping)") from exc
        out[attr] = _column(
            np.asarray(values, dtype=object) if values else np.empty(0, object), attr, kind, n
        )
    return out


def check_filter_attributes(flt: Filter, kinds: Mapping[str, str], store: str) -> None:
    """Refuse a filter naming an attribute the collection does not declare, a range on a
    keyword, or a value of the wrong kind (ConfigError)."""
    for clause in clauses(flt):
        if clause.attr not in kinds:
            have = ", ".join(sorted(kinds)) or "none"
            raise ConfigError(
                f"{store}: filter on attribute {clause.attr!r}, which the collection does not declare (it has: {have})"
            )
        kind = kinds[clause.attr]
        if isinstance(clause, Range):
            if kind != "int":
                raise ConfigError(f"{store}: range filter on keyword attribute {clause.attr!r}")
            continue
        values = (clause.value,) if isinstance(clause, Eq) else clause.values
        want = str if kind == "keyword" else int
        bad = [v for v in values if not isinstance(v, want)]
        if bad:
            raise ConfigError(
                f"{store}: attribute {clause.attr!r} is {kind}, the filter compares it with {bad[0]!r}"
            )


class AttributeTable:
    """Attribute columns by id, for stores that filter in vecbench's own code."""

    def __init__(self, kinds: Mapping[str, str]) -> None:
        self.kinds = dict(kinds)
        self._rows = IdIndex()
        self._n = 0
        self._cols: dict[str, NDArray[np.int64]] = {a: np.empty(0, np.int64) for a in self.kinds}
        self._codes: dict[str, dict[str, int]] = {a: {} for a, k in self.kinds.items() if k == "keyword"}
        self.version = 0  # changes with every upsert and delete: callers cache masks by it

    def __len__(self) -> int:
        return len(self._rows)

    @property
    def nbytes(self) -> int:
        return int(self._rows.nbytes + sum(c.nbytes for c in self._cols.values()))

    def _encode(self, attr: str, column: NDArray[Any]) -> NDArray[np.int64]:
        if self.kinds[attr] == "int":
            return np.asarray(column, dtype=np.int64)
        codes = self._codes[attr]
        uniq, inverse = np.unique(column.astype(str), return_inverse=True)
        mapped = np.array([codes.setdefault(str(u), len(codes)) for u in uniq], dtype=np.int64)
        return mapped[inverse.reshape(-1)]

    def upsert(self, ids: NDArray[np.int64], columns: Mapping[str, NDArray[Any]]) -> None:
        if not ids.size:
            return
        encoded = {a: self._encode(a, columns[a]) for a in self.kinds}
        rows = self._rows.lookup(ids)
        new = rows < 0
        rows[new] = np.arange(self._n, self._n + int(new.sum()))
        self._n += int(new.sum())
        for attr, values in encoded.items():
            col = self._cols[attr]
            if col.shape[0] < self._n:
                grown = np.zeros(max(self._n, 2 * col.shape[0], 1024), dtype=np.int64)
                grown[: col.shape[0]] = col
                self._cols[attr] = col = grown
            col[rows] = values
        self._rows.assign(ids, rows)
        self.version += 1

    def delete(self, ids: NDArray[np.int64]) -> None:
        """Forget these ids (their rows stay allocated until the table is dropped)."""
        if self._rows.remove(ids).size:
            self.version += 1

    def _clause_mask(self, clause: Eq | In | Range, rows: NDArray[np.int64]) -> NDArray[np.bool_]:
        col = self._cols[clause.attr][rows]
        if isinstance(clause, Range):
            return clause.mask({clause.attr: col})  # the filter language's own bounds
        values = (clause.value,) if isinstance(clause, Eq) else clause.values
        if self.kinds[clause.attr] == "keyword":
            codes = self._codes[clause.attr]
            values = tuple(codes[v] for v in values if v in codes)  # type: ignore[index]
        return np.isin(col, np.asarray(values, dtype=np.int64))

    def passes(self, flt: Filter, ids: NDArray[np.int64]) -> NDArray[np.bool_]:
        """For each id, whether it is in the table and passes ``flt``."""
        rows = self._rows.lookup(np.asarray(ids, dtype=np.int64))
        present = rows >= 0
        keep = present.copy()
        safe = np.where(present, rows, 0)
        for clause in clauses(flt):
            keep &= self._clause_mask(clause, safe)
        return keep

    def values(self, ids: NDArray[np.int64]) -> Columns:
        """The columns of ``ids`` (all present), keywords decoded: what ``upsert`` takes."""
        rows = self._rows.lookup(np.asarray(ids, dtype=np.int64))
        if (rows < 0).any():
            raise ConfigError("values() of ids the attribute table does not hold")
        out: Columns = {}
        for attr, kind in self.kinds.items():
            col = self._cols[attr][rows]
            if kind == "keyword":
                names = np.empty(len(self._codes[attr]), dtype=object)
                for name, code in self._codes[attr].items():
                    names[code] = name
                col = names[col]
            out[attr] = col
        return out

    def passing_ids(self, flt: Filter, ids: NDArray[np.int64]) -> NDArray[np.int64]:
        """The ids among ``ids`` that pass ``flt``."""
        ids = np.asarray(ids, dtype=np.int64)
        return ids[self.passes(flt, ids)]


def text_column(payloads: Any, key: str, n: int) -> NDArray[Any]:
    """The full-text column (str objects) from ``payloads`` (one mapping per vector, or a
    mapping of columns); ConfigError when a vector has no text under ``key``."""
    if payloads is None:
        raise ConfigError(f"the collection stores full text under {key!r}: upsert needs payloads with it")
    if isinstance(payloads, Mapping):
        if key not in payloads:
            raise ConfigError(f"payload columns lack the full-text key {key!r}")
        values = list(payloads[key])
    else:
        missing = sum(1 for p in payloads if not isinstance(p, Mapping) or key not in p)
        if missing:
            raise ConfigError(f"{missing} payload(s) lack the full-text key {key!r}")
        values = [p[key] for p in payloads]
    if len(values) != n:
        raise ConfigError(f"full text {key!r}: got {len(values)} values for {n} vectors")
    if not all(isinstance(v, str) for v in values):
        raise ConfigError(f"full text {key!r}: every value must be a str")
    out = np.empty(n, dtype=object)
    out[:] = values
    return out
