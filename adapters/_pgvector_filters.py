"""pgvector filtered search: attribute columns and their B-tree indexes, a filter as a
``WHERE`` clause with bound parameters, and the iterative index scan settings.

Columns: an ``int`` attribute is a ``bigint`` column, a ``keyword`` a ``text`` column, both
``NOT NULL``, created with the table; a B-tree index per column is built in ``wait_ready``
after the bulk load, with the vector index, and ``ANALYZE`` gives the planner their
statistics.

WHERE: each clause is a comparison of a quoted identifier (``sql.Identifier``) with a bound
parameter (``%s``), never a value pasted into the text: ``"label" = %s::text``,
``"label" = ANY(%s::text[])``, ``"n" >= %s::bigint AND "n" <= %s::bigint``. Ranges go through
``int_bounds`` so a float bound never turns the comparison into a float one (which no
B-tree on a bigint column serves).

Iterative index scans (pgvector >= 0.8): with a filter, an HNSW or IVFFlat scan returns at
most ``hnsw.ef_search`` rows (or the rows of ``ivfflat.probes`` lists) before the filter
drops those that fail, so a selective filter leaves fewer than k; ``iterative_scan``
(``relaxed_order`` or, for HNSW, ``strict_order``) makes the scan go on until k pass or a
limit is reached (``hnsw.max_scan_tuples``, ``hnsw.scan_mem_multiplier``,
``ivfflat.max_probes``). They are search parameters of the index types, SET per connection.

    where, params = where_clause(psycopg.sql, parse_filter({"label": "a", "n": {"lt": 10}}), kinds)
    # where: "label" = %s::text AND "n" <= %s::bigint    params: ['a', 9]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vecbench.errors import ConfigError, InvalidParameterError
from vecbench.workloads.filters import Eq, Filter, Range

from ._attributes import INT64_MAX, INT64_MIN, clauses, int_bounds
from ._base import check_int_param

__all__ = [
    "ITERATIVE_GUC",
    "MIN_ITERATIVE_VERSION",
    "check_iterative_params",
    "column_definitions",
    "where_clause",
]

MIN_ITERATIVE_VERSION = (0, 8, 0)
# search parameter -> the GUC it sets, per index type
ITERATIVE_GUC = {
    "hnsw": {
        "iterative_scan": "hnsw.iterative_scan",
        "max_scan_tuples": "hnsw.max_scan_tuples",
        "scan_mem_multiplier": "hnsw.scan_mem_multiplier",
    },
    "ivfflat": {"iterative_scan": "ivfflat.iterative_scan", "max_probes": "ivfflat.max_probes"},
}
ITERATIVE_MODES = {"hnsw": ("off", "relaxed_order", "strict_order"), "ivfflat": ("off", "relaxed_order")}
_SQL_TYPE = {"int": "bigint", "keyword": "text"}
RESERVED_COLUMNS = ("id", "embedding")


def parse_version(text: str | None) -> tuple[int, ...]:
    """'0.8.1' -> (0, 8, 1); () when unknown."""
    parts = []
    for piece in str(text or "").split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def check_iterative_params(kind: str, params: Mapping[str, Any], version: tuple[int, ...] | None) -> None:
    """Values of the iterative scan parameters; any but ``off`` / None refused before
    pgvector 0.8 (``version`` None: not connected yet, the values alone are checked)."""
    if kind not in ITERATIVE_GUC:
        return
    mode = params.get("iterative_scan")
    if mode is not None and mode not in ITERATIVE_MODES[kind]:
        raise InvalidParameterError(
            f"{kind} iterative_scan must be one of {', '.join(ITERATIVE_MODES[kind])}, got {mode!r}"
        )
    if params.get("max_scan_tuples") is not None:
        check_int_param("max_scan_tuples", params["max_scan_tuples"], minimum=1, maximum=2**31 - 1)
    if params.get("max_probes") is not None:
        check_int_param("max_probes", params["max_probes"], minimum=1, maximum=32768)
    mult = params.get("scan_mem_multiplier")
    if mult is not None and (
        isinstance(mult, bool) or not isinstance(mult, (int, float)) or not 1 <= mult <= 1000
    ):
        raise InvalidParameterError(f"scan_mem_multiplier must be a number in [1, 1000], got {mult!r}")
    asked = [p for p in ITERATIVE_GUC[kind] if params.get(p) is not None and params.get(p) != "off"]
    if asked and version is not None and version < MIN_ITERATIVE_VERSION:
        raise InvalidParameterError(
            f"pgvector {'.'.join(map(str, version)) or '(unknown version)'} on this server has no iterative "
            f"index scans (added in 0.8.0): {', '.join(asked)} cannot be set; upgrade the extension "
            "(ALTER EXTENSION vector UPDATE) or leave them out"
        )


def iterative_settings(kind: str, params: Mapping[str, Any], version: tuple[int, ...]) -> dict[str, Any]:
    """GUC -> value (None: RESET to the server's setting) for the connection. Before
    pgvector 0.8 there is nothing to set (``off`` is what such a server does anyway)."""
    if kind not in ITERATIVE_GUC or version < MIN_ITERATIVE_VERSION:
        return {}
    return {guc: params.get(param) for param, guc in ITERATIVE_GUC[kind].items()}


def check_attribute_names(attributes: Mapping[str, str]) -> None:
    for attr in attributes:
        if attr in RESERVED_COLUMNS:
            raise ConfigError(
                f"pgvector: attribute name {attr!r} is a column of the table; rename the attribute"
            )


def copy_order(attributes: Mapping[str, str]) -> list[str]:
    """Attribute columns in COPY order: integers first (fixed width), then keywords."""
    return [a for a, k in attributes.items() if k == "int"] + [a for a, k in attributes.items() if k != "int"]


def column_definitions(sql: Any, attributes: Mapping[str, str]) -> Any:
    """``, "a" bigint NOT NULL, "b" text NOT NULL`` (empty without attributes)."""
    return sql.SQL("").join(
        sql.SQL(", {} {} NOT NULL").format(sql.Identifier(a), sql.SQL(_SQL_TYPE[k]))
        for a, k in attributes.items()
    )


def attribute_index_name(table_name: str, position: int) -> str:
    return f"{table_name[:48]}_attr{position}_idx"


def create_attribute_indexes(
    conn: Any, sql: Any, table: Any, table_name: str, attributes: Mapping[str, str]
) -> None:
    """A B-tree index per attribute column (IF NOT EXISTS: a second wait_ready is a no-op)."""
    for i, attr in enumerate(attributes):
        conn.execute(
            sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} ({})").format(
                sql.Identifier(attribute_index_name(table_name, i)), table, sql.Identifier(attr)
            )
        )


def check_keyword_values(columns: Mapping[str, Any], attributes: Mapping[str, str]) -> None:
    """ConfigError for text PostgreSQL cannot store (a NUL character, invalid UTF-8)."""
    for attr, kind in attributes.items():
        if kind != "keyword":
            continue
        for value in columns[attr]:
            if "\x00" in value:
                raise ConfigError(
                    f"pgvector: attribute {attr!r} value {value!r} holds a NUL character (text cannot)"
                )


def _in_int64(values: tuple[Any, ...]) -> list[int]:
    return [int(v) for v in values if INT64_MIN <= int(v) <= INT64_MAX]


def where_clause(sql: Any, flt: Filter, kinds: Mapping[str, str]) -> tuple[Any, list[Any]] | None:
    """The ``WHERE`` condition of a checked filter and its parameters, in order; None when
    no row can pass (a range or value outside int64)."""
    terms: list[Any] = []
    params: list[Any] = []
    for clause in clauses(flt):
        col = sql.Identifier(clause.attr)
        if isinstance(clause, Range):
            bounds = int_bounds(clause)
            if bounds is None:
                return None
            for bound, op, edge in ((bounds[0], ">=", INT64_MIN), (bounds[1], "<=", INT64_MAX)):
                if bound != edge:
                    terms.append(sql.SQL("{} " + op + " %s::bigint").format(col))
                    params.append(bound)
            continue
        values = (clause.value,) if isinstance(clause, Eq) else clause.values
        if kinds[clause.attr] == "int":
            values = tuple(_in_int64(values))
            if not values:
                return None
        cast = _SQL_TYPE[kinds[clause.attr]]
        if len(values) == 1:
            terms.append(sql.SQL("{} = %s::" + cast).format(col))
            params.append(values[0])
        else:
            terms.append(sql.SQL("{} = ANY(%s::" + cast + "[])").format(col))
            params.append(list(values))
    if not terms:
        return sql.SQL("TRUE"), []
    return sql.SQL(" AND ").join(terms), params


def filtered_statement(conn: Any, sql: Any, table: Any, op: str, k: int, where: Any) -> str:
    """``SELECT id FROM t WHERE ... ORDER BY embedding <op> %b LIMIT k`` as text for ``conn``."""
    return str(
        sql.SQL("SELECT id FROM {} WHERE {} ORDER BY embedding {} %b LIMIT {}")
        .format(table, where, sql.SQL(op), sql.Literal(k))
        .as_string(conn)
    )
