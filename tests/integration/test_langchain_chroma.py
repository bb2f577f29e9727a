"""The langchain store over a real engine: Chroma through ``langchain-chroma`` (the Chroma
engine in process), the same contract as vecbench's own adapters: recall against exact
neighbours, replace, delete, drop."""

from __future__ import annotations

import numpy as np
import pytest

from vecbench.datasets import load
from vecbench.measures.groundtruth import exact_knn
from vecbench.measures.quality import recall_at_k
from vecbench.registry import get_store
from vecbench.spec import CollectionSpec

pytest.importorskip("langchain_chroma")

CHROMA = {
    "vectorstore": "langchain_chroma:Chroma",
    "embedding_kwarg": "embedding_function",
    "name_kwarg": "collection_name",
    "kwargs": {"collection_metadata": {"hnsw:space": "cosine"}},
}


def test_langchain_chroma_reaches_recall_and_follows_changes():
    ds = load("synthetic", n=3000, dim=32, nq=50, seed=3, metric="cosine")
    gt = exact_knn(ds.base, ds.queries, 10, ds.metric)
    with get_store("langchain", CHROMA) as store:
        store.create(CollectionSpec("vb_lc_chroma", dim=32, metric="cosine", index_type="wrapped"))
        for ids, vectors in ds.batches(1000):
            store.upsert(ids, vectors)
        got = np.stack([store.search(q, 10) for q in ds.queries])
        assert float(recall_at_k(got, gt.ids, 10).mean()) >= 0.9
        store.upsert(np.array([7]), ds.queries[:1])
        assert store.search(ds.queries[0], 1).tolist() == [7]
        store.delete(np.array([7]))
        assert 7 not in store.search(ds.queries[0], 10).tolist()
        info = store.describe()
        assert info["wrapped_class"] == "langchain_chroma.vectorstores.Chroma"
        assert info["wrapped_package_version"]
        store.drop()
    # drop deleted the wrapped collection: a new store under the same name starts empty
    with get_store("langchain", CHROMA) as store:
        store.create(CollectionSpec("vb_lc_chroma", dim=32, metric="cosine", index_type="wrapped"))
        store.upsert(np.array([1]), ds.base[:1])
        assert store.search(ds.base[0], 10).tolist() == [1]
