"""The live set of a runbook: what each step does to it, exact ground truth of the live ids
(checked against a plain numpy sort), and scoring through the measuring core."""

from __future__ import annotations

import numpy as np
import pytest

from vecbench.datasets.base import Dataset
from vecbench.errors import ConfigError
from vecbench.harness.measure import score_ids
from vecbench.metrics import distances_to
from vecbench.workloads import live as live_module
from vecbench.workloads.live import LiveSet
from vecbench.workloads.runbook import Step

N, DIM, NQ, K = 300, 6, 12, 5


def _dataset(metric: str = "euclidean", seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(N, DIM)).astype(np.float32)
    queries = rng.normal(size=(NQ, DIM)).astype(np.float32)
    return Dataset(f"live-{metric}-{seed}", metric, base, queries, checksum=f"live-{metric}-{seed}")


def _truth(ds: Dataset, live: LiveSet, k: int) -> np.ndarray:
    """The k nearest live ids by sorting every live id's distance (ties by id)."""
    ids = live.live_ids()
    vectors = ds.base[live.row_of[ids]]
    out = []
    for q in ds.queries:
        d = distances_to(q, vectors, ds.metric)
        out.append(ids[np.lexsort((ids, d))[:k]])
    return np.stack(out)


def _step(op: str, start: int, end: int, source: int | None = None) -> Step:
    return Step(op, start, end, source, where="rb.yaml line 9")


def test_steps_move_ids_and_rows():
    live = LiveSet(10)
    assert live.apply(_step("insert", 0, 6)) == 6
    live.apply(_step("delete", 1, 3))
    live.apply(_step("replace", 4, 6, 8))
    live.apply(_step("replace", 3, 4))
    assert live.apply(Step("search")) == 0 and live.apply(Step("wait", seconds=1.0)) == 0
    assert live.live_ids().tolist() == [0, 3, 4, 5] and live.count == 4
    assert live.row_of.tolist() == [0, -1, -1, 3, 8, 9, -1, -1, -1, -1]
    live.apply(_step("insert", 1, 3))
    assert live.count == 6


def test_a_refused_step_changes_nothing():
    live = LiveSet(10)
    live.apply(_step("insert", 0, 5))
    before = live.row_of.copy()
    for bad in (
        _step("delete", 3, 8),
        _step("insert", 4, 6),
        _step("replace", 0, 5, 8),
        _step("insert", 8, 12),
    ):
        with pytest.raises(ConfigError, match="^rb.yaml line 9: "):
            live.apply(bad)
        np.testing.assert_array_equal(live.row_of, before)


@pytest.mark.parametrize("metric", ["euclidean", "cosine", "ip"])
def test_ground_truth_is_exact_over_the_live_ids(metric):
    ds = _dataset(metric)
    live = LiveSet(N)
    live.apply(_step("insert", 0, 250))
    live.apply(_step("delete", 20, 120))
    live.apply(_step("replace", 200, 230, 260))  # ids 200..229 now hold rows 260..289
    gt = live.ground_truth(ds, K)
    np.testing.assert_array_equal(gt.ids, _truth(ds, live, K))
    assert not np.isin(gt.ids, np.arange(20, 120)).any()
    # a distance is the id's current vector's: recompute for the moved ids
    for qi in range(NQ):
        vectors = ds.base[live.row_of[gt.ids[qi]]]
        np.testing.assert_allclose(gt.distances[qi], distances_to(ds.queries[qi], vectors, metric), atol=1e-5)


def test_fewer_live_than_k_pads():
    ds = _dataset()
    live = LiveSet(N)
    live.apply(_step("insert", 7, 10))
    gt = live.ground_truth(ds, K)
    assert gt.ids.shape == (NQ, K)
    assert set(gt.ids[:, :3].ravel()) == {7, 8, 9} and (gt.ids[:, 3:] == -1).all()
    assert np.isinf(gt.distances[:, 3:]).all()


def test_ground_truth_is_cached_by_content():
    ds = _dataset(seed=3)
    a, b = LiveSet(N), LiveSet(N)
    a.apply(_step("insert", 0, 100))
    b.apply(_step("insert", 0, 100))
    assert a.digest() == b.digest()
    assert a.ground_truth(ds, K) is b.ground_truth(ds, K)
    b.apply(_step("replace", 0, 10, 200))
    assert a.digest() != b.digest() and a.ground_truth(ds, K) is not b.ground_truth(ds, K)
    assert len(live_module._GT_CACHE) <= live_module._GT_CACHE_SIZE


def test_scoring_a_returned_deleted_id_is_never_a_hit():
    ds = _dataset()
    live = LiveSet(N)
    live.apply(_step("insert", 0, N))
    gt_before = live.ground_truth(ds, K)
    nearest = gt_before.ids[:, 0].copy()
    # delete each query's nearest id, one single-id step at a time
    for i in np.unique(nearest):
        live.apply(Step("delete", int(i), int(i) + 1, where="x"))
    gt = live.ground_truth(ds, K)
    returned = np.concatenate([nearest[:, None], gt.ids[:, : K - 1]], axis=1)  # deleted id first
    scored = score_ids(returned, live.view(ds), gt, K)
    expected = (K - 1) / K
    np.testing.assert_allclose(scored["recall_at_k"], expected)
    np.testing.assert_allclose(scored["tie_aware_recall_at_k"], expected)  # distance 0 but not live
    assert live.not_live(returned).tolist() == [1] * NQ
    perfect = score_ids(gt.ids, live.view(ds), gt, K)
    assert (perfect["recall_at_k"] == 1).all() and (perfect["tie_aware_recall_at_k"] == 1).all()


def test_a_replaced_id_is_scored_with_its_new_vector():
    ds = _dataset(seed=5)
    live = LiveSet(N)
    live.apply(_step("insert", 0, 100))
    target = int(live.ground_truth(ds, 1).ids[0, 0])
    far = int(np.argmax(distances_to(ds.queries[0], ds.base, ds.metric)))
    live.apply(_step("replace", target, target + 1, far))  # the nearest id now holds the farthest row
    gt = live.ground_truth(ds, K)
    assert target not in gt.ids[0].tolist()
    returned = np.tile(gt.ids[0], (NQ, 1))
    returned[0, 0] = target
    scored = score_ids(returned, live.view(ds), gt, K)
    assert scored["tie_aware_recall_at_k"][0] == (K - 1) / K
    assert live.not_live(returned)[0] == 0  # replaced, still live


def test_not_live_counts_ids_outside_the_data_set():
    live = LiveSet(5)
    live.apply(_step("insert", 0, 3))
    assert live.not_live(np.array([[0, 3, 99, -1], [1, 2, -1, -1]])).tolist() == [2, 0]
