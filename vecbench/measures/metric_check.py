"""Which metric a data set's own neighbours were computed with, checked before a run.

A data set that brings its neighbours (an HDF5 file's ``neighbors``, an .npy or .ivecs
ground truth, VectorDBBench's ``neighbors.parquet``) was built for one metric. A run with
another metric would score every store against the wrong truth, so before anything is
built vecbench takes a seeded sample of queries (``SAMPLE``, 50), computes their exact
top-k under euclidean, cosine and inner product, and counts for each metric the sampled
queries whose stored neighbours it reproduces (at least ``MATCH`` of the stored top-k
within that metric's exact top-k, ties included). A run whose metric reproduces fewer than
half of them is refused with the evidence:

    data set glove-25-angular: its neighbours match cosine on 50/50 sampled queries,
    ip on 4/50, euclidean on 3/50, not the run's euclidean; ...

unless the check is turned off (``metric_check: off`` in a run config,
``--no-metric-check``), in which case the stored neighbours are used as they are.

Independently, a euclidean (or inner-product) run over unit-length vectors ranks
neighbours exactly as cosine does (``|a - b|^2 = 2 - 2 cos``): the record says so and
a ``MetricNote`` warning is shown.

Cost: three exact scans of the base set for 50 queries (see docs/datasets.md, "The metric a data set was built for").

    section = check_dataset_metric(dataset)      # ConfigError when the metric disagrees
    dataset.describe()["metric_check"]           # the evidence, in every record
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from vecbench.datasets.base import Dataset
from vecbench.errors import ConfigError
from vecbench.metrics import Metric

__all__ = [
    "MetricCheck",
    "MetricNote",
    "check_dataset_metric",
    "metric_section",
    "neighbours_metric",
    "unit_length",
    "SAMPLE",
    "CHECK_K",
    "MATCH",
]

SAMPLE = 50
"""Queries sampled to check which metric reproduces the stored neighbours."""
CHECK_K = 10
"""Neighbours compared per sampled query (fewer where the data set stores fewer)."""
MATCH = 0.8
"""Fraction of a query's stored top-k a metric must reproduce to count the query as matched."""
UNIT_SAMPLE = 1000
"""Base vectors sampled (with every query) to tell whether all vectors are unit-length."""
UNIT_ATOL = 1e-3


class MetricNote(UserWarning):
    """Something to know about a data set's metric that does not stop the run."""


@dataclass(frozen=True)
class MetricCheck:
    """How many of ``sampled`` queries each metric's exact top-``k`` reproduces."""

    metric: Metric
    sampled: int
    k: int
    matches: dict[str, int]
    seconds: float

    @property
    def agrees(self) -> bool:
        """Whether the run's metric reproduces the stored neighbours of at least half the sample."""
        return 2 * self.matches[self.metric.value] >= self.sampled

    def evidence(self) -> str:
        ranked = sorted(self.matches.items(), key=lambda kv: (-kv[1], kv[0]))
        parts = [f"{name} on {count}/{self.sampled}" for name, count in ranked]
        return f"neighbours match {parts[0]} sampled queries, " + ", ".join(parts[1:])

    def as_dict(self) -> dict[str, Any]:
        return {
            "sampled": self.sampled,
            "k": self.k,
            "matches": dict(self.matches),
            "seconds": self.seconds,
        }


def neighbours_metric(
    dataset: Dataset, *, sample: int = SAMPLE, k: int = CHECK_K, seed: int = 0
) -> MetricCheck | None:
    """Check the data set's stored neighbours against each metric on ``sample`` seeded
    queries; None when the data set brings no neighbours."""
    from vecbench.measures.groundtruth import distances_for_ids, exact_knn

    stored = dataset.ground_truth
    if stored is None:
        return None
    started = time.perf_counter()
    k = max(1, min(k, stored.k, dataset.n))
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(dataset.nq, size=min(sample, dataset.nq), replace=False))
    queries = np.asarray(dataset.queries[rows], dtype=np.float32)
    ids = np.asarray(stored.ids[rows, :k], dtype=np.int64)
    need = math.ceil(MATCH * k)
    matches: dict[str, int] = {}
    for metric in Metric:
        exact = exact_knn(dataset.base, queries, k, metric)
        kth = exact.distances[:, k - 1].astype(np.float64)
        got = distances_for_ids(dataset.base, queries, ids, metric).astype(np.float64)
        hits = (got <= kth[:, None] + 1e-4 * np.abs(kth[:, None]) + 1e-5).sum(axis=1)
        matches[metric.value] = int((hits >= need).sum())
    return MetricCheck(dataset.metric, int(rows.size), k, matches, time.perf_counter() - started)


def unit_length(
    dataset: Dataset, *, sample: int = UNIT_SAMPLE, seed: int = 0, atol: float = UNIT_ATOL
) -> bool:
    """Whether every query and ``sample`` seeded base vectors have norm 1 (within ``atol``)."""
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(dataset.n, size=min(sample, dataset.n), replace=False))
    for block in (dataset.rows(rows), np.asarray(dataset.queries, dtype=np.float32)):
        norms = np.linalg.norm(block.astype(np.float64), axis=1)
        if not np.all(np.abs(norms - 1.0) <= atol):
            return False
    return True


def metric_section(dataset: Dataset, enabled: bool = True) -> dict[str, Any]:
    """What the record says about the data set's metric: ``status`` (agrees, disagrees, no
    stored neighbours, off), the sample's counts, and a ``note`` for unit-length vectors;
    for a disagreement, ``refusal`` holds the one-line reason. Raises nothing."""
    section: dict[str, Any] = {"status": "off"}
    if enabled:
        check = neighbours_metric(dataset)
        if check is None:
            section = {"status": "no stored neighbours"}
        else:
            section = {"status": "agrees" if check.agrees else "disagrees", **check.as_dict()}
            if not check.agrees:
                section["refusal"] = _refusal(dataset, check)
    note = _unit_note(dataset)
    if note is not None:
        section["note"] = note
    return section


def check_dataset_metric(dataset: Dataset, enabled: bool = True) -> dict[str, Any]:
    """``metric_section``, set on ``dataset.metric_check`` (so every record holds it).

    Raises ConfigError when ``enabled`` and the data set's own neighbours disagree with its
    metric (see the module's docstring); warns ``MetricNote`` when a euclidean or
    inner-product run's vectors are all unit-length.
    """
    section = metric_section(dataset, enabled)
    if "refusal" in section:
        raise ConfigError(section["refusal"])
    if "note" in section:
        warnings.warn(f"data set {dataset.name}: {section['note']}", MetricNote, stacklevel=2)
    dataset.metric_check = section
    return section


def _refusal(dataset: Dataset, check: MetricCheck) -> str:
    best = max(check.matches, key=lambda m: check.matches[m])
    advice = (
        f"run it with metric {best}"
        if 2 * check.matches[best] >= check.sampled
        else "check that the neighbours belong to these vectors"
    )
    return (
        f"data set {dataset.name}: its {check.evidence()}; the run's metric is {dataset.metric.value}: "
        f"{advice}, or set metric_check: off (--no-metric-check) to use them anyway"
    )


def _unit_note(dataset: Dataset) -> str | None:
    if dataset.metric is Metric.COSINE or not unit_length(dataset):
        return None
    what = "euclidean distance" if dataset.metric is Metric.EUCLIDEAN else "inner product"
    return (
        f"the vectors are unit-length ({min(UNIT_SAMPLE, dataset.n)} sampled base vectors and every query): "
        f"{what} ranks neighbours exactly as cosine does, so this run equals a cosine run"
    )
