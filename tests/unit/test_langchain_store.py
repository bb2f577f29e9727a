"""The langchain store: config checked before any work, the metric a wrapped class ranks by
enforced, ids round-trip, replace and delete, over LangChain's own in-memory store (exact
cosine: results compared with numpy)."""

from __future__ import annotations

import numpy as np
import pytest

from vecbench.errors import ConfigError, UnknownNameError
from vecbench.metrics import normalize
from vecbench.registry import get_store
from vecbench.spec import CollectionSpec

pytest.importorskip("langchain_core")


def _spec(metric: str = "cosine") -> CollectionSpec:
    return CollectionSpec("vb_lc_unit", dim=8, metric=metric, index_type="wrapped")


@pytest.mark.parametrize(
    ("config", "needle"),
    [
        ({"vectorstore": "no_such_module:Store"}, "cannot import 'no_such_module'"),
        ({"vectorstore": "langchain_core.vectorstores:NoSuchClass"}, "has no class 'NoSuchClass'"),
        ({"kwargs": ["not", "a", "mapping"]}, "'kwargs' must be a mapping"),
        ({"metric": "manhattan"}, "manhattan"),
        ({"kwargs": {"unknown_arg": 1}}, "refused its arguments"),
    ],
)
def test_bad_config_is_refused_with_the_reason(config, needle):
    with pytest.raises(ConfigError, match=needle):
        with get_store("langchain", config) as store:
            store.create(_spec())


def test_a_metric_the_wrapped_class_does_not_rank_by_is_refused():
    with get_store("langchain") as store:
        with pytest.raises(UnknownNameError, match="ranks by cosine"):
            store.create(_spec("euclidean"))


def test_in_memory_store_is_exact_and_follows_replace_and_delete():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((300, 8)).astype(np.float32)
    q = rng.standard_normal((5, 8)).astype(np.float32)
    ids = np.arange(1000, 1300, dtype=np.int64)
    with get_store("langchain") as store:
        store.create(_spec())
        store.upsert(ids, x)
        for query in q:
            expected = ids[np.argsort(-(normalize(x) @ normalize(query[None, :])[0]))[:10]]
            assert store.search(query, 10).tolist() == expected.tolist()
        store.upsert(ids[:1], q[:1])  # id 1000 now holds the first query's vector
        assert store.search(q[0], 1).tolist() == [1000]
        assert len(store.search(q[0], 400)) == 300  # replaced, not added
        store.delete(np.array([1000, 5]))  # an unknown id is ignored
        assert 1000 not in store.search(q[0], 400).tolist()
        info = store.describe()
        assert info["wrapped_class"].endswith("InMemoryVectorStore") and info["ntotal"] == 299
