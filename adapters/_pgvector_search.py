"""The search path of ``PgVectorStore``: search settings SET on its connection, the KNN
statements (plain ones prepared on the server, filtered ones planned per execution), and
``explain``. A mixin of the store: it uses the store's connection, cursor and state.

Plain search: ``SELECT id FROM t ORDER BY embedding <op> %b LIMIT k``, prepared. Filtered:
``SELECT id FROM t WHERE <filter> ORDER BY embedding <op> %b LIMIT k`` with the filter's
values as bound parameters (``_pgvector_filters.where_clause``), not prepared, so that each
execution is planned with its values: the planner sees the filter's selectivity and picks
the B-tree (then sorts the few rows that pass: exact) or the vector index with the filter on
top (approximate; with ``iterative_scan`` off, fewer than k rows can come back).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from vecbench.errors import ConfigError, StoreError

from . import _pgvector_filters as pgf
from . import _pgvector_hybrid as pgh
from . import _pgvector_report as pgreport
from . import _pgvector_sql as pgsql
from ._pgvector_sql import MAX_EF_SEARCH

FILTERED_STATEMENTS_KEPT = 64


class PgVectorSearch:
    """Search methods of ``PgVectorStore`` (the store defines ``_conn``, ``_cursor``,
    ``_session``, ``_stmts``, ``_filtered_stmts``, ``_search_params``, ``_errors`` ...)."""

    _conn: Any
    _cursor: Any
    _half_vector: Any
    _where: str
    _pgvector_version: tuple[int, ...] | None
    _session: dict[str, Any]
    _stmts: dict[int, str]
    _hybrid_stmts: dict[str, str]
    _filtered_stmts: dict[tuple[int, Any], tuple[str, list[Any]] | None]
    _search_params: dict[str, Any]

    def _apply_search_params(self) -> None:
        kind = self._require_collection().index_type
        if kind in pgsql.SEARCH_GUC:
            self._set_search_guc(kind, int(self._search_params[pgsql.SEARCH_GUC[kind][0]]))
        version = self._pgvector_version or ()
        for guc, value in pgf.iterative_settings(kind, self._search_params, version).items():
            self._set_guc(guc, value)

    def _set_search_guc(self, kind: str, value: int) -> None:
        self._set_guc(pgsql.SEARCH_GUC[kind][1], value)

    def _set_guc(self, guc: str, value: Any) -> None:
        """SET ``guc`` on this connection (None: RESET it to the server's setting), unless it
        is already so; ``guc`` is a name from this module's tables, never input."""
        if guc in self._session and self._session[guc] == value:
            return
        with self._errors(f"SET {guc}"):
            if value is None:
                self._conn.execute(self._sql.SQL("RESET {}").format(self._sql.SQL(guc)))
            else:
                self._conn.execute("SELECT set_config(%s, %s, false)", (guc, str(value)))
        self._session[guc] = value

    def _statement(self, k: int) -> str:
        stmt = self._stmts.get(k)
        if stmt is None:
            op, _ = pgsql.OPS[self._require_collection().metric]
            stmt = pgsql.search_statement(self._conn, self._sql, self._table, op, k)
            self._stmts[k] = stmt
        return stmt

    def _query_param(self, q: NDArray[np.float32]) -> Any:
        if self._half_vector is not None:
            return self._half_vector(q)
        return q  # register_vector's binary dumper sends a numpy array as vector

    def _do_search(self, queries: NDArray[np.float32], k: int) -> NDArray[np.int64]:
        return self._run(queries, k, self._stmts.get(k) or self._statement(k), (), prepare=True)

    def _do_search_filtered(self, queries: NDArray[np.float32], k: int, flt: Any) -> NDArray[np.int64]:
        key = (k, flt)
        if key not in self._filtered_stmts:
            if len(self._filtered_stmts) >= FILTERED_STATEMENTS_KEPT:
                self._filtered_stmts.clear()
            self._filtered_stmts[key] = self._filtered_statement(k, flt)
        entry = self._filtered_stmts[key]
        if entry is None:  # no int64 value passes: nothing to search for
            return np.full((queries.shape[0], k), -1, dtype=np.int64)
        # Not prepared: each execution is planned with its values, so the planner sees the
        # filter's selectivity (a generic plan would guess it) and picks its index from that.
        return self._run(queries, k, entry[0], tuple(entry[1]), prepare=False)

    def _do_search_hybrid(
        self, query: NDArray[np.float32], text: str, k: int, fusion: str, alpha: float | None, rrf_k: int
    ) -> NDArray[np.int64]:
        spec = self._require_collection()
        assert spec.full_text is not None  # HybridSearchMixin checked
        stmt = self._hybrid_stmts.get(fusion)
        if stmt is None:
            op, _ = pgsql.OPS[spec.metric]
            stmt = pgh.hybrid_statement(self._sql, self._table, op, spec.full_text, fusion).as_string(
                self._conn
            )
            self._hybrid_stmts[fusion] = stmt
        if "ef_search" in self._search_params:  # hnsw: at least k candidates from the vector side
            ef = min(MAX_EF_SEARCH, max(int(self._search_params["ef_search"]), k))
            if self._session.get("hnsw.ef_search") != ef:
                self._set_search_guc("hnsw", ef)
        params = pgh.hybrid_params(self._query_param(query), text, k, fusion, alpha, rrf_k)
        with self._errors("hybrid search"):
            rows = self._cursor.execute(stmt, params, prepare=True).fetchall()
        return np.asarray([r[0] for r in rows], dtype=np.int64)

    def _filtered_statement(self, k: int, flt: Any) -> tuple[str, list[Any]] | None:
        spec = self._require_collection()
        where = pgf.where_clause(self._sql, flt, spec.attributes)
        if where is None:
            return None
        op, _ = pgsql.OPS[spec.metric]
        return pgf.filtered_statement(self._conn, self._sql, self._table, op, k, where[0]), where[1]

    def _run(
        self, queries: NDArray[np.float32], k: int, stmt: str, params: tuple[Any, ...], *, prepare: bool
    ) -> NDArray[np.int64]:
        # The serial-latency hot path: no context managers, one reused cursor, cached statement.
        if "ef_search" in self._search_params:  # hnsw
            ef = min(MAX_EF_SEARCH, max(int(self._search_params["ef_search"]), k))
            if self._session.get("hnsw.ef_search") != ef:
                self._set_search_guc("hnsw", ef)
        nq = queries.shape[0]
        out = np.full((nq, k), -1, dtype=np.int64)
        cur, conn = self._cursor, self._conn
        try:
            if nq == 1:
                rows = cur.execute(stmt, (*params, self._query_param(queries[0])), prepare=prepare).fetchall()
                out[0, : len(rows)] = [r[0] for r in rows]
                return out
            # executemany pipelines the statements: one round trip for the whole batch; it
            # prepares after prepare_threshold runs unless that is None.
            threshold = conn.prepare_threshold
            conn.prepare_threshold = threshold if prepare else None
            try:
                cur.executemany(stmt, [(*params, self._query_param(q)) for q in queries], returning=True)
            finally:
                conn.prepare_threshold = threshold
            for i in range(nq):
                rows = cur.fetchall()
                out[i, : len(rows)] = [r[0] for r in rows]
                if not cur.nextset():
                    break
        except self._client.Error as exc:
            raise StoreError(
                f"pgvector search failed on {self._where}: {' '.join(str(exc).split())}"
            ) from exc
        return out

    def explain(self, query: Any, k: int = 10, *, generic: bool = False, where: Any = None) -> dict[str, Any]:
        """The planner's plan (``EXPLAIN (FORMAT JSON)``) for ``search(query, k)``, or for
        ``search_filtered(query, k, where)``: which index the planner picks for a filter.

        ``generic=True`` shows the generic plan a prepared statement may switch to after a
        few executions (``EXPLAIN (GENERIC_PLAN)``, PostgreSQL 16+), parameters unbound.
        """
        from vecbench.util.validation import as_query, check_k
        from vecbench.workloads.filters import parse_filter

        from ._attributes import check_filter_attributes

        spec = self._require_collection()
        k = check_k(k)
        stmt, params = self._statement(k), []
        if where is not None:
            flt = parse_filter(where)
            check_filter_attributes(flt, spec.attributes, self.info.name)
            entry = self._filtered_statement(k, flt)
            if entry is None:
                raise ConfigError(
                    f"pgvector: no int64 value passes {flt.as_dict()}: there is no search to plan"
                )
            stmt, params = entry
        query_param = None if generic else self._query_param(as_query(query, spec.dim))
        return pgreport.explain_plan(self._conn, stmt, (*params, query_param), generic=generic)
