"""The HybridSearch capability without a server: the collection's full text, the checks
before any I/O, the SQL pgvector runs and the query Weaviate gets, and where a hybrid
cell runs (``hybrid_where``). The engines themselves: tests/integration/test_hybrid_native.py."""

from __future__ import annotations

import re

import numpy as np
import pytest

from vecbench.adapters._attributes import text_column
from vecbench.adapters._capabilities import _check_fusion
from vecbench.errors import CapabilityError, ConfigError, UnknownNameError
from vecbench.rag.config import load_rag_config
from vecbench.rag.fusion import RetrievalMode, resolve_where
from vecbench.registry import get_store, store_class
from vecbench.spec import CollectionSpec
from vecbench.store import HybridSearch, capabilities


def test_full_text_key_is_checked() -> None:
    assert CollectionSpec("c", 4, full_text="text").full_text == "text"
    with pytest.raises(ConfigError, match="invalid full_text key"):
        CollectionSpec("c", 4, full_text="chunk text")
    with pytest.raises(ConfigError, match="also a filter attribute"):
        CollectionSpec("c", 4, attributes={"text": "keyword"}, full_text="text")


def test_a_store_without_full_text_search_refuses_a_text_collection() -> None:
    with get_store("faiss") as store:
        with pytest.raises(CapabilityError, match="a collection with full_text needs .*HybridSearch; faiss"):
            store.create(CollectionSpec("c", 4, full_text="text"))
        assert store.spec is None  # nothing was created


def test_text_column_from_rows_or_columns() -> None:
    rows = [{"text": "shock wave"}, {"text": ""}]
    assert text_column(rows, "text", 2).tolist() == ["shock wave", ""]
    assert text_column({"text": ["a", "b"]}, "text", 2).tolist() == ["a", "b"]
    for payloads, needle in [
        (None, "needs payloads"),
        ([{"text": "a"}, {"doc": "b"}], "1 payload"),
        ({"doc": ["a", "b"]}, "lack the full-text key"),
        ([{"text": "a"}, {"text": 3}], "must be a str"),
        ({"text": ["a"]}, "1 values for 2"),
    ]:
        with pytest.raises(ConfigError, match=needle):
            text_column(payloads, "text", 2)


def test_fusion_arguments_are_checked() -> None:
    assert _check_fusion("rrf", None, 60) is None
    assert _check_fusion("weighted", 1, 60) == 1.0
    for fusion, alpha, rrf_k, needle in [
        ("max", None, 60, "fusion must be"),
        ("rrf", None, 0, "rrf_k"),
        ("rrf", None, True, "rrf_k"),
        ("weighted", None, 60, "alpha"),
        ("weighted", 1.5, 60, "alpha"),
        ("weighted", True, 60, "alpha"),
    ]:
        with pytest.raises(ConfigError, match=needle):
            _check_fusion(fusion, alpha, rrf_k)


def test_which_stores_fuse_natively_and_how() -> None:
    pg, wv = store_class("pgvector"), store_class("weaviate")
    assert issubclass(pg, HybridSearch) and "HybridSearch" in capabilities(wv)
    assert not issubclass(store_class("faiss"), HybridSearch)
    assert pg.hybrid_refusal("rrf", 5) is None and pg.hybrid_refusal("weighted") is None
    assert "fixed constant k=60" in str(wv.hybrid_refusal("rrf", 5))
    assert wv.hybrid_refusal("rrf", 60) is None
    assert "ts_rank_cd" in pg.hybrid_method("rrf") and "relativeScoreFusion" in wv.hybrid_method("weighted")


def test_where_a_hybrid_cell_runs() -> None:
    rrf = RetrievalMode("hybrid")
    assert rrf.native and not rrf.uses_sparse
    assert resolve_where(rrf, store_class("pgvector")).where == "native"
    auto = RetrievalMode("hybrid", rrf_k=5, where="auto")
    assert resolve_where(auto, store_class("faiss")).where == "client"
    assert resolve_where(auto, store_class("pgvector")).where == "native"
    assert resolve_where(auto, store_class("weaviate")).where == "client"  # its constant is 60
    with pytest.raises(ConfigError, match="faiss has no native hybrid search.*hybrid_where: client"):
        resolve_where(rrf, store_class("faiss"))
    with pytest.raises(ConfigError, match="fixed constant"):
        resolve_where(RetrievalMode("hybrid", rrf_k=5), store_class("weaviate"), "weaviate")
    client = RetrievalMode("hybrid", where="client")
    assert resolve_where(client, store_class("weaviate")) is client and client.uses_sparse


