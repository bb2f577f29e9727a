"""The live set of a runbook: which ids are in the store and whose vectors they hold, and its
exact ground truth.

Ids are data-set row numbers. ``row_of[id]`` is the data-set row whose vector the id holds
now (-1: not live): an insert maps ids to their own rows, a replace with ``from`` to other
rows, a delete to -1. The harness keeps one through the steps it runs and ``Runbook.check``
plays one without a store, so a bad step is refused with the same message either way.

    live = LiveSet(dataset.n)
    live.apply(step)                        # ConfigError naming the step's line
    gt = live.ground_truth(dataset, k=10)   # exact k-NN among the live ids, ids as stored
    per_query = score_ids(ids, live.view(dataset), gt, 10)   # the measuring core's scoring
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vecbench.errors import ConfigError

__all__ = ["LiveSet", "LiveView"]

_GT_CACHE: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_GT_CACHE_SIZE = 64


class LiveSet:
    """The ids live in the store after the steps applied so far."""

    def __init__(self, n: int) -> None:
        self.n = int(n)
        self.row_of = np.full(self.n, -1, dtype=np.int64)
        self.ever = np.zeros(self.n, dtype=bool)  # inserted at some step (maybe deleted since)

    @property
    def count(self) -> int:
        return int((self.row_of >= 0).sum())

    def live_ids(self) -> NDArray[np.int64]:
        """The live ids, ascending."""
        return np.flatnonzero(self.row_of >= 0).astype(np.int64)

    def apply(self, step: Any) -> int:
        """Apply a step (``vecbench.workloads.runbook.Step``); returns the ids it writes.

        ConfigError, prefixed with the step's ``where``, when the step cannot be played.
        Nothing changes when it raises.
        """
        op = step.op
        if op not in ("insert", "delete", "replace"):
            return 0
        where = f"{step.where}: {step.describe()}"
        self._check_range(step.start, step.end, where, "ids")
        ids = slice(step.start, step.end)
        live = self.row_of[ids] >= 0
        if op == "insert":
            if live.any():
                first = step.start + int(np.argmax(live))
                raise ConfigError(
                    f"{where}: {int(live.sum())} id(s) already live (first {first}); "
                    "use replace to upsert live ids again"
                )
            self.row_of[ids] = np.arange(step.start, step.end)
            self.ever[ids] = True
            return step.count
        if step.count > self.count:
            raise ConfigError(f"{where}: {op}s {step.count} ids, but only {self.count} are live")
        if not live.all():
            raise ConfigError(f"{where}: {self._not_live(step.start, step.end)}")
        if op == "delete":
            self.row_of[ids] = -1
        else:
            source = step.start if step.source is None else step.source
            self._check_range(source, source + step.count, f"{where} (from)", "rows")
            self.row_of[ids] = np.arange(source, source + step.count)
        return step.count

    def _check_range(self, start: int, end: int, where: str, what: str) -> None:
        if end > self.n:
            raise ConfigError(
                f"{where}: end {end} is beyond the data set's {self.n} base vectors "
                f"({what} are row numbers 0..{self.n - 1})"
            )

    def _not_live(self, start: int, end: int) -> str:
        dead = np.flatnonzero(self.row_of[start:end] < 0) + start
        never = dead[~self.ever[dead]]
        deleted = dead[self.ever[dead]]
        parts = []
        if never.size:
            parts.append(f"{never.size} id(s) never inserted (first {int(never[0])})")
        if deleted.size:
            parts.append(f"{deleted.size} id(s) deleted earlier (first {int(deleted[0])})")
        return "; ".join(parts) + ": only live ids can be deleted or replaced"

    def digest(self) -> str:
        """Identifies the live set's content (ids and their rows), for the ground-truth cache."""
        return hashlib.sha256(self.row_of.tobytes()).hexdigest()

    def ground_truth(self, dataset: Any, k: int) -> Any:
        """Exact k nearest live ids of every query (ties by id), padded with -1 / inf where
        fewer than k are live; computed by ``exact_knn`` over the live rows and kept for the
        last few live sets (every store of a run plays the same runbook)."""
        key = (dataset.checksum, dataset.metric.value, k, self.digest())
        if key not in _GT_CACHE:
            _GT_CACHE[key] = live_ground_truth(dataset, self.live_ids(), self.row_of, k)
            while len(_GT_CACHE) > _GT_CACHE_SIZE:
                _GT_CACHE.popitem(last=False)
        _GT_CACHE.move_to_end(key)
        return _GT_CACHE[key]

    def view(self, dataset: Any) -> LiveView:
        """The data set as the store holds it now, for ``score_ids``: an id's vector is its
        row's, and an id that is not live has no vector (its distance is NaN: never a hit)."""
        return LiveView(_LiveRows(dataset.base, self.row_of.copy()), dataset.queries, dataset.metric)

    def not_live(self, ids: NDArray[np.int64]) -> NDArray[np.int64]:
        """Per query: returned ids (padding aside) that are not live (deleted, never
        inserted, or outside the data set)."""
        ids = np.asarray(ids, dtype=np.int64)
        valid = ids >= 0
        inside = valid & (ids < self.n)
        live = np.zeros(ids.shape, dtype=bool)
        live[inside] = self.row_of[ids[inside]] >= 0
        return (valid & ~live).sum(axis=1).astype(np.int64)


def live_ground_truth(dataset: Any, ids: NDArray[np.int64], row_of: NDArray[np.int64], k: int) -> Any:
    """Exact k-NN among ``ids`` whose vectors are ``dataset`` rows ``row_of[ids]``."""
    from vecbench.datasets.base import GroundTruth
    from vecbench.measures.groundtruth import exact_knn

    if ids.size == 0:
        raise ConfigError("no live vector: nothing to search")
    kk = min(k, int(ids.size))
    rows = row_of[ids]
    gt = exact_knn(dataset.rows(rows), dataset.queries, kk, dataset.metric)
    got_ids, dists = ids[gt.ids], gt.distances
    if kk < k:
        pad = k - kk
        got_ids = np.concatenate([got_ids, np.full((got_ids.shape[0], pad), -1, dtype=np.int64)], axis=1)
        dists = np.concatenate([dists, np.full((dists.shape[0], pad), np.inf, dtype=np.float32)], axis=1)
    return GroundTruth(ids=np.ascontiguousarray(got_ids), distances=np.ascontiguousarray(dists))


class _LiveRows:
    """``base`` seen through ``row_of``: indexing by id gives the id's vector, NaN when not live."""

    def __init__(self, base: Any, row_of: NDArray[np.int64]) -> None:
        self.base = base
        self.row_of = row_of
        self.shape = (row_of.shape[0], int(base.shape[1]))

    def __getitem__(self, ids: Any) -> NDArray[np.float32]:
        ids = np.asarray(ids, dtype=np.int64)
        rows = self.row_of[ids]
        out = np.full((*ids.shape, self.shape[1]), np.nan, dtype=np.float32)
        live = rows >= 0
        if live.any():
            out[live] = np.asarray(self.base[rows[live]], dtype=np.float32)
        return out


@dataclass(frozen=True)
class LiveView:
    """What ``score_ids`` reads of a data set (``base``, ``queries``, ``metric``), for the live set."""

    base: Any
    queries: NDArray[np.float32]
    metric: Any
