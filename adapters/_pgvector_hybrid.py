"""Native hybrid search in PostgreSQL: a ``tsvector`` column beside the vectors, and one SQL
statement that runs the full-text and the vector search and fuses them.

The text (``CollectionSpec.full_text``, say ``text``) is a ``text`` column written by the same
COPY as the vectors; ``<text>_tsv`` is ``tsvector GENERATED ALWAYS AS (to_tsvector(config,
text)) STORED`` (``config``: the text search configuration, ``english`` by default:
stemmed, stopwords out), with a GIN index built in ``wait_ready`` after the bulk load.

The statement (``hybrid_statement``): the query text becomes an OR of its lexemes (the
lexemes ``to_tsvector`` gives it, each quoted, joined by ``|``; ``plainto_tsquery`` would AND
them and match almost nothing for a sentence-long query); the vector side is the usual
``ORDER BY embedding <op> q LIMIT n``, the text side the rows matching the query ordered by
``ts_rank_cd`` (cover density: PostgreSQL has no BM25 and no IDF in its ranking), each cut
to ``n`` (= k) candidates; then, in the same statement,

- ``rrf``: ``1 / (rrf_k + rank)`` summed over the two lists (FULL JOIN on id);
- ``weighted``: ``alpha * minmax(-distance) + (1 - alpha) * minmax(ts_rank_cd)``, min-max
  over each list's own candidates (all equal -> 1), a row absent from a list scoring 0 there:
  the client's ``weighted_fusion`` (``vecbench.rag.fusion``) run by the server.

Ties go to the smaller id. Every value (the vector, the text, k, rrf_k, alpha) is a bound
parameter; identifiers are composed with ``sql.Identifier``.
"""

from __future__ import annotations

from typing import Any

TS_CONFIG = "english"
METHODS = {
    "rrf": "one SQL statement: vector ORDER BY <op> LIMIT k and tsvector @@ OR-query by ts_rank_cd "
    "LIMIT k, reciprocal-rank fused (FULL JOIN on id)",
    "weighted": "one SQL statement: vector ORDER BY <op> LIMIT k and tsvector @@ OR-query by ts_rank_cd "
    "LIMIT k, min-max normalised per list, alpha-weighted sum (FULL JOIN on id)",
}


def tsv_column(full_text: str) -> str:
    return f"{full_text}_tsv"


def text_column_definitions(sql: Any, full_text: str, ts_config: str = TS_CONFIG) -> Any:
    """``, "text" text NOT NULL, "text_tsv" tsvector GENERATED ALWAYS AS (...) STORED``."""
    return sql.SQL(
        ", {text} text NOT NULL, {tsv} tsvector GENERATED ALWAYS AS (to_tsvector({cfg}::regconfig, {text})) STORED"
    ).format(
        text=sql.Identifier(full_text), tsv=sql.Identifier(tsv_column(full_text)), cfg=sql.Literal(ts_config)
    )


def create_text_index(conn: Any, sql: Any, table: Any, table_name: str, full_text: str) -> None:
    """The GIN index of the tsvector column (IF NOT EXISTS: a second wait_ready is a no-op)."""
    conn.execute(
        sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} USING gin ({})").format(
            sql.Identifier(f"{table_name[:48]}_tsv_idx"), table, sql.Identifier(tsv_column(full_text))
        )
    )


def _candidates(sql: Any, table: Any, op: str, full_text: str, ts_config: str) -> Any:
    """The two ranked candidate lists, ``dense(id, s, r)`` and ``sparse(id, s, r)``: s the
    list's score (higher is better), r its rank from 1. Parameters: text, vector, n, n."""
    tsv = sql.Identifier(tsv_column(full_text))
    return sql.SQL(
        "WITH q AS (SELECT to_tsquery('simple', coalesce(("
        "SELECT string_agg(quote_literal(lx), ' | ') "
        "FROM unnest(tsvector_to_array(to_tsvector({cfg}::regconfig, %s))) AS lx), '')) AS tsq), "
        "dense AS (SELECT id, s, row_number() OVER (ORDER BY s DESC, id) AS r FROM ("
        "SELECT id, -(embedding {op} %s) AS s FROM {t} ORDER BY embedding {op} %s LIMIT %s) AS d), "
        "sparse AS (SELECT id, s, row_number() OVER (ORDER BY s DESC, id) AS r FROM ("
        "SELECT t.id, ts_rank_cd(t.{tsv}, q.tsq) AS s FROM {t} AS t, q WHERE t.{tsv} @@ q.tsq "
        "ORDER BY s DESC, t.id LIMIT %s) AS sp)"
    ).format(cfg=sql.Literal(ts_config), op=sql.SQL(op), t=table, tsv=tsv)


def hybrid_statement(
    sql: Any,
    table: Any,
    op: str,
    full_text: str,
    fusion: str,
    ts_config: str = TS_CONFIG,
) -> Any:
    """The fused search; parameters in order: text, vector, vector, n, n, then ``rrf_k,
    rrf_k`` (rrf) or ``alpha, alpha`` (weighted), then k (``hybrid_params``)."""
    head = _candidates(sql, table, op, full_text, ts_config)
    if fusion == "rrf":
        body = sql.SQL(
            ", fused AS (SELECT coalesce(d.id, s.id) AS id, "
            "coalesce(1.0 / (%s + d.r), 0) + coalesce(1.0 / (%s + s.r), 0) AS score "
            "FROM dense AS d FULL JOIN sparse AS s ON d.id = s.id) "
        )
    else:
        body = sql.SQL(
            ", dn AS (SELECT id, CASE WHEN max(s) OVER () = min(s) OVER () THEN 1.0 "
            "ELSE (s - min(s) OVER ()) / (max(s) OVER () - min(s) OVER ()) END AS x FROM dense), "
            "sn AS (SELECT id, CASE WHEN max(s) OVER () = min(s) OVER () THEN 1.0 "
            "ELSE (s - min(s) OVER ()) / (max(s) OVER () - min(s) OVER ()) END AS x FROM sparse), "
            "fused AS (SELECT coalesce(d.id, s.id) AS id, "
            "%s * coalesce(d.x, 0) + (1 - %s) * coalesce(s.x, 0) AS score "
            "FROM dn AS d FULL JOIN sn AS s ON d.id = s.id) "
        )
    return sql.Composed([head, body, sql.SQL("SELECT id FROM fused ORDER BY score DESC, id LIMIT %s")])


def hybrid_params(
    vector: Any, text: str, k: int, fusion: str, alpha: float | None, rrf_k: int
) -> tuple[Any, ...]:
    """The bound parameters of ``hybrid_statement``, in order."""
    weight = (rrf_k, rrf_k) if fusion == "rrf" else (float(alpha or 0.0), float(alpha or 0.0))
    return (text, vector, vector, k, k, *weight, k)
