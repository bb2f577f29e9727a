"""The SQL ``pgvector.py`` runs, the binary COPY stream it sends, its config checks.

Functions take the psycopg module, the open connection or ``psycopg.sql`` as arguments
(imported by the store on connect, never here). Identifiers are composed with
``sql.Identifier`` and every value is a bound parameter; ``k``, the index options and the
vector dim are validated ints rendered with ``sql.Literal``.

COPY (``copy_payload``): ``COPY ... FROM STDIN (FORMAT BINARY)`` of ``(id bigint, embedding
vector|halfvec, <int attributes> bigint, <keyword attributes> text)`` rows, encoded with
numpy in one go: a structured array per piece whose bytes are the fixed-width part of the
rows (field count, length-prefixed big-endian id, length-prefixed pgvector binary value,
length-prefixed bigints), between the PGCOPY header and trailer. Keyword (text) fields have
a length per row: each distinct value is encoded once and the rows are joined after their
fixed part (one slice per row and text column).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vecbench.engines import ENGINES
from vecbench.errors import ConfigError, InvalidParameterError, StoreError
from vecbench.metrics import Metric
from vecbench.results.redact import redact_text
from vecbench.spec import CollectionSpec, IndexType, check_identifier

from ._base import check_int_param

# Rows per piece of the COPY stream handed to psycopg (the stream itself is one COPY).
COPY_PIECE_BYTES = 8 << 20
# pgvector limits: column dims, and dims an hnsw/ivfflat index accepts per type.
MAX_DIM = 16000
MAX_INDEX_DIM = {"vector": 2000, "halfvec": 4000}
MAX_EF_SEARCH = 1000
CONNECT_TIMEOUT_S = 10
ENGINE = ENGINES["pgvector"]
SERVICE_HINT = f"start one with {ENGINE.start_hint} (it prints {ENGINE.env_var})"

INDEX_TYPES = {
    "flat": IndexType(
        "flat", exact=True, description="no index: exact sequential scan with ORDER BY ... LIMIT"
    ),
    "hnsw": IndexType(
        "hnsw",
        build={"m": 16, "ef_construction": 64},
        search={
            "ef_search": 40,
            "iterative_scan": "off",
            "max_scan_tuples": None,
            "scan_mem_multiplier": None,
        },
        description="pgvector HNSW (built in wait_ready); search sets hnsw.ef_search, and for filters "
        "hnsw.iterative_scan (off, relaxed_order, strict_order), hnsw.max_scan_tuples and "
        "hnsw.scan_mem_multiplier (None: the server's; pgvector >= 0.8)",
    ),
    "ivfflat": IndexType(
        "ivfflat",
        build={"lists": 100},
        search={"probes": 1, "iterative_scan": "off", "max_probes": None},
        description="pgvector IVFFlat (k-means lists built in wait_ready); search sets ivfflat.probes, and "
        "for filters ivfflat.iterative_scan (off, relaxed_order) and ivfflat.max_probes (pgvector >= 0.8)",
    ),
}

# metric -> (operator, operator-class suffix)
OPS = {
    Metric.EUCLIDEAN: ("<->", "l2_ops"),
    Metric.COSINE: ("<=>", "cosine_ops"),
    Metric.IP: ("<#>", "ip_ops"),
}
SEARCH_GUC = {"hnsw": ("ef_search", "hnsw.ef_search"), "ivfflat": ("probes", "ivfflat.probes")}
_MEM = re.compile(r"^\s*\d+\s*(kB|MB|GB|TB)?\s*$")
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
_COPY_TRAILER = b"\xff\xff"
_STAGE_TABLE = "vecbench_upsert_stage"

# -- connection ------------------------------------------------------------------------------


def parse_dsn(pg: Any, dsn: str) -> tuple[dict[str, Any], str]:
    """The libpq parameters of ``dsn``, and ``host:port`` for messages (PGHOST, PGPORT, defaults)."""
    try:
        params = pg.conninfo.conninfo_to_dict(dsn)
    except pg.Error:
        raise ConfigError(
            f"pgvector dsn {redact_text(dsn)!r} is not a valid libpq URI or key=value string"
        ) from None
    host = params.get("host") or params.get("hostaddr") or os.environ.get("PGHOST") or "localhost"
    port = params.get("port") or os.environ.get("PGPORT") or str(ENGINE.client_port)
    return params, f"{host}:{port}"


def connect(pg: Any, pgv: Any, dsn: str, params: Mapping[str, Any], where: str) -> Any:
    """An autocommit connection with the vector extension (created if missing) and pgvector's types."""
    password = str(params.get("password") or "")
    extra = {} if "connect_timeout" in params else {"connect_timeout": CONNECT_TIMEOUT_S}
    try:
        conn = pg.connect(dsn, autocommit=True, **extra)
    except pg.Error as exc:
        detail = " ".join(str(exc).split())
        if password:
            detail = detail.replace(password, "***")
        # from None: the original error can carry the connection string.
        raise StoreError(
            f"cannot connect to PostgreSQL at {where} (database {params.get('dbname', '?')!r}): "
            f"{detail}; is the server running and are the credentials right? {SERVICE_HINT}"
        ) from None
    try:
        _ensure_extension(pg, conn, where)
        pgv.register_vector(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def _ensure_extension(pg: Any, conn: Any, where: str) -> None:
    if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone():
        return
    try:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    except pg.Error as exc:
        raise StoreError(
            f"the pgvector extension is not installed in database {conn.info.dbname!r} at {where} "
            f"and could not be created ({' '.join(str(exc).split())}); run CREATE EXTENSION vector "
            f"as a superuser, or {SERVICE_HINT}"
        ) from None


# -- config and params ---------------------------------------------------------------------


def check_config(config: dict[str, Any]) -> dict[str, Any]:
    """The store config checked and normalized (schema name, maintenance_work_mem)."""
    if "dsn" in config and not (isinstance(config["dsn"], str) and config["dsn"].strip()):
        raise ConfigError("pgvector dsn must be a non-empty string")
    config["schema"] = check_identifier(config.get("schema", "public"), "schema name")
    if not isinstance(config.get("halfvec", False), bool):
        raise ConfigError(f"pgvector halfvec must be true or false, got {config['halfvec']!r}")
    mem = config.get("maintenance_work_mem")
    if mem is not None:
        if isinstance(mem, bool) or not isinstance(mem, (str, int)) or not _MEM.match(str(mem)):
            raise ConfigError(f"maintenance_work_mem must look like '512MB' (kB, MB, GB, TB), got {mem!r}")
        config["maintenance_work_mem"] = str(mem).replace(" ", "")
    if config.get("max_parallel_maintenance_workers") is not None:
        check_int_param(
            "max_parallel_maintenance_workers", config["max_parallel_maintenance_workers"], minimum=0
        )
    return config


def check_build_params(spec: CollectionSpec, params: dict[str, Any], vector_type: str) -> dict[str, Any]:
    """Dims against pgvector's column and index limits; the hnsw / ivfflat options."""
    if spec.dim > MAX_DIM:
        raise InvalidParameterError(f"pgvector columns hold at most {MAX_DIM} dimensions, got {spec.dim}")
    if spec.index_type != "flat" and spec.dim > MAX_INDEX_DIM[vector_type]:
        raise InvalidParameterError(
            f"pgvector {spec.index_type} indexes {vector_type} of at most "
            f"{MAX_INDEX_DIM[vector_type]} dimensions, got {spec.dim}"
            + ("; try config halfvec=true" if vector_type == "vector" and spec.dim <= 4000 else "")
        )
    if spec.index_type == "hnsw":
        m = check_int_param("m", params["m"], minimum=2, maximum=100)
        check_int_param("ef_construction", params["ef_construction"], minimum=max(4, 2 * m), maximum=1000)
    elif spec.index_type == "ivfflat":
        check_int_param("lists", params["lists"], minimum=1, maximum=32768)
    return params


def check_search_params(params: dict[str, Any]) -> dict[str, Any]:
    if "ef_search" in params:
        check_int_param("ef_search", params["ef_search"], minimum=1, maximum=MAX_EF_SEARCH)
    if "probes" in params:
        check_int_param("probes", params["probes"], minimum=1)
    return params


# -- binary COPY ---------------------------------------------------------------------------


def _copy_dtype(dim: int, half: bool, n_ints: int = 0) -> np.dtype:
    # One binary COPY tuple: field count, then (length, value) for id and embedding; the
    # vector/halfvec binary value is uint16 dim, uint16 unused, then big-endian elements;
    # then (length, value) per bigint attribute.
    return np.dtype(
        [
            ("nfields", ">i2"),
            ("id_len", ">i4"),
            ("id", ">i8"),
            ("vec_len", ">i4"),
            ("dim", ">u2"),
            ("unused", ">u2"),
            ("vec", ">f2" if half else ">f4", (dim,)),
        ]
        + [item for j in range(n_ints) for item in ((f"a{j}_len", ">i4"), (f"a{j}", ">i8"))]
    )


def _text_fields(column: NDArray[Any]) -> list[bytes]:
    """Each row's binary COPY text field (length, UTF-8 bytes), encoded once per distinct value."""
    uniq, inverse = np.unique(np.asarray(column, dtype=str), return_inverse=True)
    encoded = [str(u).encode("utf-8") for u in uniq]
    fields = [len(e).to_bytes(4, "big") + e for e in encoded]
    return [fields[i] for i in inverse.reshape(-1).tolist()]


def copy_payload(
    ids: NDArray[np.int64],
    vectors: NDArray[np.float32],
    *,
    half: bool = False,
    piece_bytes: int = COPY_PIECE_BYTES,
    ints: Sequence[NDArray[np.int64]] = (),
    texts: Sequence[NDArray[Any]] = (),
) -> Iterator[bytes]:
    """The PostgreSQL binary COPY stream of ``(id bigint, embedding vector|halfvec, *ints
    bigint, *texts text)`` rows, in pieces.

    Header first, trailer last; each piece holds whole rows. The fixed-width part is encoded
    with numpy, so its cost is a few memory passes, not a Python call per row; text columns
    add one join per row.
    """
    n, dim = vectors.shape
    dt = _copy_dtype(dim, half, len(ints))
    rows_per_piece = max(1, piece_bytes // dt.itemsize)
    yield _COPY_HEADER
    for start in range(0, n, rows_per_piece):
        stop = min(n, start + rows_per_piece)
        rec = np.empty(stop - start, dtype=dt)
        rec["nfields"] = 2 + len(ints) + len(texts)
        rec["id_len"] = 8
        rec["id"] = ids[start:stop]
        rec["vec_len"] = 4 + dt["vec"].itemsize
        rec["dim"] = dim
        rec["unused"] = 0
        rec["vec"] = vectors[start:stop]
        for j, col in enumerate(ints):
            rec[f"a{j}_len"] = 8
            rec[f"a{j}"] = col[start:stop]
        if not texts:
            yield rec.tobytes()
            continue
        fixed, size = memoryview(rec.tobytes()), dt.itemsize
        heads = [fixed[i * size : (i + 1) * size] for i in range(stop - start)]
        tails = [_text_fields(col[start:stop]) for col in texts]
        yield b"".join(part for row in zip(heads, *tails, strict=True) for part in row)
    yield _COPY_TRAILER


def _split_columns(
    columns: Mapping[str, NDArray[Any]],
) -> tuple[list[str], list[NDArray[np.int64]], list[NDArray[Any]]]:
    """Attribute columns in COPY order (bigint ones, then text ones), by their dtype."""
    ints = [(a, c) for a, c in columns.items() if c.dtype != object]
    texts = [(a, c) for a, c in columns.items() if c.dtype == object]
    return [a for a, _ in ints + texts], [c for _, c in ints], [c for _, c in texts]


def copy_rows(
    conn: Any,
    sql: Any,
    table: Any,
    ids: NDArray[np.int64],
    vectors: NDArray[np.float32],
    half: bool,
    columns: Mapping[str, NDArray[Any]] | None = None,
) -> None:
    """Binary COPY straight into ``table``, in one transaction (an id already there fails it
    whole); ``columns``: the attribute columns (int64 or str objects) by name."""
    names, ints, texts = _split_columns(columns or {})
    with conn.transaction(), conn.cursor() as cur:
        with cur.copy(_copy_into(sql, table, names)) as copy:
            for piece in copy_payload(ids, vectors, half=half, ints=ints, texts=texts):
                copy.write(piece)


def merge_rows(
    conn: Any,
    sql: Any,
    table: Any,
    ids: NDArray[np.int64],
    vectors: NDArray[np.float32],
    half: bool,
    columns: Mapping[str, NDArray[Any]] | None = None,
) -> None:
    """COPY into a temporary staging table, then ``INSERT ... ON CONFLICT (id) DO UPDATE``."""
    names, ints, texts = _split_columns(columns or {})
    stage = sql.Identifier(_STAGE_TABLE)
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in ["id", "embedding", *names])
    updates = sql.SQL(", ").join(
        sql.SQL("{} = EXCLUDED.{}").format(sql.Identifier(c), sql.Identifier(c))
        for c in ["embedding", *names]
    )
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(
            sql.SQL("CREATE TEMP TABLE {} (LIKE {} INCLUDING DEFAULTS) ON COMMIT DROP").format(stage, table)
        )
        with cur.copy(_copy_into(sql, stage, names)) as copy:
            for piece in copy_payload(ids, vectors, half=half, ints=ints, texts=texts):
                copy.write(piece)
        cur.execute(
            sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ON CONFLICT (id) DO UPDATE SET {}").format(
                table, cols, cols, stage, updates
            )
        )


