import numpy as np
import pytest

from vecbench.errors import ConfigError
from vecbench.measures.quality import pad_ids, recall_at_k, returned_true_distances, tie_aware_recall_at_k
from vecbench.metrics import pairwise_distances

TRUE_IDS = np.array([[0, 1, 2, 3], [4, 5, 6, 7]], dtype=np.int64)


def test_exact_hits_give_one():
    np.testing.assert_array_equal(recall_at_k(TRUE_IDS, TRUE_IDS, 4), [1.0, 1.0])


def test_order_does_not_matter():
    assert recall_at_k([[3, 2, 1, 0]], TRUE_IDS[:1], 4).tolist() == [1.0]


def test_duplicates_count_once():
    assert recall_at_k([[0, 0, 0, 0]], TRUE_IDS[:1], 4).tolist() == [0.25]


def test_fewer_than_k_returned_are_misses():
    got = recall_at_k([np.array([0, 1]), np.array([], dtype=np.int64)], TRUE_IDS, 4)
    assert got.tolist() == [0.5, 0.0]


def test_minus_one_padding_ignored():
    got = recall_at_k(np.array([[0, 1, -1, -1], [-1, -1, -1, -1]]), TRUE_IDS, 4)
    assert got.tolist() == [0.5, 0.0]


def test_only_first_k_returned_count():
    # id 2 is a true neighbour but comes after the first k=2 returned ids
    assert recall_at_k([[9, 0, 2]], TRUE_IDS[:1], 2).tolist() == [0.5]


def test_truth_wider_than_k_is_cut():
    assert recall_at_k([[2, 3]], TRUE_IDS[:1], 2).tolist() == [0.0]


def test_truth_with_padding_uses_valid_count():
    # a base set of 2 vectors and k=4: returning both is perfect recall
    assert recall_at_k([[1, 0]], [[0, 1, -1, -1]], 4).tolist() == [1.0]


def test_shape_errors():
    with pytest.raises(ConfigError):
        recall_at_k([[0]], TRUE_IDS, 5)
    with pytest.raises(ConfigError):
        recall_at_k([[0]], TRUE_IDS, 2)  # one query vs two
    with pytest.raises(ConfigError):
        recall_at_k([[0]], TRUE_IDS[:1], 0)


def test_tie_aware_counts_equidistant_neighbours():
    # true 2 nearest at distances 1.0 and 2.0; id 9 is also at 2.0 (a tie with the k-th)
    true_d = [[1.0, 2.0, 3.0]]
    assert recall_at_k([[0, 9]], [[0, 1, 2]], 2).tolist() == [0.5]
    assert tie_aware_recall_at_k([[0, 9]], [[1.0, 2.0]], true_d, 2).tolist() == [1.0]


def test_tie_aware_epsilon_rule():
    true_d = [[1.0, 2.0]]
    # within k-th + epsilon: hit; beyond: miss
    assert tie_aware_recall_at_k([[5, 6]], [[1.0, 2.0 + 0.0009]], true_d, 2).tolist() == [1.0]
    assert tie_aware_recall_at_k([[5, 6]], [[1.0, 2.0 + 0.0011]], true_d, 2).tolist() == [0.5]
    assert tie_aware_recall_at_k([[5, 6]], [[1.0, 2.5]], true_d, 2, epsilon=0.5).tolist() == [1.0]


def test_tie_aware_duplicates_padding_and_short_rows():
    true_d = [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    ids = [np.array([3, 3, 3]), np.array([4])]
    dists = [np.array([1.0, 1.0, 1.0]), np.array([1.0])]
    assert tie_aware_recall_at_k(ids, dists, true_d, 3).tolist() == [1 / 3, 1 / 3]
    padded = np.array([[3, -1, -1]])
    assert tie_aware_recall_at_k(padded, np.array([[1.0, 0.0, 0.0]]), true_d[:1], 3).tolist() == [1 / 3]


def test_tie_aware_ignores_nan_distances():
    assert tie_aware_recall_at_k([[1, 2]], [[np.nan, 0.5]], [[0.5, 0.5]], 2).tolist() == [0.5]


def test_pad_ids():
    assert pad_ids([[1, 2, 3], []], 2).tolist() == [[1, 2], [-1, -1]]
    assert pad_ids(np.array([[1], [2]]), 3).tolist() == [[1, -1, -1], [2, -1, -1]]


@pytest.mark.parametrize("metric", ["euclidean", "cosine", "ip"])
def test_returned_true_distances_match_pairwise(metric, tmp_path):
    rng = np.random.default_rng(0)
    base = rng.normal(size=(50, 8)).astype(np.float32)
    queries = rng.normal(size=(3, 8)).astype(np.float32)
    path = tmp_path / "base.f32"
    base.tofile(path)
    mm = np.memmap(path, dtype=np.float32, mode="r", shape=base.shape)
    ids = np.array([[7, 3, 7, -1], [0, 49, 1, 2], [-1, -1, -1, -1]])
    got = returned_true_distances(mm, queries, ids, metric)
    full = pairwise_distances(queries, base, metric)
    for i in range(3):
        for j, id_ in enumerate(ids[i]):
            if id_ < 0:
                assert np.isnan(got[i, j])
            else:
                assert got[i, j] == pytest.approx(full[i, id_], abs=1e-4)


def test_returned_true_distances_out_of_range_is_nan():
    base = np.zeros((2, 2), dtype=np.float32)
    got = returned_true_distances(base, base[:1], [[5, 1]], "euclidean", k=3)
    assert np.isnan(got[0, 0]) and got[0, 1] == 0.0 and np.isnan(got[0, 2])
