"""PgVectorStore against a real PostgreSQL + pgvector (``VECBENCH_PG_DSN``, e.g. from
``vecbench services up pgvector``): the planner uses the index, identifiers cannot inject,
bad credentials keep the password out of errors, halfvec works, search knobs move recall,
upserts replace, build timeouts raise NotReadyError."""

from __future__ import annotations

import os
import pickle
import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from vecbench.adapters.pgvector import DSN_ENV, PgVectorStore
from vecbench.errors import CollectionExistsError, ConfigError, NotReadyError, StoreError
from vecbench.measures.quality import recall_at_k
from vecbench.metrics import Metric, distances_to
from vecbench.spec import CollectionSpec

pytestmark = pytest.mark.slow

DSN = os.environ.get(DSN_ENV, "")
if not DSN:
    pytest.skip(f"set {DSN_ENV} (e.g. `vecbench services up pgvector`)", allow_module_level=True)
psycopg = pytest.importorskip("psycopg")
pytest.importorskip("pgvector")

INJECTION = 'x"; DROP TABLE t; --'
DIM = 32
K = 10


def _clustered(n: int, nq: int, seed: int = 0, clusters: int = 20) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=3.0, size=(clusters, DIM))

    def draw(m: int) -> np.ndarray:
        return (centers[rng.integers(0, clusters, size=m)] + rng.normal(size=(m, DIM))).astype(np.float32)

    return draw(n), draw(nq)


BASE, QUERIES = _clustered(5000, 40)
IDS = np.arange(BASE.shape[0], dtype=np.int64) * 7 + 3  # not row numbers


def _truth(metric: Metric, k: int = K) -> np.ndarray:
    return np.stack([IDS[np.argsort(distances_to(q, BASE, metric), kind="stable")[:k]] for q in QUERIES])


@pytest.fixture
def raw() -> Iterator[Any]:
    """A plain psycopg connection to inspect what the store did."""
    with psycopg.connect(DSN, autocommit=True) as conn:
        yield conn


def _table_exists(conn: Any, name: str, schema: str = "public") -> bool:
    return bool(
        conn.execute(
            "SELECT 1 FROM pg_tables WHERE schemaname = %s AND tablename = %s", (schema, name)
        ).fetchone()
    )


def _loaded(store: PgVectorStore, name: str, metric: str, index_type: str, **params: Any) -> PgVectorStore:
    store.create(CollectionSpec(name, DIM, metric, index_type, params), drop_old=True)
    for chunk in np.array_split(np.arange(BASE.shape[0]), 3):
        store.upsert(IDS[chunk], BASE[chunk])
    store.wait_ready(timeout_s=120)
    return store


def _index_scans(plan: dict[str, Any]) -> list[dict[str, Any]]:
    found = [plan] if plan.get("Node Type") in ("Index Scan", "Index Only Scan") else []
    for child in plan.get("Plans", []):
        found += _index_scans(child)
    return found


# -- the planner uses the vector index -------------------------------------------------------


@pytest.mark.parametrize("halfvec", [False, True], ids=["vector", "halfvec"])
@pytest.mark.parametrize("metric", ["euclidean", "cosine", "ip"])
@pytest.mark.parametrize("index_type", ["hnsw", "ivfflat"])
def test_explain_uses_the_vector_index(index_type: str, metric: str, halfvec: bool, raw: Any) -> None:
    params = {"lists": 20} if index_type == "ivfflat" else {}
    with PgVectorStore({"dsn": DSN, "halfvec": halfvec}) as store:
        _loaded(store, "vb_it_explain", metric, index_type, **params)
        index_name = "vb_it_explain_vec_idx"
        plan = store.explain(QUERIES[0], K)
        assert plan["Node Type"] == "Limit"
        scans = _index_scans(plan)
        assert [s["Index Name"] for s in scans] == [index_name], plan
        assert scans[0]["Node Type"] == "Index Scan" and "Order By" in scans[0]
        # The statement search() runs is prepared; after more than 5 executions PostgreSQL may
        # switch to a generic plan, which must use the index as well.
        for q in QUERIES[:8]:
            store.search(q, K)
        generic = store.explain(None, K, generic=True)
        assert [s["Index Name"] for s in _index_scans(generic)] == [index_name], generic
        prepared = store._conn.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            ("%ORDER BY embedding%LIMIT 10%",),
        ).fetchone()[0]
        assert prepared == 1
        am = raw.execute(
            "SELECT am.amname, opc.opcname FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid "
            "JOIN pg_am am ON am.oid = c.relam JOIN pg_opclass opc ON opc.oid = x.indclass[0] "
            "WHERE c.relname = %s",
            (index_name,),
        ).fetchone()
        vector_type = "halfvec" if halfvec else "vector"
        op = {"euclidean": "l2", "cosine": "cosine", "ip": "ip"}[metric]
        assert am == (index_type, f"{vector_type}_{op}_ops")
        info = store.describe()
        assert info["index_built"]["type"] == index_type
        assert info["metric_mapping"]["opclass"] == f"{vector_type}_{op}_ops"


