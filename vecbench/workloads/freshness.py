"""Freshness: how long after a write returns a search sees it (and stops seeing a deleted vector).

After each upsert of a batch of new rows, a sample of them is polled: a search for the
vector itself, until its own id comes back. A poll round searches every still-pending
vector of the sample: a server store in one ``search_batch`` call where it has one (a round
trip each would add the searches of the other vectors to every vector's time: Milvus's
Strong consistency costs ~200 ms a search), an embedded store with one ``search`` per
vector (microseconds each; its batch search goes through a thread pool whose wake-up on a
busy machine costs more than the searches). Between rounds the poller waits with bounded
exponential backoff (``Backoff``); it gives up ``backoff.timeout_s`` after the write
returned. A vector's time to visible is the time from the end of the write call to the end
of the first search call that returned it: an upper bound (by that search's latency, plus
the pause before it) of the moment it became visible. A vector never
returned within the limit is counted as not visible and has no time: it never becomes a
number. Deletes are measured the same way, waiting until the id is no longer returned.

    log = measure_freshness(writer, reader, rows, plan, k=10, first_row=10_000)
    section = log.section()     # p50/p99/max time to visible, fraction visible, polls
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vecbench.store import BatchSearch
from vecbench.workloads.plans import Backoff, FreshnessPlan

__all__ = [
    "poll_until",
    "poll_method",
    "visibility_stats",
    "FreshnessLog",
    "measure_freshness",
    "store_semantics",
]

# ask(pending) -> (seen now?, clock at the end of the call that looked, per pending item)
Ask = Callable[[NDArray[np.int64]], tuple[NDArray[np.bool_], NDArray[np.int64]]]
RowsFn = Callable[[int, int], tuple[NDArray[np.int64], NDArray[np.float32]]]
_NS_PER_MS = 1e6


def poll_until(
    ask: Ask,
    n: int,
    backoff: Backoff,
    t_write_ns: int,
    clock: Callable[[], int] = time.perf_counter_ns,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Poll ``n`` items until each is seen or ``backoff.timeout_s`` after ``t_write_ns`` passed.

    ``ask(pending)`` gets the indices still pending and returns, for each, whether it is
    seen now and the clock (ns) at the end of the call that looked. Returns (ns from
    ``t_write_ns`` to the end of the call that first saw each item, -1 for one never seen;
    polls each item took part in). The pause after the i-th
    round is ``backoff.delay_ms(i)``; a round that would start after the time limit is not
    run (the first round always runs), so polling ends by the limit plus one round.
    """
    seen_ns = np.full(n, -1, dtype=np.int64)
    polls = np.zeros(n, dtype=np.int64)
    limit_ns = t_write_ns + int(backoff.timeout_s * 1e9)
    pending = np.arange(n, dtype=np.int64)
    rounds = 0
    while pending.size:
        found, done = ask(pending)
        found = np.asarray(found, dtype=bool)
        t = clock()
        rounds += 1
        polls[pending] += 1
        seen_ns[pending[found]] = np.asarray(done, dtype=np.int64)[found] - t_write_ns
        pending = pending[~found]
        pause_ns = int(backoff.delay_ms(rounds) * _NS_PER_MS)
        if not pending.size or t + pause_ns >= limit_ns:
            break  # a round is never started after the limit
        sleep(pause_ns / 1e9)
    return seen_ns, polls


