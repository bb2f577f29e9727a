"""What ``PgVectorStore`` reads back from the server: relation sizes, the vector index as
built, the planner's plan, and the server-side part of ``describe()`` (settings in effect,
attribute columns and their B-tree indexes)."""

from __future__ import annotations

import re
from typing import Any

from vecbench.spec import CollectionSpec

from ._pgvector_filters import ITERATIVE_GUC, attribute_index_name
from ._pgvector_sql import SEARCH_GUC, scalar

_PLACEHOLDER = re.compile(r"%[sb]")


def relation_sizes(conn: Any, schema: str, name: str, index_name: str) -> tuple[int, int, int | None] | None:
    """Table with all its indexes and TOAST, heap alone, and the vector index (None if unbuilt);
    None when the table is gone."""
    row = conn.execute(
        "SELECT pg_total_relation_size(c.oid), pg_relation_size(c.oid), "
        "(SELECT pg_relation_size(i.oid) FROM pg_class i WHERE i.relnamespace = n.oid AND i.relname = %s) "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = %s",
        (index_name, schema, name),
    ).fetchone()
    if row is None:
        return None
    return int(row[0]), int(row[1]), (None if row[2] is None else int(row[2]))


def built_index(conn: Any, schema: str, index_name: str) -> dict[str, Any] | None:
    """Name, access method, definition and options of an index, None when there is none."""
    index = conn.execute(
        "SELECT i.indexname, i.indexdef, c.reloptions, am.amname FROM pg_indexes i "
        "JOIN pg_namespace n ON n.nspname = i.schemaname "
        "JOIN pg_class c ON c.relname = i.indexname AND c.relnamespace = n.oid "
        "JOIN pg_am am ON am.oid = c.relam WHERE i.schemaname = %s AND i.indexname = %s",
        (schema, index_name),
    ).fetchone()
    if index is None:
        return None
    return {"name": index[0], "type": index[3], "definition": index[1], "reloptions": list(index[2] or [])}


def explain_plan(conn: Any, stmt: str, params: tuple[Any, ...], *, generic: bool) -> dict[str, Any]:
    """The plan of ``stmt`` from ``EXPLAIN (FORMAT JSON)``; generic: the generic plan, its
    parameters unbound (``$1``, ``$2``, ...)."""
    with conn.cursor() as cur:
        if generic:
            count = iter(range(1, 1000))
            text = _PLACEHOLDER.sub(lambda _: f"${next(count)}", stmt)
            cur.execute("EXPLAIN (GENERIC_PLAN, FORMAT JSON) " + text)
        else:
            cur.execute("EXPLAIN (FORMAT JSON) " + stmt, params)
        return dict(cur.fetchone()[0][0]["Plan"])


def search_settings(conn: Any, kind: str) -> dict[str, Any]:
    """The search GUCs of the index type as this connection has them (None: not defined,
    e.g. an iterative scan setting on pgvector < 0.8)."""
    gucs = [guc for _, guc in SEARCH_GUC.values()] + list(ITERATIVE_GUC.get(kind, {}).values())
    return {guc: scalar(conn, "SELECT current_setting(%s, true)", (guc,)) for guc in gucs}


def filter_section(conn: Any, schema: str, spec: CollectionSpec) -> dict[str, Any]:
    """The attribute columns, their B-tree indexes as built, and how a filter is run."""
    indexes = [
        built_index(conn, schema, attribute_index_name(spec.name, i)) for i in range(len(spec.attributes))
    ]
    return {
        "columns": {a: "bigint" if k == "int" else "text" for a, k in spec.attributes.items()},
        "attribute_indexes": [i for i in indexes if i is not None],
        "translation": "WHERE with bound parameters (= / = ANY / integer >= <=, AND)",
        "planning": "filtered statements are not prepared: each is planned with its values, so the "
        "planner sees the filter's selectivity (B-tree, or the vector index with the filter on top)",
    }


def describe(
    where: tuple[Any, Any, Any, str],
    spec: CollectionSpec,
    index_name: str,
    sizes: tuple[int, int, int | None],
    known: dict[str, Any],
) -> dict[str, Any]:
    """``describe()`` of a table: what the store knows (``known``) and what the server says.
    ``where``: connection, ``psycopg.sql``, the table's identifier, its schema."""
    conn, sql, table, schema = where
    total, heap, index_bytes = sizes
    server_version = scalar(conn, "SHOW server_version")
    out: dict[str, Any] = {
        "engine_version": server_version,
        "server_version": server_version,
        **known,
        "index_built": built_index(conn, schema, index_name),
        "row_count": scalar(conn, sql.SQL("SELECT count(*) FROM {}").format(table)),
        "search_settings_in_effect": search_settings(conn, spec.index_type),
        "maintenance_work_mem": scalar(conn, "SHOW maintenance_work_mem"),
        "max_parallel_maintenance_workers": scalar(conn, "SHOW max_parallel_maintenance_workers"),
        "disk_bytes": {"total": total, "table": heap, "vector_index": index_bytes},
        "build_time_counted_in": "nothing to build"
        if spec.index_type == "flat"
        else "wait_ready (CREATE INDEX)",
    }
    if spec.index_type == "hnsw":
        out["ef_search_rule"] = "max(ef_search, k), at most 1000"
    if spec.attributes:
        out["filter"] = filter_section(conn, schema, spec)
    return out
