"""Freshness: bounded backoff polling, never-visible counted (never a number), deletes, semantics."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from vecbench.registry import get_store
from vecbench.spec import CollectionSpec
from vecbench.workloads.freshness import (
    measure_freshness,
    poll_method,
    poll_until,
    store_semantics,
    visibility_stats,
)
from vecbench.workloads.plans import Backoff, FreshnessPlan

MS = 1_000_000


class FakeTime:
    """A clock that moves only when slept on (or by ``cost_ns`` per look at it)."""

    def __init__(self, cost_ns: int = 0) -> None:
        self.now = 0
        self.cost_ns = cost_ns
        self.sleeps: list[float] = []

    def clock(self) -> int:
        self.now += self.cost_ns
        return self.now

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += int(round(s * 1e9))


def _ask_seen_after(t: FakeTime, visible_at_ns: list[int | None]) -> Any:
    def ask(pending: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        now = t.clock()
        seen = np.array([v is not None and now >= v for v in (visible_at_ns[i] for i in pending)])
        return seen, np.full(pending.size, now, dtype=np.int64)

    return ask


def test_poll_until_times_each_item_from_the_write_and_backs_off_within_bounds():
    t = FakeTime()
    backoff = Backoff(initial_ms=1, max_ms=8, factor=2, timeout_s=1)
    seen, polls = poll_until(_ask_seen_after(t, [0, 5 * MS, 50 * MS]), 3, backoff, 0, t.clock, t.sleep)
    # rounds at 0, 1, 3, 7, 15, 23, 31, 39, 47, 55 ms: pauses 1, 2, 4, 8, 8, ... ms
    assert [round(s * 1e3) for s in t.sleeps] == [1, 2, 4, 8, 8, 8, 8, 8, 8]
    assert seen.tolist() == [0, 7 * MS, 55 * MS]
    assert polls.tolist() == [1, 4, 10]


def test_an_item_never_seen_is_counted_not_timed_and_polling_ends_by_the_limit():
    t = FakeTime()
    backoff = Backoff(initial_ms=1, max_ms=100, factor=2, timeout_s=0.5)
    seen, polls = poll_until(_ask_seen_after(t, [None, 2 * MS]), 2, backoff, 0, t.clock, t.sleep)
    assert seen[0] == -1 and seen[1] == 3 * MS
    assert t.now < 500 * MS  # no round starts after the limit
    assert all(s <= 0.1 for s in t.sleeps)  # every pause within max_ms
    assert polls[0] == len(t.sleeps) + 1
    stats = visibility_stats(seen, polls)
    assert stats["visible"] == 1 and stats["not_visible"] == 1 and stats["fraction_visible"] == 0.5
    assert stats["max_ms"] == 3.0  # the never-seen item is not in any time figure
    assert stats["visible_at_first_poll"] == 0


def test_the_first_round_always_runs_even_when_the_write_took_the_whole_limit():
    t = FakeTime()
    t.now = 10 * 10**9  # the clock already past t_write + timeout
    seen, polls = poll_until(_ask_seen_after(t, [0]), 1, Backoff(timeout_s=1), 0, t.clock, t.sleep)
    assert polls.tolist() == [1] and seen[0] >= 0 and t.sleeps == []


def test_stats_with_nothing_seen_hold_no_numbers():
    stats = visibility_stats(np.array([-1, -1]), np.array([4, 4]), seen="gone")
    assert stats["gone"] == 0 and stats["not_gone"] == 2 and stats["fraction_gone"] == 0.0
    assert stats["p50_ms"] is None and stats["p99_ms"] is None and stats["max_ms"] is None


class LaggingStore:
    """A bruteforce store whose writes reach its searches only ``lag`` searches later:
    a test double for an engine that makes writes visible asynchronously."""

    def __init__(self, inner: Any, lag: int) -> None:
        self.inner, self.lag = inner, lag
        self.searches = 0
        self.queue: list[tuple[int, str, Any]] = []
        self.info = inner.info

    def _apply(self) -> None:
        due = [q for q in self.queue if q[0] <= self.searches]
        self.queue = [q for q in self.queue if q[0] > self.searches]
        for _, op, args in due:
            getattr(self.inner, op)(*args)

    def upsert(self, ids: Any, vectors: Any) -> None:
        self.queue.append((self.searches + self.lag, "upsert", (ids, vectors)))

    def delete(self, ids: Any) -> None:
        self.queue.append((self.searches + self.lag, "delete", (ids,)))

    def search(self, q: Any, k: int) -> Any:
        self._apply()
        self.searches += 1
        return self.inner.search(q, k)


@pytest.fixture
def base() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(600, 8)).astype(np.float32)


def _rows(base: np.ndarray) -> Any:
    return lambda a, b: (np.arange(a, b, dtype=np.int64), base[a:b])


def _bruteforce(base: np.ndarray, n0: int) -> Any:
    store = get_store("bruteforce")
    store.__enter__()
    store.create(CollectionSpec("fresh", 8, "euclidean", "flat"))
    store.upsert(np.arange(n0), base[:n0])
    return store


def test_measure_freshness_on_bruteforce_sees_every_write_at_the_first_poll(base):
    store = _bruteforce(base, 300)
    plan = FreshnessPlan(batches=3, batch_size=50, sample=5, backoff=Backoff(timeout_s=2))
    log = measure_freshness(store, store, _rows(base), plan, 10, 300)
    section = log.section()
    ins, dele = section["insert"], section["delete"]
    assert ins["sampled"] == 15 and ins["fraction_visible"] == 1.0 and ins["visible_at_first_poll"] == 15
    assert dele["sampled"] == 15 and dele["fraction_gone"] == 1.0 and dele["gone_at_first_poll"] == 15
    assert section["poll"]["method"] == "search" == poll_method(store)  # embedded: one search per vector
    assert ins["write_ms"]["max_ms"] > 0 and ins["p50_ms"] > 0
    arrays = log.arrays()
    assert arrays["ids"].shape == (30,) and (arrays["ns"] >= 0).all()
    assert set(arrays["ids"][:15].tolist()) == set(arrays["ids"][15:].tolist())  # the visible ones deleted
    assert all(300 <= i < 450 for i in arrays["ids"].tolist())
    assert len(store.search(base[arrays["ids"][0]], 600)) == 300 + 150 - 15
    store.__exit__(None, None, None)


def test_asynchronous_writes_show_as_polls_and_unseen_writes_are_counted(base):
    inner = _bruteforce(base, 300)
    lagging = LaggingStore(inner, lag=12)
    fast = Backoff(initial_ms=0.1, max_ms=0.5, factor=2, timeout_s=5)
    plan = FreshnessPlan(batches=2, batch_size=50, sample=3, backoff=fast, deletes=True)
    section = measure_freshness(lagging, lagging, _rows(base), plan, 10, 300).section()
    ins = section["insert"]
    assert ins["fraction_visible"] == 1.0 and ins["visible_at_first_poll"] == 0
    assert ins["polls"]["max"] > 1 and section["delete"]["fraction_gone"] == 1.0

    never = LaggingStore(inner, lag=10**9)  # never applied within the limit
    short = Backoff(initial_ms=1, max_ms=5, factor=2, timeout_s=0.05)
    plan = FreshnessPlan(batches=2, batch_size=50, sample=4, backoff=short)
    log = measure_freshness(never, never, _rows(base), plan, 10, 400)
    section = log.section()
    assert section["insert"]["visible"] == 0 and section["insert"]["not_visible"] == 8
    assert section["insert"]["p50_ms"] is None and section["insert"]["fraction_visible"] == 0.0
    # nothing became visible, so nothing was deleted to wait for; said, not hidden
    assert section["delete"]["sampled"] == 0 and section["delete"]["not_deleted_never_visible"] == 8
    assert (log.arrays()["ns"] == -1).all()
    inner.__exit__(None, None, None)


def test_store_semantics_picks_the_visibility_facts_of_describe():
    reader = {"consistency_level": "Bounded", "engine": "milvus"}
    writer = {
        "consistency_level": "Strong",
        "build_time_counted_in": "wait_ready",
        "index": {"refresh_interval": "-1"},
    }
    assert store_semantics(reader, writer) == {
        "consistency_level": "Bounded",
        "build_time_counted_in": "wait_ready",
        "refresh_interval": "-1",
    }
