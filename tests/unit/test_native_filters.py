"""Native filtered search, the store side: declared attributes, payloads checked into
columns, the attribute table of the embedded stores, bruteforce's exact filtered scan, and
the harness running native filter cells (and refusing them before any build where a store
cannot filter)."""

import numpy as np
import pytest

import vecbench
from vecbench import registry
from vecbench.adapters._attributes import AttributeTable, attribute_columns, check_filter_attributes
from vecbench.adapters._base import BaseStore
from vecbench.adapters.bruteforce import BruteForceStore
from vecbench.errors import ConfigError
from vecbench.spec import CollectionSpec
from vecbench.workloads.filters import filtered_ground_truth, parse_filter

KINDS = {"year": "int", "label": "keyword"}
FILTERS = [
    {"label": "b"},
    {"label": {"in": ["a", "c"]}},
    {"year": {"gte": 2010, "lt": 2015}},
    {"label": "a", "year": {"gt": 2012}},
    {"label": "never_seen"},
]


def _data(n=600, dim=8, seed=3):
    rng = np.random.default_rng(seed)
    vecs = rng.standard_normal((n, dim)).astype(np.float32)
    attrs = {"year": rng.integers(2000, 2020, n), "label": rng.choice(np.array(["a", "b", "c"]), n)}
    return vecs, attrs


def test_spec_declares_attribute_kinds():
    spec = CollectionSpec("c", dim=4, attributes={"year": "int", "label": "keyword"})
    assert spec.attributes == KINDS
    with pytest.raises(ConfigError, match="kind 'float'; valid: int, keyword"):
        CollectionSpec("c", dim=4, attributes={"score": "float"})
    with pytest.raises(ConfigError, match="invalid attribute name"):
        CollectionSpec("c", dim=4, attributes={"bad-name": "int"})


def test_payloads_become_checked_columns_in_either_form():
    rows = [{"year": 2001, "label": "a", "text": "kept elsewhere"}, {"year": 2002, "label": "b"}]
    cols = attribute_columns(rows, KINDS, 2)
    assert cols["year"].dtype == np.int64 and list(cols["label"]) == ["a", "b"] and set(cols) == set(KINDS)
    same = attribute_columns({"year": np.array([2001, 2002]), "label": np.array(["a", "b"])}, KINDS, 2)
    assert list(same["year"]) == [2001, 2002]
    with pytest.raises(ConfigError, match="upsert needs payloads"):
        attribute_columns(None, KINDS, 2)
    with pytest.raises(ConfigError, match="lacks attribute 'label'"):
        attribute_columns([{"year": 1}, {"year": 2}], KINDS, 2)
    with pytest.raises(ConfigError, match="declared int"):
        attribute_columns({"year": ["x", "y"], "label": ["a", "b"]}, KINDS, 2)
    with pytest.raises(ConfigError, match="declared keyword"):
        attribute_columns({"year": [1, 2], "label": [1, 2]}, KINDS, 2)
    with pytest.raises(ConfigError, match="got 3 values for 2"):
        attribute_columns({"year": [1, 2, 3], "label": ["a", "b"]}, KINDS, 2)


@pytest.mark.parametrize(
    ("flt", "needle"),
    [
        ({"tenant": "x"}, r"'tenant', which the collection does not declare \(it has: label, year\)"),
        ({"label": {"gte": 3}}, "range filter on keyword attribute 'label'"),
        ({"year": "2001"}, "year' is int, the filter compares it with '2001'"),
        ({"label": {"in": ["a", 3]}}, "label' is keyword, the filter compares it with 3"),
    ],
)
def test_filters_the_collection_cannot_answer_are_refused(flt, needle):
    with pytest.raises(ConfigError, match=needle):
        check_filter_attributes(parse_filter(flt), KINDS, "bruteforce")


def test_attribute_table_follows_upserts_and_deletes():
    _, attrs = _data(50)
    ids = np.arange(100, 150, dtype=np.int64)
    table = AttributeTable(KINDS)
    table.upsert(ids, attrs)
    for f in FILTERS:
        flt = parse_filter(f)
        assert np.array_equal(table.passes(flt, ids), flt.mask(attrs))
    # replace: id 100 becomes label "b", 2030; delete 101
    table.upsert(np.array([100]), {"year": np.array([2030]), "label": np.array(["b"])})
    table.delete(np.array([101, 999]))
    assert table.passing_ids(parse_filter({"year": {"gte": 2030}}), ids).tolist() == [100]
    assert not table.passes(parse_filter({"label": {"in": ["a", "b", "c"]}}), np.array([101, 999])).any()
    assert len(table) == 49
    assert table.values(np.array([100]))["label"].tolist() == ["b"]


@pytest.mark.parametrize("metric", ["euclidean", "cosine", "ip"])
def test_bruteforce_filtered_search_is_exact(metric):
    vecs, attrs = _data()
    queries = np.random.default_rng(9).standard_normal((20, vecs.shape[1])).astype(np.float32)
    with BruteForceStore() as store:
        store.create(CollectionSpec("f", dim=vecs.shape[1], metric=metric, attributes=KINDS))
        store.upsert(np.arange(len(vecs)), vecs, attrs)
        for f in FILTERS[:4]:
            keep = parse_filter(f).mask(attrs)
            gt = filtered_ground_truth(vecs, queries, 10, metric, keep)
            got = store.search_filtered_batch(queries, 10, f)
            assert np.array_equal(got, gt.ids), f
            assert np.array_equal(store.search_filtered(queries[0], 10, f), gt.ids[0])
        assert store.search_filtered(queries[0], 10, FILTERS[4]).size == 0


