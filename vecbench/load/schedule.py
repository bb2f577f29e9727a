"""Seeded query orders and arrival schedules: the same seed gives the same load, always.

A closed-loop worker sends queries in an order of its own: successive seeded
permutations of all queries, seeded by ``(seed, worker)``, so no two workers replay the
same order and a rerun with the same seed replays exactly the same one. An open-loop
schedule is a sorted array of send times (ns after the start) at a target rate.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from vecbench.errors import ConfigError

__all__ = ["QueryStream", "query_order", "arrival_schedule", "OPEN_LOOP_STREAM"]

# Stream number of the open-loop query order (closed-loop workers use 0, 1, 2, ...).
OPEN_LOOP_STREAM = 1 << 20
# A stream hands out at least this many indices at a time, so a tiny query set does not
# cost a permutation per request inside the timed loop.
_MIN_BLOCK = 4096
_NS_PER_S = 1_000_000_000


class QueryStream:
    """Endless query indices for one worker: permutation after permutation of range(nq)."""

    def __init__(self, seed: int, worker: int, nq: int) -> None:
        if nq <= 0:
            raise ConfigError(f"a load needs at least one query, got {nq}")
        self._rng = np.random.default_rng([seed, worker])
        self.nq = nq
        self._perms = max(1, math.ceil(_MIN_BLOCK / nq))

    def next_block(self) -> NDArray[np.int64]:
        """The next whole permutations (together at least a few thousand indices)."""
        return np.concatenate([self._rng.permutation(self.nq) for _ in range(self._perms)])


def query_order(seed: int, worker: int, nq: int, count: int) -> NDArray[np.int64]:
    """The first ``count`` query indices worker ``worker`` sends under ``seed``.

    >>> query_order(0, 0, 5, 5).tolist() == query_order(0, 0, 5, 5).tolist()
    True
    >>> sorted(query_order(0, 1, 5, 5).tolist())
    [0, 1, 2, 3, 4]
    """
    stream = QueryStream(seed, worker, nq)
    blocks: list[NDArray[np.int64]] = []
    have = 0
    while have < count:
        blocks.append(stream.next_block())
        have += blocks[-1].shape[0]
    if not blocks:
        return np.empty(0, dtype=np.int64)
    return np.concatenate(blocks)[:count].astype(np.int64, copy=False)


def arrival_schedule(
    rate: float, duration_s: float, arrival: str, seed: int, *, warmup_s: float = 0.0
) -> NDArray[np.int64]:
    """Send times in ns after the start, sorted, all before ``warmup_s + duration_s``.

    ``uniform``: one request every ``1/rate`` s from 0. ``poisson``: the arrivals of a
    Poisson process conditioned on its count: ``round(rate * duration_s)`` uniform random
    times in the measured window (and ``round(rate * warmup_s)`` in the warm-up before it),
    sorted. The gaps are (close to) exponential, as in a Poisson process, while the number
    of requests offered in the window is exactly the target rate times the duration, so the
    achieved rate can be compared with the target without Poisson count noise. Seeded by
    ``(seed, rate)``.

    >>> arrival_schedule(4, 1.0, "uniform", 0).tolist()
    [0, 250000000, 500000000, 750000000]
    """
    if not rate > 0 or not duration_s > 0 or not warmup_s >= 0:
        raise ConfigError(f"rate and duration must be > 0, got {rate!r} and {duration_s!r}")
    span_ns = (warmup_s + duration_s) * _NS_PER_S
    if arrival == "uniform":
        n = math.ceil(rate * (warmup_s + duration_s))
        times = np.arange(n, dtype=np.float64) * (_NS_PER_S / rate)
        return times[times < span_ns].astype(np.int64)
    if arrival != "poisson":
        raise ConfigError(f"unknown arrival {arrival!r}; valid: poisson, uniform")
    rng = np.random.default_rng([seed, 2, int(round(rate * 1000))])
    warm_ns = warmup_s * _NS_PER_S
    warm = rng.uniform(0.0, warm_ns, size=round(rate * warmup_s)) if warm_ns > 0 else np.empty(0)
    window = rng.uniform(warm_ns, span_ns, size=max(1, round(rate * duration_s)))
    times = np.concatenate([np.sort(warm), np.sort(window)])
    return np.minimum(times.astype(np.int64), int(span_ns) - 1)