def _copy_into(sql: Any, table: Any, names: Sequence[str] = ()) -> Any:
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in ["id", "embedding", *names])
    return sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT BINARY)").format(table, cols)


# -- tables, indexes, statements -------------------------------------------------------------


def table_exists(conn: Any, schema: str, name: str) -> bool:
    return bool(
        conn.execute(
            "SELECT 1 FROM pg_tables WHERE schemaname = %s AND tablename = %s", (schema, name)
        ).fetchone()
    )


def index_exists(conn: Any, schema: str, index_name: str) -> bool:
    return bool(
        conn.execute(
            "SELECT 1 FROM pg_indexes WHERE schemaname = %s AND indexname = %s", (schema, index_name)
        ).fetchone()
    )


def create_table(
    conn: Any, sql: Any, table: Any, schema: str, vector_type: str, dim: int, attributes: Any = None
) -> None:
    """``CREATE TABLE (id bigint PRIMARY KEY, embedding vector(dim)[, attribute columns])``
    (``attributes``: their definitions, ``_pgvector_filters.column_definitions``), and its
    schema if missing."""
    if not conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone():
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    conn.execute(
        sql.SQL("CREATE TABLE {} (id bigint PRIMARY KEY, embedding {}({}){})").format(
            table,
            sql.SQL(vector_type),
            sql.Literal(dim),
            attributes if attributes is not None else sql.SQL(""),
        )
    )