def visibility_stats(
    seen_ns: NDArray[np.int64], polls: NDArray[np.int64], seen: str = "visible"
) -> dict[str, Any]:
    """Counts, fraction and time percentiles (ms) of a poll log; times over the seen items only.

    ``<seen>_at_first_poll`` counts items already seen by the first search after the write
    returned: for them the engine showed the write at once and the time is that one
    search's latency (plus the clock reads around it).

    >>> s = visibility_stats(np.array([2_000_000, -1]), np.array([1, 9]))
    >>> s["visible"], s["not_visible"], s["fraction_visible"], s["p50_ms"]
    (1, 1, 0.5, 2.0)
    """
    seen_ns = np.asarray(seen_ns, dtype=np.int64)
    ok = seen_ns >= 0
    n, hit = int(seen_ns.size), int(ok.sum())
    ms = seen_ns[ok].astype(np.float64) / _NS_PER_MS
    pct = [float(x) for x in np.percentile(ms, [50.0, 99.0])] if hit else [None, None]
    return {
        "sampled": n,
        seen: hit,
        f"not_{seen}": n - hit,
        f"fraction_{seen}": hit / n if n else None,
        "p50_ms": pct[0],
        "p99_ms": pct[1],
        "max_ms": float(ms.max()) if hit else None,
        "mean_ms": float(ms.mean()) if hit else None,
        f"{seen}_at_first_poll": int((ok & (polls == 1)).sum()),
        "polls": {
            "total": int(polls.sum()),
            "mean": float(polls.mean()) if n else None,
            "max": int(polls.max()) if n else None,
        },
    }


@dataclass
class FreshnessLog:
    """Raw times of one freshness run: per sampled id, the ns to visible (or gone) and polls."""

    k: int
    poll_method: str
    backoff: Backoff
    insert_ids: list[NDArray[np.int64]] = field(default_factory=list)
    insert_ns: list[NDArray[np.int64]] = field(default_factory=list)
    insert_polls: list[NDArray[np.int64]] = field(default_factory=list)
    delete_ids: list[NDArray[np.int64]] = field(default_factory=list)
    delete_ns: list[NDArray[np.int64]] = field(default_factory=list)
    delete_polls: list[NDArray[np.int64]] = field(default_factory=list)
    write_ns: list[int] = field(default_factory=list)  # each upsert call
    delete_call_ns: list[int] = field(default_factory=list)
    deletes_skipped: int = 0  # sampled ids never visible: nothing to wait for after deleting them

    @staticmethod
    def _cat(parts: list[NDArray[np.int64]]) -> NDArray[np.int64]:
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)

    def arrays(self) -> dict[str, NDArray[Any]]:
        """Every sampled id in order (inserts, then deletes), its ns (-1: never) and polls."""
        ins, dels = self._cat(self.insert_ids), self._cat(self.delete_ids)
        return {
            "ids": np.concatenate([ins, dels]),
            "ns": np.concatenate([self._cat(self.insert_ns), self._cat(self.delete_ns)]),
            "polls": np.concatenate([self._cat(self.insert_polls), self._cat(self.delete_polls)]),
            "deleted": np.concatenate([np.zeros(ins.size), np.ones(dels.size)]),
        }

    def section(self) -> dict[str, Any]:
        """The record's ``freshness`` measurements (the harness adds what it knows)."""
        insert = visibility_stats(self._cat(self.insert_ns), self._cat(self.insert_polls), "visible")
        insert["write_ms"] = _ms_summary(self.write_ns)
        delete = None
        if self.delete_ns or self.deletes_skipped:
            delete = visibility_stats(self._cat(self.delete_ns), self._cat(self.delete_polls), "gone")
            delete["write_ms"] = _ms_summary(self.delete_call_ns)
            delete["not_deleted_never_visible"] = self.deletes_skipped
        return {
            "insert": insert,
            "delete": delete,
            "poll": {"method": self.poll_method, "k": self.k, "backoff": vars(self.backoff).copy()},
        }


def _ms_summary(ns: list[int]) -> dict[str, float] | None:
    if not ns:
        return None
    ms = np.asarray(ns, dtype=np.float64) / _NS_PER_MS
    return {"p50_ms": float(np.median(ms)), "max_ms": float(ms.max()), "mean_ms": float(ms.mean())}


def poll_method(reader: Any) -> str:
    """``search_batch`` for a server store that has it, else ``search`` (see the module docstring)."""
    embedded = bool(getattr(getattr(reader, "info", None), "embedded", True))
    return "search_batch" if isinstance(reader, BatchSearch) and not embedded else "search"


