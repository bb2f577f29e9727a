"""PostgreSQL + pgvector: exact scan (``flat``), ``hnsw`` and ``ivfflat``, for every metric.

``psycopg`` (and ``pgvector.psycopg``) are imported in ``__enter__``, never at module import.

One collection is one table ``"<schema>"."<name>" (id bigint PRIMARY KEY, embedding
vector(dim))`` (``halfvec(dim)`` with ``{"halfvec": True}``). Every identifier goes through
``psycopg.sql.Identifier`` and is also checked against ``[A-Za-z0-9_]`` before any SQL runs;
every value (vectors, ids, settings) is a bound parameter.

Metrics map to pgvector operators and operator classes (``halfvec_*`` in halfvec mode):
euclidean -> ``<->`` / ``vector_l2_ops``; cosine -> ``<=>`` / ``vector_cosine_ops``;
ip -> ``<#>`` / ``vector_ip_ops`` (``<#>`` is the *negative* inner product, so ascending
order is largest inner product first).

Where time lands (the harness times upsert as ingest and wait_ready as build):

- ``upsert``: one binary ``COPY ... FROM STDIN (FORMAT BINARY)`` per call, the COPY stream
  encoded in one go with numpy (no per-row Python work but a join where keyword columns are). It is optimistic: rows are copied
  straight into the table; if an id is already there the COPY fails on the primary key
  (nothing is kept) and the batch is copied again into a temporary staging table and merged
  with ``INSERT ... SELECT ... ON CONFLICT (id) DO UPDATE``. A benchmark load (fresh ids)
  therefore pays for plain COPY only; replacing ids costs a second pass over that batch.
- ``wait_ready``: builds the ``hnsw``/``ivfflat`` index over the loaded rows (the first time
  it finds rows; an ``ivfflat`` index built on no rows would have meaningless lists), with
  ``maintenance_work_mem`` and ``max_parallel_maintenance_workers`` from the config set just
  before ``CREATE INDEX``, then runs ``ANALYZE``. Rows upserted after the index exists are
  indexed by PostgreSQL on insert. ``timeout_s`` becomes the ``statement_timeout`` of the
  build; running past it raises NotReadyError.
- ``search``: ``SELECT id FROM t ORDER BY embedding <op> $1 LIMIT k``, the query a binary
  parameter, prepared on the server. As FAISS does, hnsw searches with
  ``ef_search = max(ef_search, k)`` (pgvector returns at most ef_search rows otherwise).
  ``search_batch`` sends all queries in one pipeline (one network round trip).

Filtered search (``search_filtered``): declared attributes are ``bigint`` / ``text`` columns
of the table, COPYed with the vectors, with a B-tree index each (built in ``wait_ready``); a
filter is a ``WHERE`` clause with bound parameters, planned per execution; hnsw and ivfflat
take pgvector 0.8's iterative index scans as search parameters (``iterative_scan``,
``max_scan_tuples``, ``scan_mem_multiplier``; ``iterative_scan``, ``max_probes``), refused
on an older extension. See ``_pgvector_filters`` and ``_pgvector_search``.

Leaving the ``with`` block drops the table created in it, like every vecbench store.

    with PgVectorStore({"dsn": "postgresql://vecbench@127.0.0.1:15432/vecbench"}) as store:
        store.create(CollectionSpec("demo", dim=128, metric="cosine", index_type="hnsw"))
        store.upsert(ids, vectors)
        store.wait_ready()                     # CREATE INDEX ... USING hnsw, ANALYZE
        store.set_search_params({"ef_search": 100})
        store.search(query, k=10)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import ModuleType
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from vecbench.engines import ENGINES
from vecbench.errors import (
    CollectionExistsError,
    ConfigError,
    InvalidVectorError,
    NotReadyError,
    StoreError,
)
from vecbench.results.redact import redact_text
from vecbench.spec import CollectionSpec, check_identifier
from vecbench.store import FootprintStats, StoreInfo
from vecbench.util.deps import import_optional

from . import _pgvector_filters as pgf
from . import _pgvector_hybrid as pgh
from . import _pgvector_report as pgreport
from . import _pgvector_sql as pgsql
from ._base import BaseStore
from ._capabilities import (
    BatchSearchMixin,
    DeletableMixin,
    FilterableMixin,
    FootprintMixin,
    HybridSearchMixin,
    ShareableMixin,
)
from ._pgvector_search import PgVectorSearch
from ._pgvector_sql import CONNECT_TIMEOUT_S as CONNECT_TIMEOUT_S
from ._pgvector_sql import COPY_PIECE_BYTES as COPY_PIECE_BYTES
from ._pgvector_sql import MAX_DIM as MAX_DIM
from ._pgvector_sql import MAX_INDEX_DIM as MAX_INDEX_DIM
from ._pgvector_sql import SERVICE_HINT as SERVICE_HINT
from ._pgvector_sql import copy_payload

__all__ = ["PgVectorStore", "DSN_ENV", "copy_payload", "redact_dsn"]

ENGINE = ENGINES["pgvector"]
DSN_ENV = ENGINE.env_var
HALF_MAX = 65504.0  # largest finite float16


def redact_dsn(dsn: str) -> str:
    """``dsn`` with any password (URI userinfo, ``password=`` key or query parameter) as ``***``."""
    return redact_text(dsn)


class PgVectorStore(
    PgVectorSearch,
    BatchSearchMixin,
    DeletableMixin,
    FilterableMixin,
    FootprintMixin,
    ShareableMixin,
    HybridSearchMixin,
    BaseStore,
):
    """PostgreSQL with the pgvector extension. See the module docstring for the SQL it runs.

    Index types (defaults in brackets): ``flat`` (exact); ``hnsw`` m [16], ef_construction
    [64], search ef_search [40]; ``ivfflat`` lists [100], search probes [1] (pgvector's own
    defaults). Config: ``dsn`` (default ``$VECBENCH_PG_DSN``), ``schema`` ["public"],
    ``halfvec`` [False], ``maintenance_work_mem``, ``max_parallel_maintenance_workers``.

    Filterable: declared attributes are bigint / text columns with B-tree indexes, a filter
    a WHERE clause with bound parameters; hnsw and ivfflat take the iterative scan settings
    (``iterative_scan``, ``max_scan_tuples``, ``scan_mem_multiplier``, ``max_probes``) as
    search parameters (``_pgvector_filters``).

    HybridSearch: the text in a column, a generated ``tsvector`` with a GIN index, and one
    SQL statement fusing ``ts_rank_cd`` and the vector order by RRF or a weighted sum
    (``_pgvector_hybrid``).
    """

    hybrid_fusions: ClassVar[Mapping[str, str]] = pgh.METHODS

    info: ClassVar[StoreInfo] = StoreInfo(
        name="pgvector",
        engine="postgresql+pgvector",
        extra="pgvector",
        client_modules=("psycopg", "pgvector"),
        index_types=pgsql.INDEX_TYPES,
        embedded=False,
        server=ENGINE,
        description="PostgreSQL + pgvector over psycopg 3: exact scan, HNSW, IVFFlat; binary COPY ingest.",
        config_keys={
            "dsn": f"libpq URI or key=value string (default ${DSN_ENV}); a password in it is a secret",
            "schema": "schema of the collection tables (default public; created if missing)",
            "halfvec": "store embeddings as halfvec (float16) instead of vector (default False)",
            "maintenance_work_mem": "maintenance_work_mem for index builds, e.g. '512MB' (default: server's)",
            "max_parallel_maintenance_workers": "parallel workers for index builds (default: server's)",
        },
    )

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self._pg: ModuleType | None = None
        self._conn: Any = None
        self._cursor: Any = None
        self._half_vector: Any = None
        self._where = ""
        self._pgvector_version: tuple[int, ...] | None = None  # known once connected
        self._drop_old = False
        self._clear_table_state()

    def _clear_table_state(self) -> None:
        self._index_built = False
        self._build_s: float | None = None
        self._stmts: dict[int, str] = {}
        self._hybrid_stmts: dict[str, str] = {}
        self._filtered_stmts: dict[tuple[int, Any], tuple[str, list[Any]] | None] = {}
        self._session: dict[str, Any] = {}  # search GUCs as last SET on this connection
        self._ingest = {"direct_copy_batches": 0, "merged_batches": 0}

    def __repr__(self) -> str:
        cfg = dict(self._config)
        if isinstance(cfg.get("dsn"), str):
            cfg["dsn"] = redact_dsn(cfg["dsn"])
        state = "connected" if self._connected else "not connected"
        coll = f", collection={self._spec.name!r}" if self._spec is not None else ""
        return f"{type(self).__name__}({cfg!r}) [{state}{coll}]"

    # -- config and params ---------------------------------------------------------------

    def _check_config(self, config: dict[str, Any]) -> dict[str, Any]:
        return pgsql.check_config(config)

    def _check_build_params(self, spec: CollectionSpec, params: dict[str, Any]) -> dict[str, Any]:
        pgf.check_attribute_names(spec.attributes)
        return pgsql.check_build_params(spec, params, self._vector_type)

    def _check_search_params(self, params: dict[str, Any]) -> dict[str, Any]:
        # create() checks before it sets the spec: the kind is told by the params' names.
        kind = "hnsw" if "ef_search" in params else "ivfflat" if "probes" in params else "flat"
        pgf.check_iterative_params(kind, params, self._pgvector_version)
        return pgsql.check_search_params(params)

    # -- lifecycle ---------------------------------------------------------------------

    def _connect(self) -> None:
        pg = import_optional("psycopg", "pgvector")
        pgv = import_optional("pgvector.psycopg", "pgvector")
        dsn = ENGINE.address(self._config)
        if not dsn:
            raise ConfigError(f"pgvector needs a server: set config 'dsn' or ${DSN_ENV}; {SERVICE_HINT}")
        params, self._where = pgsql.parse_dsn(pg, dsn)
        conn = pgsql.connect(pg, pgv, dsn, params, self._where)
        self._pg, self._conn = pg, conn
        self._cursor = conn.cursor(binary=True)  # reused by every search
        self._pgvector_version = pgf.parse_version(
            pgsql.scalar(conn, "SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        )
        if self._config.get("halfvec", False):
            self._half_vector = import_optional("pgvector", "pgvector").HalfVector

    def _disconnect(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn, self._pg, self._cursor, self._half_vector = None, None, None, None

    def _do_create(self) -> None:
        spec = self._require_collection()
        # Names are quoted with sql.Identifier below; checking again here (CollectionSpec
        # already did) keeps a spec mutated after construction from reaching SQL at all.
        check_identifier(spec.name)
        self._clear_table_state()
        sql, schema = self._sql, self._config["schema"]
        with self._errors(f"creating table {schema}.{spec.name}"), self._conn.transaction():
            exists = pgsql.table_exists(self._conn, schema, spec.name)
            if exists and not self._drop_old:
                raise CollectionExistsError(
                    f"table {schema}.{spec.name} already exists in PostgreSQL at {self._where}; "
                    "pass drop_old=True to replace it"
                )
            if exists:
                self._conn.execute(sql.SQL("DROP TABLE {}").format(self._table))
            columns = pgf.column_definitions(sql, spec.attributes)
            if spec.full_text is not None:
                columns = sql.Composed([columns, pgh.text_column_definitions(sql, spec.full_text)])
            pgsql.create_table(self._conn, sql, self._table, schema, self._vector_type, spec.dim, columns)

    def _do_drop(self) -> None:
        try:
            if self._conn is not None and not self._conn.closed:
                with self._errors("dropping the table"):
                    self._conn.execute(self._sql.SQL("DROP TABLE IF EXISTS {}").format(self._table))
        finally:
            self._clear_table_state()

    # -- sharing -----------------------------------------------------------------------------

    def _do_share(self) -> dict[str, Any]:
        return {"schema": self._config["schema"], "vector_type": self._vector_type}

    def _do_attach(self, state: Mapping[str, Any]) -> None:
        spec = self._require_collection()
        check_identifier(spec.name)
        for key, mine in (("schema", self._config["schema"]), ("vector_type", self._vector_type)):
            if state.get(key, mine) != mine:
                raise ConfigError(
                    f"pgvector: the shared table has {key} {state[key]!r}, this store is configured "
                    f"for {mine!r}; attach with the owner's config"
                )
        self._clear_table_state()  # also forgets the search settings SET on this connection
        schema = self._config["schema"]
        with self._errors(f"attaching to table {schema}.{spec.name}"):
            if not pgsql.table_exists(self._conn, schema, spec.name):
                raise StoreError(f"table {schema}.{spec.name} does not exist in PostgreSQL at {self._where}")
            self._index_built = pgsql.index_exists(self._conn, schema, self._index_name)
        # BaseStore.attach then calls _apply_search_params: hnsw.ef_search / ivfflat.probes
        # are per connection, so they are SET on this one.

    def _do_detach(self) -> None:
        self._clear_table_state()

    # -- writes ----------------------------------------------------------------------------

    def _do_upsert(
        self,
        ids: NDArray[np.int64],
        vectors: NDArray[np.float32],
        attributes: Mapping[str, Any] | None = None,
    ) -> None:
        half = self._config.get("halfvec", False)
        if attributes:
            spec = self._require_collection()
            kinds = {**spec.attributes, **({spec.full_text: "keyword"} if spec.full_text else {})}
            pgf.check_keyword_values(attributes, kinds)
        if half and float(np.abs(vectors).max()) > HALF_MAX:
            raise InvalidVectorError(
                f"halfvec holds values up to {HALF_MAX:g} in magnitude; vectors exceed it"
            )
        with self._errors(f"upsert of {ids.shape[0]} vectors"):
            self._copy_or_merge(ids, vectors, half, attributes)

    def _copy_or_merge(
        self, ids: NDArray[np.int64], vectors: NDArray[np.float32], half: bool, columns: Any
    ) -> None:
        try:
            pgsql.copy_rows(self._conn, self._sql, self._table, ids, vectors, half, columns)
            self._ingest["direct_copy_batches"] += 1
            return
        except self._client.errors.UniqueViolation:
            pass  # some ids are present already: merge this batch instead (rolled back above)
        pgsql.merge_rows(self._conn, self._sql, self._table, ids, vectors, half, columns)
        self._ingest["merged_batches"] += 1

    def _do_delete(self, ids: NDArray[np.int64]) -> None:
        with self._errors("delete"):
            self._conn.execute(
                self._sql.SQL("DELETE FROM {} WHERE id = ANY(%s::bigint[])").format(self._table),
                (ids.tolist(),),
            )

    # -- build -----------------------------------------------------------------------------

    def _do_wait_ready(self, timeout_s: float) -> None:
        if not self._attached:  # an attached store never builds on (or analyzes) the owner's table
            with self._errors("wait_ready"):
                self._build_and_analyze(timeout_s)
        self._apply_search_params()

    def _build_and_analyze(self, timeout_s: float) -> None:
        spec = self._require_collection()
        kind = spec.index_type
        conn, sql = self._conn, self._sql
        with pgsql.statement_timeout(conn, timeout_s):
            try:
                if not self._index_built:
                    if pgsql.scalar(conn, sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(self._table)):
                        # B-trees on the attribute columns after the bulk load, like the vector index
                        pgf.create_attribute_indexes(conn, sql, self._table, spec.name, spec.attributes)
                        if spec.full_text is not None:
                            pgh.create_text_index(conn, sql, self._table, spec.name, spec.full_text)
                        if kind != "flat":
                            self._build_index(kind)
                conn.execute(sql.SQL("ANALYZE {}").format(self._table))
            except self._client.errors.QueryCanceled as exc:
                raise NotReadyError(
                    f"pgvector {kind} index on {self._spec_name} not ready within {timeout_s:g} s (statement_timeout)"
                ) from exc

    def _build_index(self, kind: str) -> None:
        self._build_s = pgsql.create_index(
            self._conn,
            self._sql,
            index_name=self._index_name,
            table=self._table,
            kind=kind,
            opclass=self._opclass,
            options=self._build_params,
            config=self._config,
        )
        self._index_built = True

    # -- errors ----------------------------------------------------------------------------

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """psycopg errors as StoreError naming the operation and the server (typed errors pass)."""
        try:
            yield
        except self._client.Error as exc:
            raise StoreError(
                f"pgvector {what} failed on {self._where}: {' '.join(str(exc).split())}"
            ) from exc

    # -- reporting -------------------------------------------------------------------------

    def _do_footprint(self) -> FootprintStats:
        with self._errors("footprint"):
            total, _, _ = self._sizes()
        return FootprintStats(
            memory_bytes=None, disk_bytes=total, method="pg_total_relation_size / pg_relation_size"
        )

    def _sizes(self) -> tuple[int, int, int | None]:
        """Table with all its indexes and TOAST, heap alone, and the vector index (None if unbuilt)."""
        sizes = pgreport.relation_sizes(self._conn, self._config["schema"], self._spec_name, self._index_name)
        if sizes is None:
            raise StoreError(f"table {self._config['schema']}.{self._spec_name} is gone from {self._where}")
        return sizes

    def _do_describe(self) -> dict[str, Any]:
        with self._errors("describe"):
            return self._describe()

    def _describe(self) -> dict[str, Any]:
        spec = self._require_collection()
        op, _ = pgsql.OPS[spec.metric]
        known = {
            "pgvector_version": ".".join(map(str, self._pgvector_version or ())),
            "client_version": self._client.__version__,
            "server": self._where,
            "table": f"{self._config['schema']}.{spec.name}",
            "vector_type": self._vector_type,
            "metric_mapping": {"operator": op, "opclass": self._opclass},
            "index_build_s": self._build_s,
            "ingest": dict(
                self._ingest, method="binary COPY; merge via staging + ON CONFLICT when ids exist"
            ),
        }
        where = (self._conn, self._sql, self._table, self._config["schema"])
        return pgreport.describe(where, spec, self._index_name, self._sizes(), known)

    # -- small accessors -------------------------------------------------------------------

    @property
    def _client(self) -> ModuleType:
        if self._pg is None:
            raise StoreError("pgvector store is not connected; use it as a context manager (with ...)")
        return self._pg

    @property
    def _sql(self) -> Any:
        return self._client.sql

    @property
    def _vector_type(self) -> str:
        return "halfvec" if self._config.get("halfvec", False) else "vector"

    @property
    def _opclass(self) -> str:
        return f"{self._vector_type}_{pgsql.OPS[self._require_collection().metric][1]}"

    @property
    def _spec_name(self) -> str:
        return self._require_collection().name

    @property
    def _table(self) -> Any:
        return self._sql.Identifier(self._config["schema"], self._spec_name)

    @property
    def _index_name(self) -> str:
        return f"{self._spec_name[:55]}_vec_idx"
