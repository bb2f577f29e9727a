"""PgVectorStore's filtered search against a real PostgreSQL + pgvector (``VECBENCH_PG_DSN``):
attribute columns COPYed and merged exactly (quotes, backslashes, Unicode), B-tree indexes,
the planner's choice of index per filter, and the iterative index scans (pgvector >= 0.8):
set per connection, reported by describe(), and what they change."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from vecbench.adapters.pgvector import DSN_ENV, PgVectorStore
from vecbench.errors import InvalidParameterError
from vecbench.spec import CollectionSpec

pytestmark = pytest.mark.slow

DSN = os.environ.get(DSN_ENV, "")
if not DSN:
    pytest.skip(f"set {DSN_ENV} (e.g. `vecbench services up pgvector`)", allow_module_level=True)
pytest.importorskip("psycopg")
pytest.importorskip("pgvector")

DIM, N, K = 16, 4000, 10
KINDS = {"label": "keyword", "n": "int"}
TRICKY = ['a"b', "c'd", "e\\f", "ü,ñ", "new\nline", "x; DROP TABLE t; --"]


def _data(seed: int = 1) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(N, DIM)).astype(np.float32)
    queries = rng.normal(size=(20, DIM)).astype(np.float32)
    labels = np.array([TRICKY[i % len(TRICKY)] for i in range(N)], dtype=object)
    return base, queries, {"label": labels, "n": np.arange(N, dtype=np.int64)}


BASE, QUERIES, ATTRS = _data()
IDS = np.arange(N, dtype=np.int64) * 3 + 1


@pytest.fixture
def store() -> Iterator[PgVectorStore]:
    with PgVectorStore({"dsn": DSN}) as s:
        s.create(CollectionSpec("vb_it_filt", DIM, "euclidean", "hnsw", {}, attributes=KINDS), drop_old=True)
        s.upsert(IDS, BASE, ATTRS)
        s.wait_ready(timeout_s=120)
        yield s


def _scans(plan: dict[str, Any]) -> list[str]:
    found = [plan["Index Name"]] if "Index Name" in plan else []
    for child in plan.get("Plans", []):
        found += _scans(child)
    return found


def test_attribute_values_round_trip_through_copy_and_merge(store: PgVectorStore) -> None:
    rows = store._conn.execute('SELECT id, label, n FROM "public"."vb_it_filt" ORDER BY id').fetchall()
    assert [r[1] for r in rows] == list(ATTRS["label"]) and [r[2] for r in rows] == list(range(N))
    for value in TRICKY:
        got = store.search_filtered(BASE[0], K, {"label": value})
        assert len(got) == K and set(ATTRS["label"][(got - 1) // 3]) == {value}
    # replacing ids goes through the staging merge: the new values win
    store.upsert(IDS[:2], BASE[:2], [{"label": "merged", "n": -1}, {"label": "merged", "n": -2}])
    assert sorted(store.search_filtered(BASE[0], K, {"label": "merged"}).tolist()) == sorted(IDS[:2].tolist())
    assert store.search_filtered(BASE[1], K, {"n": {"lt": -1}}).tolist() == [IDS[1]]
    assert store.describe()["ingest"]["merged_batches"] == 1


def test_the_planner_picks_the_btree_for_a_narrow_filter_and_hnsw_for_a_wide_one(
    store: PgVectorStore,
) -> None:
    narrow = _scans(store.explain(QUERIES[0], K, where={"n": {"lt": 5}}))
    wide = _scans(store.explain(QUERIES[0], K, where={"n": {"gte": 100}}))
    assert narrow == ["vb_it_filt_attr1_idx"], narrow
    assert wide == ["vb_it_filt_vec_idx"], wide
    info = store.describe()["filter"]
    assert [i["name"] for i in info["attribute_indexes"]] == ["vb_it_filt_attr0_idx", "vb_it_filt_attr1_idx"]
    assert all(i["type"] == "btree" for i in info["attribute_indexes"])
    assert info["columns"] == {"label": "text", "n": "bigint"}


def test_iterative_scan_finds_k_where_the_plain_hnsw_scan_runs_dry(store: PgVectorStore) -> None:
    version = tuple(int(p) for p in store.describe()["pgvector_version"].split("."))
    if version < (0, 8, 0):
        with pytest.raises(InvalidParameterError, match="added in 0.8.0"):
            store.set_search_params({"iterative_scan": "relaxed_order"})
        return
    flt = {"n": {"gte": N // 2}}  # half pass: the planner keeps the HNSW index
    assert _scans(store.explain(QUERIES[0], K, where=flt)) == ["vb_it_filt_vec_idx"]
    store.set_search_params({"ef_search": 10, "iterative_scan": "off"})
    plain = store.search_filtered_batch(QUERIES, K, flt)
    assert (plain < 0).any()  # 10 candidates, about half pass: rows run short
    for mode in ("relaxed_order", "strict_order"):
        store.set_search_params({"iterative_scan": mode, "max_scan_tuples": 5000})
        assert store.describe()["search_settings_in_effect"]["hnsw.iterative_scan"] == mode
        got = store.search_filtered_batch(QUERIES, K, flt)
        assert (got >= 0).all() and (((got - 1) // 3) >= N // 2).all()
    store.set_search_params({"iterative_scan": "off", "max_scan_tuples": None})
    settings = store.describe()["search_settings_in_effect"]
    assert settings["hnsw.iterative_scan"] == "off" and settings["hnsw.max_scan_tuples"] == "20000"


def test_an_older_pgvector_is_told_apart(store: PgVectorStore) -> None:
    store._pgvector_version = (0, 7, 4)  # what connect() reads from pg_extension
    with pytest.raises(InvalidParameterError, match=r"pgvector 0\.7\.4 .*added in 0\.8\.0"):
        store.set_search_params({"iterative_scan": "relaxed_order"})
    store.set_search_params({"iterative_scan": "off"})  # what such a server does anyway
