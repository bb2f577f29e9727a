import numpy as np
import pytest

from vecbench.errors import UnknownNameError
from vecbench.metrics import Metric, distances_to, normalize, pairwise_distances


@pytest.mark.parametrize(
    ("alias", "metric"),
    [
        ("l2", Metric.EUCLIDEAN),
        ("Euclidean", Metric.EUCLIDEAN),
        ("angular", Metric.COSINE),
        ("cosine", Metric.COSINE),
        ("dot", Metric.IP),
        ("ip", Metric.IP),
    ],
)
def test_aliases(alias, metric):
    assert Metric.parse(alias) is metric


def test_unknown_metric_lists_valid():
    with pytest.raises(UnknownNameError, match="valid: .*angular.*cosine.*euclidean"):
        Metric.parse("hamming")


def test_hand_made_distances():
    q = np.array([[1.0, 0.0]], dtype=np.float32)
    b = np.array([[1.0, 0.0], [0.0, 2.0], [-3.0, 0.0]], dtype=np.float32)
    np.testing.assert_allclose(pairwise_distances(q, b, "euclidean")[0], [0.0, np.sqrt(5.0), 4.0], rtol=1e-6)
    np.testing.assert_allclose(pairwise_distances(q, b, "cosine")[0], [0.0, 1.0, 2.0], atol=1e-6)
    np.testing.assert_allclose(pairwise_distances(q, b, "ip")[0], [-1.0, 0.0, 3.0], atol=1e-6)


@pytest.mark.parametrize("metric", list(Metric))
def test_distances_to_agrees_with_pairwise(metric):
    rng = np.random.default_rng(0)
    q = rng.normal(size=(1, 16)).astype(np.float32)
    b = rng.normal(size=(50, 16)).astype(np.float32)
    np.testing.assert_allclose(distances_to(q[0], b, metric), pairwise_distances(q, b, metric)[0], atol=1e-4)


def test_normalize_keeps_zero_rows():
    x = normalize(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(x, [[0.6, 0.8], [0.0, 0.0]])
    assert x.dtype == np.float32
