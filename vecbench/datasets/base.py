"""The Dataset container the harness consumes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vecbench.datasets.stream import BaseSource, as_source, check_block_rows, iter_id_blocks, take_rows
from vecbench.errors import DatasetError, EmptyDatasetError
from vecbench.metrics import Metric

__all__ = ["Dataset", "GroundTruth"]


@dataclass
class GroundTruth:
    """Exact k nearest neighbours of every query: ids (nq, k) int64, distances (nq, k) float32.

    Distances follow vecbench's metric conventions (see ``vecbench.metrics``), ascending.
    """

    ids: NDArray[np.int64]
    distances: NDArray[np.float32]

    @property
    def k(self) -> int:
        return int(self.ids.shape[1])


@dataclass
class Dataset:
    """Base vectors, queries, metric, and (when known) exact ground truth.

    Base ids are the row numbers ``0..n-1``. ``base`` may be a memory map, possibly of the
    file's own dtype (uint8 for .bvecs), or a ``vecbench.datasets.stream.BaseSource`` that
    reads rows on demand (a streamed synthetic set, a chunked HDF5 file): iterate it with
    ``batches`` (or pick rows with ``rows``), which give float32, rather than copying it
    whole; ``base_source`` is it as a ``BaseSource`` whatever it is. ``checksum`` identifies the data
    (sha256 of the source file, or of the generator's parameters) for caches and records.
    """

    name: str
    metric: Metric
    base: NDArray[np.float32]
    queries: NDArray[np.float32]
    checksum: str
    source: str = ""
    ground_truth: GroundTruth | None = None
    params: dict[str, Any] = field(default_factory=dict)
    # Per-base-vector attribute columns for filtered search (name -> array of n values).
    attributes: dict[str, NDArray[Any]] = field(default_factory=dict)
    # Which metric the data set's own neighbours match, set before a run
    # (vecbench.measures.metric_check); in the record when set.
    metric_check: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        self.metric = Metric.parse(self.metric)
        # A lazy mapping (a streamed synthetic set's) makes its columns on first use: not here.
        for key, column in self.attributes.items() if isinstance(self.attributes, dict) else ():
            if np.shape(column)[:1] != (self.base.shape[0],) or np.ndim(column) != 1:
                raise DatasetError(
                    f"data set {self.name!r}: attribute {key!r} has shape {np.shape(column)}, "
                    f"expected one value per base vector ({self.base.shape[0]})"
                )
        if self.base.ndim != 2 or self.base.shape[0] == 0:
            raise EmptyDatasetError(f"data set {self.name!r} has no base vectors")
        if self.queries.ndim != 2 or self.queries.shape[0] == 0:
            raise EmptyDatasetError(f"data set {self.name!r} has no queries")
        if self.queries.shape[1] != self.base.shape[1]:
            from vecbench.errors import DimensionMismatchError

            raise DimensionMismatchError(
                f"data set {self.name!r}: queries have dimension {self.queries.shape[1]}, "
                f"base vectors {self.base.shape[1]}"
            )

    @property
    def dim(self) -> int:
        return int(self.base.shape[1])

    @property
    def n(self) -> int:
        return int(self.base.shape[0])

    @property
    def nq(self) -> int:
        return int(self.queries.shape[0])

    @property
    def base_source(self) -> BaseSource:
        """The base set as a ``BaseSource`` (``read``, ``iter_blocks``, ``take``)."""
        return as_source(self.base)

    def batches(self, batch_size: int = 10_000) -> Iterator[tuple[NDArray[np.int64], NDArray[np.float32]]]:
        """(ids, vectors) in order, each batch a float32 copy of at most batch_size rows.

        Only one batch is in memory at a time (plus a generator's or decoder's one block):
        a base set larger than memory is ingested with this. ``batch_size`` <= 0 is a
        ConfigError, raised before the first batch."""
        check_block_rows(batch_size, "batch size")
        return iter_id_blocks(self.base, batch_size)

    def rows(self, ids: NDArray[np.integer] | list[int]) -> NDArray[np.float32]:
        """Base vectors ``ids`` as a float32 array, whatever the stored dtype (a .bvecs
        base, for instance, is memory-mapped as uint8)."""
        return take_rows(self.base, np.asarray(ids, dtype=np.int64))

    def describe(self) -> dict[str, Any]:
        """What a result record says about this data set."""
        return {
            "name": self.name,
            "metric": self.metric.value,
            "n": self.n,
            "nq": self.nq,
            "dim": self.dim,
            "checksum": self.checksum,
            "source": self.source,
            "params": dict(self.params),
            **({"metric_check": dict(self.metric_check)} if self.metric_check is not None else {}),
        }