@contextmanager
def statement_timeout(conn: Any, timeout_s: float) -> Iterator[None]:
    """``statement_timeout`` set to ``timeout_s`` on ``conn`` inside the block, and back to none after it."""
    conn.execute("SELECT set_config('statement_timeout', %s, false)", (f"{max(1, int(timeout_s * 1000))}ms",))
    try:
        yield
    finally:
        conn.execute("SELECT set_config('statement_timeout', '0', false)")


def create_index(
    conn: Any,
    sql: Any,
    *,
    index_name: str,
    table: Any,
    kind: str,
    opclass: str,
    options: Mapping[str, Any],
    config: Mapping[str, Any],
) -> float:
    """``CREATE INDEX ... USING kind (embedding opclass) WITH (options)``; seconds it took.

    The config's maintenance_work_mem and max_parallel_maintenance_workers are set first.
    """
    for guc in ("maintenance_work_mem", "max_parallel_maintenance_workers"):
        if config.get(guc) is not None:
            conn.execute("SELECT set_config(%s, %s, false)", (guc, str(config[guc])))
    with_options = sql.SQL(", ").join(
        sql.SQL("{} = {}").format(sql.Identifier(k), sql.Literal(int(v))) for k, v in options.items()
    )
    t0 = time.perf_counter()
    conn.execute(
        sql.SQL("CREATE INDEX {} ON {} USING {} (embedding {}) WITH ({})").format(
            sql.Identifier(index_name), table, sql.SQL(kind), sql.SQL(opclass), with_options
        )
    )
    return time.perf_counter() - t0


def search_statement(conn: Any, sql: Any, table: Any, op: str, k: int) -> str:
    """``SELECT id FROM t ORDER BY embedding <op> %b LIMIT k`` as text for ``conn``."""
    # k is a validated int rendered as a literal: a LIMIT parameter would let a generic
    # plan guess the row count, and the statement is prepared once per k anyway.
    return str(
        sql.SQL("SELECT id FROM {} ORDER BY embedding {} %b LIMIT {}")
        .format(table, sql.SQL(op), sql.Literal(k))
        .as_string(conn)
    )


def scalar(conn: Any, query: Any, params: Any = None) -> Any:
    """The first column of the first row of ``query``."""
    return conn.execute(query, params).fetchone()[0]