def test_bruteforce_filter_sees_deletes_replaces_and_attached_workers():
    vecs, attrs = _data()
    with BruteForceStore() as store:
        store.create(CollectionSpec("f", dim=vecs.shape[1], attributes=KINDS))
        store.upsert(
            np.arange(len(vecs)),
            vecs,
            [{"year": int(y), "label": str(lb)} for y, lb in zip(*attrs.values(), strict=True)],
        )
        q = vecs[7]
        assert store.search_filtered(q, 1, {"label": str(attrs["label"][7])})[0] == 7
        store.upsert(np.array([7]), vecs[7:8], {"year": np.array([1999]), "label": np.array(["z"])})
        assert store.search_filtered(q, 1, {"label": "z"}).tolist() == [7]
        assert 7 not in store.search_filtered(q, 5, {"label": str(attrs["label"][7])})
        handle = store.share()
        with BruteForceStore() as worker:
            worker.attach(handle)
            assert worker.search_filtered(q, 1, {"year": {"lt": 2000}}).tolist() == [7]
        store.delete(np.array([7]))
        assert store.search_filtered(q, 1, {"label": "z"}).size == 0
        with pytest.raises(ConfigError, match="upsert needs payloads"):
            store.upsert(np.array([1]), vecs[:1])


def test_a_store_without_declared_attributes_keeps_no_payloads():
    vecs, attrs = _data(20)
    with BruteForceStore() as store:
        store.create(CollectionSpec("f", dim=vecs.shape[1]))
        store.upsert(np.arange(20), vecs, attrs)  # accepted, nothing declared to keep
        with pytest.raises(ConfigError, match="does not declare"):
            store.search_filtered(vecs[0], 3, {"label": "a"})


DATA = {"n": 3000, "dim": 16, "nq": 30, "seed": 4}
SWEEP = [{"int_attr": {"lt": 5000}}, {"label": "label_2"}, {"int_attr": {"lt": 50}}]


def test_native_cells_on_bruteforce_are_exact_and_say_which_strategy_ran():
    results = vecbench.benchmark(
        "synthetic", ["bruteforce"], index="flat", dataset_params=DATA, repeats=1,
        filters=SWEEP, filter_strategy="native",
    )  # fmt: skip
    assert len(results) == len(SWEEP) and all(r.ok for r in results), [r.error for r in results]
    for r in results:
        assert r.record["search"]["filter"]["strategy"] == "native"
        assert r.record["search"]["filter"]["k_searched"] == 10
        assert r.recall == 1.0 and r.record["quality"]["violations"] == 0
        assert r.record["qps"]["batch"] is not None  # search_filtered_batch was timed


class _PlainNumpy(BaseStore):
    """A store that cannot filter (the brute-force scan without its Filterable mixin)."""

    info = BruteForceStore.info
    _do_create = BruteForceStore._do_create
    _do_drop = BruteForceStore._do_drop
    _do_upsert = BruteForceStore._do_upsert
    _do_search = BruteForceStore._do_search
    _scan = BruteForceStore._scan
    _metric = BruteForceStore._metric
    _remove_shared = BruteForceStore._remove_shared

    def __init__(self, config=None):
        super().__init__(config)
        self._share_dirs = []


def test_native_filtering_where_a_store_cannot_filter_fails_before_any_build(monkeypatch):
    built = []
    real = registry.get_store
    monkeypatch.setattr(registry, "store_class", lambda name: _PlainNumpy)
    monkeypatch.setattr(registry, "get_store", lambda *a, **kw: built.append(a) or real(*a, **kw))
    results = vecbench.benchmark(
        "synthetic", ["bruteforce"], index="flat", dataset_params=DATA, repeats=1,
        filters=SWEEP[:1], filter_strategy="native",
    )  # fmt: skip
    (r,) = results
    assert not r.ok and r.error["type"] == "CapabilityError" and "post_filter" in r.error["message"]
    assert built == []


def test_int_bounds_are_the_same_int64_set_as_the_range():
    from vecbench.adapters._attributes import INT64_MAX, INT64_MIN, int_bounds
    from vecbench.workloads.filters import Range

    assert int_bounds(Range("n", gte=3, lt=10)) == (3, 9)
    assert int_bounds(Range("n", gt=2.5, lte=9.9)) == (3, 9)
    assert int_bounds(Range("n", gt=3, gte=3)) == (4, INT64_MAX)
    assert int_bounds(Range("n", lt=-1e30)) is None
    assert int_bounds(Range("n", gt=4.2, lt=4.8)) is None  # no integer in between
    assert int_bounds(Range("n", lte=1e30)) == (INT64_MIN, INT64_MAX)
    values = np.arange(-5, 15)
    for rng in (Range("n", gt=0.5, lt=7.5), Range("n", gte=-2, lte=3), Range("n", gt=-1.0)):
        lo, hi = int_bounds(rng)
        assert np.array_equal((values >= lo) & (values <= hi), rng.mask({"n": values}))
