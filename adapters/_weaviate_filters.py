"""Pure parts of Weaviate's filtered search: attribute properties, value checks, and the
translation of a vecbench filter into Weaviate's filter conditions.

A declared attribute is a property of the collection, created with it: ``int`` -> ``INT``
(64-bit; filterable and, from Weaviate 1.26, with a range index), ``keyword`` -> ``TEXT``
with ``field`` tokenization (the whole value is one token, so equality is exact), filterable
and not searchable (no BM25 index: nothing here searches text).

Two facts of Weaviate shape the checks. ``field`` tokenization trims surrounding whitespace
(``"a "`` matches ``"a"``), and objects reach the server through the batch import as
float64 numbers (``2**53 + 1`` is stored as ``2**53``); keyword values with surrounding
whitespace and integers beyond +-2**53 are refused at upsert, so that every stored value is
exact and a filter value that cannot be stored matches nothing.

``conditions`` turns a parsed filter into ``(property, operator, value)`` triples, ANDed; the
operators are the names of the client's ``Filter.by_property(...)`` methods, so
``client_filter`` only calls them. None means "no object can pass" (no request is needed).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vecbench.errors import ConfigError
from vecbench.workloads.filters import Eq, Filter, In, Range

from ._attributes import clauses, int_bounds

__all__ = [
    "EXACT_INT",
    "check_values",
    "client_filter",
    "conditions",
    "properties",
    "property_names",
    "search_path",
    "to_client_properties",
]

EXACT_INT = 2**53  # the batch import sends numbers as float64: larger integers are rounded
RESERVED = ("id", "_id", "_additional", "vector")  # the server's reserved names and the client's
RANGE_INDEX_SINCE = (1, 26)  # indexRangeFilters
Condition = tuple[str, str, Any]


def property_names(kinds: Mapping[str, str]) -> dict[str, str]:
    """Weaviate's property name per attribute: the server lower-cases the first letter, so
    ``Year`` is stored as ``year``. Reserved names and names that collide that way are refused."""
    out: dict[str, str] = {}
    for attr in kinds:
        prop = attr[0].lower() + attr[1:]
        if prop in RESERVED:
            raise ConfigError(
                f"weaviate: attribute {attr!r} cannot be a property (Weaviate reserves {', '.join(RESERVED)})"
            )
        clash = [a for a, p in out.items() if p == prop]
        if clash:
            raise ConfigError(
                f"weaviate: attributes {clash[0]!r} and {attr!r} are the same property {prop!r} in Weaviate "
                "(it lower-cases the first letter of property names)"
            )
        out[attr] = prop
    return out


def properties(
    kinds: Mapping[str, str], names: Mapping[str, str], server: tuple[int, ...]
) -> list[dict[str, Any]]:
    """The properties of the collection's schema, as Weaviate spells them."""
    out = []
    for attr, kind in kinds.items():
        prop: dict[str, Any] = {"name": names[attr], "indexFilterable": True}
        if kind == "int":
            prop["dataType"] = ["int"]
            if server >= RANGE_INDEX_SINCE:
                prop["indexRangeFilters"] = True
        else:
            prop.update(dataType=["text"], tokenization="field", indexSearchable=False)
        out.append(prop)
    return out


def to_client_properties(wvc: Any, props: list[dict[str, Any]]) -> list[Any]:
    """The client's ``Property`` objects for ``properties``' mappings."""
    made = []
    for p in props:
        is_int = p["dataType"] == ["int"]
        kwargs: dict[str, Any] = {
            "name": p["name"],
            "data_type": wvc.DataType.INT if is_int else wvc.DataType.TEXT,
            "index_filterable": p["indexFilterable"],
        }
        if is_int:
            kwargs["index_range_filters"] = p.get("indexRangeFilters")
        else:
            kwargs.update(tokenization=wvc.Tokenization.FIELD, index_searchable=p["indexSearchable"])
        made.append(wvc.Property(**kwargs))
    return made


def check_values(columns: Mapping[str, NDArray[Any]], kinds: Mapping[str, str]) -> None:
    """Refuse values Weaviate would not store exactly (ConfigError, before any request)."""
    for attr, col in columns.items():
        if kinds[attr] == "int":
            if col.size and int(np.abs(col).max()) > EXACT_INT:
                bad = int(col[np.argmax(np.abs(col))])
                raise ConfigError(
                    f"weaviate: attribute {attr!r} value {bad} is beyond +-2**53: Weaviate's batch import "
                    "sends numbers as float64 and would store it rounded"
                )
            continue
        text = col.astype(str)
        padded = np.flatnonzero(np.char.strip(text) != text)
        if padded.size:
            value = text[padded[0]]
            raise ConfigError(
                f"weaviate: keyword attribute {attr!r} value {value!r}: Weaviate's field tokenization trims "
                "surrounding whitespace, so it would match another label; strip the labels first"
            )


def _storable(value: Any) -> bool:
    if isinstance(value, str):
        return value == value.strip()
    return abs(int(value)) <= EXACT_INT


def _range(prop: str, clause: Range) -> list[Condition] | None:
    bounds = int_bounds(clause)
    if bounds is None or bounds[0] > EXACT_INT or bounds[1] < -EXACT_INT:
        return None
    lo, hi = bounds
    out: list[Condition] = []
    if lo > -EXACT_INT:  # every stored value is >= -2**53: a lower bound below says nothing
        out.append((prop, "greater_or_equal", int(lo)))
    if hi < EXACT_INT:
        out.append((prop, "less_or_equal", int(hi)))
    return out


def conditions(flt: Filter, names: Mapping[str, str]) -> list[Condition] | None:
    """The filter as ANDed ``(property, operator, value)``; None when nothing can pass.

    Ranges become inclusive integer bounds (``int_bounds``), a bound no stored value can
    cross is left out, and values Weaviate cannot store (see ``check_values``) match nothing.
    An empty list means every object passes.
    """
    out: list[Condition] = []
    for clause in clauses(flt):
        prop = names[clause.attr]
        if isinstance(clause, Range):
            got = _range(prop, clause)
            if got is None:
                return None
            out.extend(got)
            continue
        values = [clause.value] if isinstance(clause, Eq) else list(dict.fromkeys(clause.values))
        values = [v for v in values if _storable(v)]
        if not values:
            return None
        if isinstance(clause, In) and len(values) > 1:
            out.append((prop, "contains_any", values))
        else:
            out.append((prop, "equal", values[0]))
    return out


def client_filter(filter_cls: Any, conds: list[Condition]) -> Any:
    """The client's filter (``weaviate.classes.query.Filter``) for ``conditions``; None for
    no condition."""
    made = [getattr(filter_cls.by_property(prop), op)(value) for prop, op, value in conds]
    if not made:
        return None
    return made[0] if len(made) == 1 else filter_cls.all_of(made)


_GRAPH = (
    "pre-filter: an allow-list of passing objects from the property indexes; fewer than "
    "flat_search_cutoff_in_effect -> a flat scan of them (exact), else HNSW with "
    "filter_strategy_in_effect (acorn falls back to sweeping above 40% passing, HNSW_ACORN_FILTER_RATIO)"
)
_SEARCH_PATHS = {
    "hnsw": _GRAPH,
    "dynamic": _GRAPH + "; below the dynamic threshold the flat index scans the allow-list",
    "flat": "pre-filter: a flat scan of the objects in the allow-list from the property indexes",
}


def search_path(index_type: str) -> str:
    """How Weaviate answers a filtered search on this index type (for ``describe()``)."""
    return _SEARCH_PATHS.get(index_type, _SEARCH_PATHS["flat"])