def test_flat_is_an_exact_scan_without_index() -> None:
    with PgVectorStore({"dsn": DSN}) as store:
        _loaded(store, "vb_it_flat", "euclidean", "flat")
        plan = store.explain(QUERIES[0], K)
        assert not _index_scans(plan), plan
        assert store.describe()["index_built"] is None
        assert recall_at_k(store.search_batch(QUERIES, K), _truth(Metric.EUCLIDEAN), K).mean() == 1.0


# -- identifiers ---------------------------------------------------------------------------------


def test_injection_strings_are_refused_before_sql(raw: Any) -> None:
    raw.execute("CREATE TABLE IF NOT EXISTS t (x int)")
    try:
        with pytest.raises(ConfigError):
            CollectionSpec(INJECTION, dim=DIM)
        with pytest.raises(ConfigError):
            PgVectorStore({"dsn": DSN, "schema": INJECTION})
        with PgVectorStore({"dsn": DSN}) as store:
            spec = CollectionSpec("vb_it_ok", DIM)
            object.__setattr__(spec, "name", INJECTION)  # smuggled past CollectionSpec
            with pytest.raises(ConfigError):
                store.create(spec)
            assert store.spec is None
        assert _table_exists(raw, "t")
        weird = raw.execute("SELECT count(*) FROM pg_tables WHERE tablename ~ '[^A-Za-z0-9_]'").fetchone()[0]
        assert weird == 0
    finally:
        raw.execute("DROP TABLE IF EXISTS t")


def test_custom_schema_is_created_and_quoted(raw: Any) -> None:
    with PgVectorStore({"dsn": DSN, "schema": "VbItSchema"}) as store:
        store.create(CollectionSpec("MixedCase", DIM, "cosine", "hnsw"))
        store.upsert(IDS[:100], BASE[:100])
        store.wait_ready(30)
        assert _table_exists(raw, "MixedCase", "VbItSchema")
        assert store.search(BASE[3], 1).tolist() == [IDS[3]]
    assert not _table_exists(raw, "MixedCase", "VbItSchema")
    raw.execute('DROP SCHEMA IF EXISTS "VbItSchema"')


# -- connection errors ----------------------------------------------------------------------------


def test_bad_credentials_name_the_server_not_the_password() -> None:
    info = psycopg.conninfo.conninfo_to_dict(DSN)
    host, port = info.get("host", "localhost"), info.get("port", "5432")
    dsn = f"postgresql://no_such_role_vb:pa55w0rd-secret@{host}:{port}/{info.get('dbname', 'vecbench')}"
    with pytest.raises(StoreError) as err:
        PgVectorStore({"dsn": dsn}).__enter__()
    message = str(err.value)
    assert f"{host}:{port}" in message and "vecbench services up pgvector" in message
    assert "pa55w0rd-secret" not in message and err.value.__cause__ is None
    assert "no_such_role_vb" in message  # the server's reason is kept


# -- create / upsert / delete ---------------------------------------------------------------------


