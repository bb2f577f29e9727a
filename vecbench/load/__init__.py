"""Load tests: closed-loop concurrency levels, open-loop arrival rates, a p99 rate sweep.

Every worker is a process of its own (``spawn``) that builds its own store client from
config and attaches the collection the harness built (``Store.share()``), so no live
connection is ever shared. Closed loop: N workers, each with its own seeded query order,
send back to back for a fixed duration after a warm-up. Open loop: requests are sent at
the times of a seeded schedule (Poisson or uniform) by a pool of workers, and latency
runs from each request's scheduled time, so queueing delay counts (no coordinated
omission).

    from vecbench.load import LoadPlan, measure_load
    handle = share_handle(store)  # store.share(); CapabilityError if it is not Shareable
    plan = LoadPlan(concurrency=(1, 2, 4, 8), rates=(500, 1000), duration_s=10, p99_target_ms=5)
    section = measure_load(handle, "faiss", {}, queries, 10, {"ef_search": 64}, plan)
"""

from __future__ import annotations

from vecbench.load.measure import LoadRunner, measure_load, share_handle
from vecbench.load.plan import LoadPlan
from vecbench.load.schedule import arrival_schedule, query_order
from vecbench.load.sweep import meets_target, rate_sweep

__all__ = [
    "LoadPlan",
    "LoadRunner",
    "measure_load",
    "share_handle",
    "arrival_schedule",
    "query_order",
    "rate_sweep",
    "meets_target",
]
