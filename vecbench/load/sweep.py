"""Rate sweep: the highest open-loop rate whose p99 meets a target, in a bounded number of tries.

A rate *meets* the target when its row is ok, had no errors, its p99 is at most the
target and its achieved rate is at least ``min_achieved`` of the target rate (a store that
cannot keep up is not "meeting" anything). The search brackets the answer: double the
highest passing rate while nothing above it failed, halve the lowest failing one while
nothing passed, else try the geometric midpoint of the bracket; it stops when the bracket
is within ``resolution`` (10 %) or after ``max_tries`` new tries. Every try is recorded.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["rate_sweep", "meets_target"]

RESOLUTION = 1.1
START_SHARE_OF_QPS = 0.5  # without given rates, the first try is half the best closed-loop QPS


def meets_target(row: dict[str, Any], p99_target_ms: float, min_achieved: float) -> bool:
    return (
        row["status"] == "ok"
        and not row["errors"]
        and row["p99_ms"] <= p99_target_ms
        and row["achieved_rate"] >= min_achieved * row["target_rate"]
    )


def rate_sweep(
    measure: Callable[[float], dict[str, Any]],
    p99_target_ms: float,
    *,
    measured: Sequence[dict[str, Any]] = (),
    start_qps: float | None = None,
    max_tries: int = 8,
    min_achieved: float = 0.95,
    rate_ok: Callable[[float], bool] = lambda rate: True,
    resolution: float = RESOLUTION,
) -> dict[str, Any]:
    """The record's ``rate_sweep`` section.

    ``measure(rate)`` runs one open-loop rate and returns its row. ``measured`` are rows
    already run (the plan's rates): the sweep starts from them and lists them as tries.
    Without any, it starts at half of ``start_qps`` (the best closed-loop QPS).
    ``rate_ok(rate)`` says whether a rate may be run at all (schedule size limits).
    """
    tried = [dict(r) for r in measured]
    new = 0
    if not tried:
        if start_qps and start_qps > 0 and rate_ok(start_qps * START_SHARE_OF_QPS):
            tried.append(measure(start_qps * START_SHARE_OF_QPS))
            new = 1
    while tried and new < max_tries:
        nxt = _next_rate(tried, p99_target_ms, min_achieved, resolution)
        if nxt is None or not rate_ok(nxt):
            break
        tried.append(measure(nxt))
        new += 1
    passing = [r["target_rate"] for r in tried if meets_target(r, p99_target_ms, min_achieved)]
    return {"p99_target_ms": p99_target_ms, "max_rate": max(passing) if passing else None, "tried": tried}


def _next_rate(
    tried: list[dict[str, Any]], target: float, min_achieved: float, resolution: float
) -> float | None:
    passing = [r["target_rate"] for r in tried if meets_target(r, target, min_achieved)]
    failing = [r["target_rate"] for r in tried if not meets_target(r, target, min_achieved)]
    if not passing:
        return min(failing) / 2
    lo = max(passing)
    hi = min((f for f in failing if f > lo), default=None)
    if hi is None:
        return lo * 2
    if hi / lo <= resolution:
        return None
    return math.sqrt(lo * hi)