def test_existing_table_is_refused_unless_drop_old(raw: Any) -> None:
    raw.execute("DROP TABLE IF EXISTS vb_it_exists")
    raw.execute("CREATE TABLE vb_it_exists (id bigint primary key)")
    with PgVectorStore({"dsn": DSN}) as store:
        with pytest.raises(CollectionExistsError, match="drop_old"):
            store.create(CollectionSpec("vb_it_exists", DIM))
        assert store.spec is None
        store.create(CollectionSpec("vb_it_exists", DIM), drop_old=True)
        store.upsert(IDS[:10], BASE[:10])
        assert store.describe()["row_count"] == 10
    assert not _table_exists(raw, "vb_it_exists")


def test_upsert_replaces_through_merge_and_delete(raw: Any) -> None:
    with PgVectorStore({"dsn": DSN}) as store:
        _loaded(store, "vb_it_upsert", "euclidean", "hnsw")
        assert store.describe()["ingest"]["merged_batches"] == 0
        # A batch mixing present and new ids: the direct COPY fails on the key, the merge runs.
        new_vecs = QUERIES[:3].copy()  # in-distribution vectors not in the base set
        batch_ids = np.array([IDS[10], IDS[11], 10**12], dtype=np.int64)
        store.upsert(batch_ids, new_vecs)
        info = store.describe()
        assert info["ingest"]["merged_batches"] == 1 and info["ingest"]["direct_copy_batches"] == 3
        assert info["row_count"] == BASE.shape[0] + 1
        # Indexed on insert, no rebuild. A wide beam: what is checked is that the new rows are
        # in the graph, not HNSW's misses (at the default ef_search 40 and k 3, one CI run in
        # many missed a replaced row among its dead predecessor's neighbours).
        store.set_search_params({"ef_search": 200})
        for i, v in zip(batch_ids, new_vecs, strict=True):
            assert i in store.search(v, K).tolist()
        stored = raw.execute("SELECT embedding FROM vb_it_upsert WHERE id = %s", (int(IDS[10]),)).fetchone()[
            0
        ]
        np.testing.assert_allclose(
            np.array(stored.strip("[]").split(","), dtype=np.float32), new_vecs[0], rtol=1e-6
        )
        store.delete(np.array([IDS[10], 10**12, 424242424242], dtype=np.int64))
        assert store.describe()["row_count"] == BASE.shape[0] - 1
        assert IDS[10] not in store.search(new_vecs[0], K)


# -- halfvec -----------------------------------------------------------------------------------


@pytest.mark.parametrize("index_type", ["flat", "hnsw"])
def test_halfvec_mode(index_type: str, raw: Any) -> None:
    with PgVectorStore({"dsn": DSN, "halfvec": True}) as store:
        _loaded(store, "vb_it_half", "cosine", index_type)
        column = raw.execute(
            "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "WHERE a.attrelid = 'public.vb_it_half'::regclass AND a.attname = 'embedding'"
        ).fetchone()[0]
        assert column == f"halfvec({DIM})"
        assert store.describe()["vector_type"] == "halfvec"
        if index_type == "hnsw":  # a wide beam: what is checked is float16 storage, not HNSW's misses
            store.set_search_params({"ef_search": 200})
        found = store.search_batch(QUERIES, K)  # float16 rounding only reorders near ties:
        assert recall_at_k(found, _truth(Metric.COSINE), K).mean() >= 0.95
        with pytest.raises(Exception, match="halfvec"):
            store.upsert(np.array([1], dtype=np.int64), np.full((1, DIM), 1e6, dtype=np.float32))
    with PgVectorStore({"dsn": DSN}) as store:
        _loaded(store, "vb_it_full", "cosine", index_type)
        full_bytes = store.footprint().disk_bytes
    with PgVectorStore({"dsn": DSN, "halfvec": True}) as store:
        _loaded(store, "vb_it_half", "cosine", index_type)
        assert store.footprint().disk_bytes < full_bytes


# -- search knobs move recall ----------------------------------------------------------------------