def _asker(reader: Any, vectors: NDArray[np.float32], ids: NDArray[np.int64], k: int, present: bool) -> Ask:
    """``ask(pending)``: is each pending id returned (present) / not returned (not present) now."""
    batch = poll_method(reader) == "search_batch"

    clock = time.perf_counter_ns

    def ask(pending: NDArray[np.int64]) -> tuple[NDArray[np.bool_], NDArray[np.int64]]:
        want = ids[pending]
        if batch:
            got = np.asarray(reader.search_batch(vectors[pending], k))
            done = np.full(pending.size, clock(), dtype=np.int64)
            hit = (got == want[:, None]).any(axis=1)
        else:
            hit = np.zeros(pending.size, dtype=bool)
            done = np.empty(pending.size, dtype=np.int64)
            for j, i in enumerate(pending.tolist()):
                got = reader.search(vectors[i], k)
                done[j] = clock()
                hit[j] = int(want[j]) in np.asarray(got).tolist()
        return (hit if present else ~hit), done

    return ask


def measure_freshness(
    writer: Any,
    reader: Any,
    rows: RowsFn,
    plan: FreshnessPlan,
    k: int,
    first_row: int,
    ready_timeout_s: float = 600.0,
) -> FreshnessLog:
    """Write ``plan.batches`` batches of rows from ``first_row`` on through ``writer``, poll a
    sample of each through ``reader``; then (``plan.deletes``) delete each batch's visible
    sample and poll until gone. ``rows(lo, hi)`` gives (ids, float32 vectors) of base rows."""
    rng = np.random.default_rng([plan.seed, 7])
    log = FreshnessLog(k, poll_method(reader), plan.backoff)
    visible: list[tuple[NDArray[np.int64], NDArray[np.float32]]] = []
    clock = time.perf_counter_ns
    for b in range(plan.batches):
        lo = first_row + b * plan.batch_size
        ids, vectors = rows(lo, lo + plan.batch_size)
        pick = np.sort(rng.choice(ids.shape[0], size=plan.sample, replace=False))
        s_ids, s_vec = ids[pick], np.ascontiguousarray(vectors[pick])
        ask = _asker(reader, s_vec, s_ids, k, True)  # made before the clock starts
        t0 = clock()
        writer.upsert(ids, vectors)
        t_end = clock()
        log.write_ns.append(t_end - t0)
        if plan.wait_ready:
            writer.wait_ready(ready_timeout_s)
        ns, polls = poll_until(ask, pick.size, plan.backoff, t_end)
        log.insert_ids.append(s_ids)
        log.insert_ns.append(ns)
        log.insert_polls.append(polls)
        visible.append((s_ids[ns >= 0], s_vec[ns >= 0]))
        log.deletes_skipped += int((ns < 0).sum())
    if not plan.deletes:
        log.deletes_skipped = 0
        return log
    for d_ids, d_vec in visible:
        if not d_ids.size:
            continue
        ask = _asker(reader, d_vec, d_ids, k, False)
        t0 = clock()
        writer.delete(d_ids)
        t_end = clock()
        log.delete_call_ns.append(t_end - t0)
        if plan.wait_ready:
            writer.wait_ready(ready_timeout_s)
        ns, polls = poll_until(ask, d_ids.size, plan.backoff, t_end)
        log.delete_ids.append(d_ids)
        log.delete_ns.append(ns)
        log.delete_polls.append(polls)
    return log


# Keys of describe() that say when a write becomes searchable.
_SEMANTIC_KEYS = ("build_time_counted_in", "consistency_level", "consistency_rule", "refresh_interval")


def store_semantics(*described: Mapping[str, Any]) -> dict[str, Any]:
    """What the stores' ``describe()`` (writer's, then reader's) say about write visibility:
    the keys of ``_SEMANTIC_KEYS`` found at the top or one level down, first one wins.

    >>> store_semantics({"consistency_level": "Strong", "index_settings": {"refresh_interval": "-1"}})
    {'consistency_level': 'Strong', 'refresh_interval': '-1'}
    """
    out: dict[str, Any] = {}
    for d in described:
        for key, value in d.items():
            if key in _SEMANTIC_KEYS:
                out.setdefault(key, value)
            elif isinstance(value, Mapping):
                for inner, v in value.items():
                    if inner in _SEMANTIC_KEYS:
                        out.setdefault(str(inner), v)
    return out