def _config(stores: list[str], **over: object) -> dict:
    return {
        "dataset": "beir:cranfield",
        "chunkers": ["whole"],
        "embedders": ["hashing"],
        "stores": stores,
        "retrieval": ["dense", {"mode": "hybrid", "fusion": "weighted", "alpha": 0.5}],
        **over,
    }


def test_config_settles_where_before_any_work() -> None:
    cfg = load_rag_config(_config(["pgvector", "weaviate"]))
    assert [c.mode.where for c in cfg.cells() if c.mode.mode == "hybrid"] == ["native", "native"]
    with pytest.raises(ConfigError, match="faiss has no native hybrid"):
        load_rag_config(_config(["pgvector", "faiss"]))
    cfg = load_rag_config(_config(["pgvector", "faiss"], hybrid_where="auto"))
    got = {c.store.name: c.mode.where for c in cfg.cells() if c.mode.mode == "hybrid"}
    assert got == {"pgvector": "native", "faiss": "client"}
    with pytest.raises(UnknownNameError, match="hybrid_where"):
        load_rag_config(_config(["faiss"], hybrid_where="server"))


def test_pgvector_sql_binds_every_value() -> None:
    sql = pytest.importorskip("psycopg.sql")
    from vecbench.adapters import _pgvector_hybrid as pgh

    table = sql.Identifier("public", "chunks")
    cols = pgh.text_column_definitions(sql, "text").as_string(None)
    assert '"text" text NOT NULL' in cols and "GENERATED ALWAYS AS (to_tsvector('english'::regconfig" in cols
    for fusion, alpha, rrf_k in (("rrf", None, 60), ("weighted", 0.3, 60)):
        stmt = pgh.hybrid_statement(sql, table, "<=>", "text", fusion).as_string(None)
        params = pgh.hybrid_params(np.zeros(4, np.float32), "shock' OR 1=1 --", 10, fusion, alpha, rrf_k)
        assert stmt.count("%s") == len(params)  # the text, the vector, k, rrf_k / alpha: all bound
        assert "shock" not in stmt and "FULL JOIN" in stmt and "ts_rank_cd" in stmt
        assert re.search(r"ORDER BY embedding <=> %s LIMIT %s", stmt)
        assert stmt.endswith("ORDER BY score DESC, id LIMIT %s")
    assert pgh.hybrid_params("v", "t", 7, "rrf", None, 60) == ("t", "v", "v", 7, 7, 60, 60, 7)
    assert pgh.hybrid_params("v", "t", 7, "weighted", 0.25, 60)[5:7] == (0.25, 0.25)


def test_weaviate_hybrid_query() -> None:
    pytest.importorskip("weaviate")
    from weaviate.classes.query import HybridFusion

    from vecbench.adapters import _weaviate_hybrid as wh

    rrf = wh.hybrid_kwargs(HybridFusion, "shock", [0.1, 0.2], 5, "rrf", None, "text")
    assert rrf["fusion_type"] == HybridFusion.RANKED and rrf["alpha"] == 0.5
    assert rrf["query_properties"] == ["text"] and rrf["limit"] == 5 and rrf["vector"] == [0.1, 0.2]
    rel = wh.hybrid_kwargs(HybridFusion, "shock", [0.1], 5, "weighted", 0.7, "text")
    assert rel["fusion_type"] == HybridFusion.RELATIVE_SCORE and rel["alpha"] == 0.7
    assert wh.text_property_name({"year": "int"}, "Text") == "text"
    with pytest.raises(ConfigError):
        wh.text_property_name({"text": "keyword"}, "Text")  # both would be property "text"