def test_ivfflat_probes_change_recall(raw: Any) -> None:
    truth = _truth(Metric.EUCLIDEAN)
    with PgVectorStore({"dsn": DSN}) as store:
        _loaded(store, "vb_it_ivf", "euclidean", "ivfflat", lists=50)
        recalls = {}
        for probes in (1, 4, 50):
            store.set_search_params({"probes": probes})
            assert store.describe()["search_settings_in_effect"]["ivfflat.probes"] == str(probes)
            recalls[probes] = recall_at_k(store.search_batch(QUERIES, K), truth, K).mean()
        print(f"\nivfflat lists=50 recall@10 by probes: {recalls}")
        assert recalls[1] < recalls[4] <= recalls[50]
        assert recalls[50] == 1.0  # every list probed: exact


def test_hnsw_ef_search_changes_recall() -> None:
    truth = _truth(Metric.EUCLIDEAN)
    with PgVectorStore({"dsn": DSN}) as store:
        _loaded(store, "vb_it_ef", "euclidean", "hnsw", m=4, ef_construction=8)
        recalls = {}
        for ef in (10, 40, 400):
            store.set_search_params({"ef_search": ef})
            recalls[ef] = recall_at_k(store.search_batch(QUERIES, K), truth, K).mean()
        print(f"\nhnsw m=4 ef_construction=8 recall@10 by ef_search: {recalls}")
        # A deliberately weak graph, so that the knob has room to show (0.55 / 0.76 / 0.88 here).
        assert recalls[10] < recalls[40] < recalls[400]
        # k above ef_search: searched with ef_search = k, so k rows come back.
        store.set_search_params({"ef_search": 10})
        assert store.search(QUERIES[0], 100).shape == (100,)
        assert store.describe()["search_settings_in_effect"]["hnsw.ef_search"] == "100"


# -- build --------------------------------------------------------------------------------------


def test_build_settings_and_timeout(raw: Any) -> None:
    config = {"dsn": DSN, "maintenance_work_mem": "96MB", "max_parallel_maintenance_workers": 0}
    with PgVectorStore(config) as store:
        store.create(
            CollectionSpec("vb_it_build", DIM, "euclidean", "hnsw", {"m": 32, "ef_construction": 200})
        )
        store.upsert(IDS, BASE)
        with pytest.raises(NotReadyError):
            store.wait_ready(timeout_s=0.001)
        assert store.describe()["index_built"] is None  # the cancelled build left nothing behind
        store.wait_ready(timeout_s=120)
        info = store.describe()
        assert info["maintenance_work_mem"] == "96MB"
        assert info["max_parallel_maintenance_workers"] == "0"
        assert sorted(info["index_built"]["reloptions"]) == ["ef_construction=200", "m=32"]
        assert info["index_build_s"]  # the build was timed (a figure, not None or zero)
        assert raw.execute("SHOW statement_timeout").fetchone()[0] == "0"
        stats = store.footprint()
        total = raw.execute("SELECT pg_total_relation_size('public.vb_it_build')").fetchone()[0]
        assert stats.disk_bytes == total and stats.memory_bytes is None
        assert info["disk_bytes"]["vector_index"] > 0


def test_empty_ivfflat_defers_the_build_until_rows_exist() -> None:
    with PgVectorStore({"dsn": DSN}) as store:
        store.create(CollectionSpec("vb_it_empty", DIM, "euclidean", "ivfflat", {"lists": 10}))
        store.wait_ready(10)
        assert store.describe()["index_built"] is None
        assert store.search(QUERIES[0], K).shape == (0,)
        store.upsert(IDS[:1000], BASE[:1000])
        store.wait_ready(30)
        assert store.describe()["index_built"]["type"] == "ivfflat"


def test_describe_provenance_and_repr_hide_password() -> None:
    with PgVectorStore({"dsn": DSN}) as store:
        _loaded(store, "vb_it_describe", "ip", "hnsw")
        info = store.describe()
        assert info["engine"] == "postgresql+pgvector"
        assert re.match(r"^\d+", info["server_version"]) and re.match(r"^\d+\.\d+", info["pgvector_version"])
        assert info["client_version"] == psycopg.__version__
        assert info["metric_mapping"] == {"operator": "<#>", "opclass": "vector_ip_ops"}
        assert info["row_count"] == BASE.shape[0]
        assert "dsn" not in info
        with pytest.raises(StoreError):
            pickle.dumps(store)
