"""Milvus filtered search: the declared attributes as scalar fields with scalar indexes, and
a vecbench filter as Milvus's boolean expression (the ``filter`` of a search).

Fields: an ``int`` attribute is an ``INT64`` field, a ``keyword`` a ``VARCHAR`` of at most
``KEYWORD_MAX_BYTES`` bytes (Milvus counts UTF-8 bytes; longer values are refused before
they are sent). Scalar indexes: ``INVERTED`` on Milvus >= 2.4, the index Milvus recommends
for both kinds from then on; before 2.4 the only ones it accepts, ``STL_SORT`` on INT64 and
``Trie`` on VARCHAR (2.3.5 refuses INVERTED: "expected=STL_SORT").

Expressions (verified on Milvus 2.3.5): ``group == "g1"``, ``group in ["g0", "g2"]``,
``num >= 100 and num <= 199``, clauses joined with ``and``. Ranges go through
``int_bounds``: Milvus refuses a float bound on an INT64 field ("cannot cast value to
Int64"), so ``{"lt": 4.5}`` becomes ``num <= 4``. Keyword values are double-quoted with
``\\``, ``"`` and control characters escaped (``\\n``, ``\\t``, ``\\u0001``), which Milvus
reads back as the same string: no value can end the literal early, so none can add a
condition. Attribute names are identifiers (CollectionSpec checks them); names the
expression grammar or the schema reserves are refused at create.

    >>> filter_expr(parse_filter({"group": 'a"b', "num": {"lt": 10}}), {"group": "keyword", "num": "int"})
    'group == "a\\\\"b" and num <= 9'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vecbench.errors import ConfigError
from vecbench.workloads.filters import Eq, Filter, In, Range, parse_filter  # noqa: F401 (doctest)

from ._attributes import INT64_MAX, INT64_MIN, clauses, int_bounds

__all__ = [
    "KEYWORD_MAX_BYTES",
    "check_attribute_names",
    "filter_expr",
    "scalar_index_types",
    "string_literal",
]

KEYWORD_MAX_BYTES = 1024  # VARCHAR max_length of keyword fields (Milvus allows up to 65535)
# Words of Milvus's expression grammar (case as the lexer takes them, compared lowercased).
_GRAMMAR_WORDS = frozenset(
    {"and", "or", "not", "in", "like", "exists", "true", "false", "text_match", "phrase_match"}
    | {f"{p}_{s}" for p in ("json", "array") for s in ("contains", "contains_all", "contains_any")}
    | {"array_length"}
)
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def check_attribute_names(attributes: Mapping[str, str], reserved: tuple[str, ...]) -> None:
    """ConfigError for an attribute named like a schema field of the store or a word of the
    expression grammar (it could not be told apart in a filter)."""
    for attr in attributes:
        if attr in reserved or attr.lower() in _GRAMMAR_WORDS:
            taken = "a field of the collection" if attr in reserved else "a word of Milvus's filter grammar"
            raise ConfigError(f"milvus: attribute name {attr!r} is {taken}; rename the attribute")


def scalar_index_types(server_version: str) -> dict[str, str]:
    """The scalar index per attribute kind for a server version string ("v2.3.5-lite")."""
    digits = server_version.lstrip("vV").split("-")[0].split(".")
    try:
        major, minor = int(digits[0]), int(digits[1])
    except (IndexError, ValueError):
        major, minor = 2, 4  # an unknown version string: assume a current server
    if (major, minor) >= (2, 4):
        return {"int": "INVERTED", "keyword": "INVERTED"}
    return {"int": "STL_SORT", "keyword": "Trie"}


def scalar_index_name(attr: str) -> str:
    return f"scalar_{attr}"


def add_attribute_fields(schema: Any, data_type: Any, attributes: Mapping[str, str]) -> None:
    for attr, kind in attributes.items():
        if kind == "int":
            schema.add_field(attr, data_type.INT64)
        else:
            schema.add_field(attr, data_type.VARCHAR, max_length=KEYWORD_MAX_BYTES)


def add_scalar_indexes(index_params: Any, attributes: Mapping[str, str], types: Mapping[str, str]) -> None:
    for attr, kind in attributes.items():
        index_params.add_index(attr, index_type=types[kind], index_name=scalar_index_name(attr))


def check_keyword_values(columns: Mapping[str, NDArray[Any]], attributes: Mapping[str, str]) -> None:
    """ConfigError for a keyword value Milvus would refuse (too long, not encodable)."""
    for attr, kind in attributes.items():
        if kind != "keyword":
            continue
        for value in columns[attr]:
            try:
                size = len(value.encode("utf-8"))
            except UnicodeEncodeError as exc:
                raise ConfigError(
                    f"milvus: attribute {attr!r} value {value!r} is not valid UTF-8 text"
                ) from exc
            if size > KEYWORD_MAX_BYTES:
                raise ConfigError(
                    f"milvus: attribute {attr!r} has a value of {size} bytes; keyword fields hold "
                    f"at most {KEYWORD_MAX_BYTES} bytes (VARCHAR max_length)"
                )


def add_field_data(
    request: Any,
    data_type: Any,
    field_ids: Mapping[str, int],
    columns: Mapping[str, NDArray[Any]],
    attributes: Mapping[str, str],
) -> None:
    """The attribute columns as fields of an ``UpsertRequest``."""
    for attr, kind in attributes.items():
        field = request.fields_data.add(
            type=data_type.INT64 if kind == "int" else data_type.VARCHAR, field_name=attr
        )
        field.field_id = field_ids.get(attr, 0)
        if kind == "int":
            field.scalars.long_data.data.extend(np.asarray(columns[attr], dtype=np.int64).tolist())
        else:
            field.scalars.string_data.data.extend(str(v) for v in columns[attr])


def rows(
    ids: NDArray[np.int64], vectors: NDArray[np.float32], columns: Mapping[str, NDArray[Any]]
) -> list[dict[str, Any]]:
    """Rows for ``MilvusClient.upsert`` (the path where pymilvus lacks the request hook)."""
    from ._milvus_support import ID_FIELD, VECTOR_FIELD  # _milvus_support imports this module

    out = [{ID_FIELD: int(i), VECTOR_FIELD: v} for i, v in zip(ids.tolist(), vectors, strict=True)]
    for attr, col in columns.items():
        for row, value in zip(out, col.tolist(), strict=True):
            row[attr] = value
    return out


def describe(
    attributes: Mapping[str, str], scalar_indexes: Mapping[str, str], index_type: str, server_version: str
) -> dict[str, Any]:
    """The ``filter`` entry of ``describe()``."""
    out: dict[str, Any] = {
        "fields": {
            a: "INT64" if k == "int" else f"VARCHAR({KEYWORD_MAX_BYTES})" for a, k in attributes.items()
        },
        "scalar_indexes": dict(scalar_indexes),
        "translation": "boolean expression as the search's filter (==, in [...], >=, <=, and)",
    }
    if index_type == "ivf_pq" and scalar_index_types(server_version)["int"] != "INVERTED":
        out["known_defect"] = (
            "Milvus 2.3 IVF_PQ under a filter that does not select contiguous rows returns ids that "
            "pass it but are not the vectors whose distances it reports (recall@10 0.2 vs 0.92 "
            "unfiltered on 2.3.5): use another index type to filter"
        )
    return out


def string_literal(value: str) -> str:
    """``value`` as a double-quoted Milvus string literal that reads back as ``value``.

    >>> string_literal('say "hi" \\\\ bye')
    '"say \\\\"hi\\\\" \\\\\\\\ bye"'
    """
    out = []
    for ch in value:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _int_literal(value: int) -> str | None:
    """An int64 as a literal the grammar reads (None outside int64: nothing can equal it)."""
    if not INT64_MIN <= value <= INT64_MAX:
        return None
    return str(value)


def _eq_terms(attr: str, kind: str, values: tuple[Any, ...]) -> str | None:
    """``attr == v`` / ``attr in [...]``; None when no stored value can match."""
    if kind == "keyword":
        literals = [string_literal(str(v)) for v in values]
    else:
        ints = [int(v) for v in values]
        # -2**63 is not a literal Milvus parses (unary minus of an overflowing 2**63).
        literals = [lit for v in ints if v != INT64_MIN and (lit := _int_literal(v)) is not None]
        if INT64_MIN in ints:
            extra = f"{attr} < {INT64_MIN + 1}"
            if not literals:
                return extra
            return f"({attr} in [{', '.join(literals)}] or {extra})"
    if not literals:
        return None
    if len(literals) == 1:
        return f"{attr} == {literals[0]}"
    return f"{attr} in [{', '.join(literals)}]"


def filter_expr(flt: Filter, kinds: Mapping[str, str]) -> str | None:
    """The Milvus boolean expression of a checked filter; ``""`` when every int64 passes,
    None when none can (the store then answers without a search)."""
    terms: list[str] = []
    for clause in clauses(flt):
        kind = kinds[clause.attr]
        if isinstance(clause, Range):
            bounds = int_bounds(clause)
            if bounds is None:
                return None
            lo, hi = bounds
            if lo > INT64_MIN:
                terms.append(f"{clause.attr} >= {lo}")
            if hi < INT64_MAX:
                terms.append(f"{clause.attr} <= {hi}")
            continue
        values = (clause.value,) if isinstance(clause, Eq) else clause.values
        term = _eq_terms(clause.attr, kind, values)
        if term is None:
            return None
        terms.append(term)
    return " and ".join(terms)
