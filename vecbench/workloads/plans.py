"""What the streaming workloads measure: ``FreshnessPlan`` and ``IngestPlan``, validated when built.

Both build a collection from the first ``initial_fraction`` of a data set's base vectors and
then write the rows after it, in order, so the rows written are known before the run and
the plan can be checked against the data set before any work (``check``).

    plan = FreshnessPlan(batches=10, batch_size=100, sample=10, timeout_s=10)
    plan.check(dataset)   # ConfigError when the data set has too few rows for it
    ingest = IngestPlan(insert_rates=(0, 500, 2000), search_rate=200, duration_s=10)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from vecbench.errors import ConfigError
from vecbench.load.plan import ARRIVALS
from vecbench.util.validation import is_int, is_number

__all__ = ["Backoff", "FreshnessPlan", "IngestPlan", "READERS", "parse_plan"]

READERS = ("auto", "same")
"""Who searches: ``auto`` = a store of its own (own connection, ``attach``) for a server store
that can share its collection, else the writer's store object; ``same`` = always the writer's."""


@dataclass(frozen=True)
class Backoff:
    """Bounded exponential backoff between polls: ``initial_ms``, times ``factor`` after each
    poll, never more than ``max_ms``; polling stops ``timeout_s`` after the write returned.

    >>> Backoff(initial_ms=1, max_ms=5, factor=2).delays_ms(5)
    [1.0, 2.0, 4.0, 5.0, 5.0]
    """

    initial_ms: float = 1.0
    max_ms: float = 100.0
    factor: float = 2.0
    timeout_s: float = 10.0

    def __post_init__(self) -> None:
        for name in ("initial_ms", "max_ms", "timeout_s"):
            _set(self, name, _positive(getattr(self, name), name))
        factor = _number(self.factor, "factor")
        if factor < 1:
            raise ConfigError(f"factor must be >= 1, got {self.factor!r}")
        _set(self, "factor", factor)
        if self.max_ms < self.initial_ms:
            raise ConfigError(f"max_ms ({self.max_ms:g}) must be >= initial_ms ({self.initial_ms:g})")

    def delay_ms(self, polls_done: int) -> float:
        """The pause after the ``polls_done``-th poll (1-based), bounded by ``max_ms``."""
        exponent = max(0, polls_done - 1)
        if exponent > 1000:  # factor ** exponent would overflow; the bound holds long before
            return self.max_ms
        return float(min(self.max_ms, self.initial_ms * self.factor**exponent))

    def delays_ms(self, n: int) -> list[float]:
        return [self.delay_ms(i) for i in range(1, n + 1)]


@dataclass(frozen=True)
class FreshnessPlan:
    """Time until written vectors are searchable, and deleted ones are gone.

    - ``initial_fraction`` of the base is built first (create, upsert, wait_ready);
    - then ``batches`` upserts of ``batch_size`` new rows each; after each, a ``sample`` of
      its rows is polled (a search for the vector itself, k = the run's k) until its id is
      returned, with ``backoff`` between polls, for at most ``backoff.timeout_s``;
    - with ``deletes``, each batch's sampled rows that became visible are then deleted in
      one call and polled until their id is no longer returned;
    - ``wait_ready``: call the store's wait_ready after each write, inside the measured time
      (what forcing visibility costs: a refresh, a flush); default off: the engine as it is;
    - ``reader``: see ``READERS``; ``seed`` picks the sample.
    """

    initial_fraction: float = 0.5
    batches: int = 10
    batch_size: int = 100
    sample: int = 10
    backoff: Backoff = field(default_factory=Backoff)
    deletes: bool = True
    wait_ready: bool = False
    reader: str = "auto"
    seed: int = 0

    def __post_init__(self) -> None:
        _set(self, "initial_fraction", _fraction(self.initial_fraction))
        for name in ("batches", "batch_size", "sample"):
            _set(self, name, _count(getattr(self, name), name))
        if self.sample > self.batch_size:
            raise ConfigError(f"sample ({self.sample}) must be <= batch_size ({self.batch_size})")
        _set(self, "backoff", _backoff(self.backoff))
        for name in ("deletes", "wait_ready"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be true or false, got {getattr(self, name)!r}")
        _check_common(self)

    @property
    def rows_written(self) -> int:
        return self.batches * self.batch_size

    def check(self, n: int) -> int:
        """The number of rows built first for a base of ``n`` rows; ConfigError when the
        rows after them are too few for every batch."""
        return _check_rows(n, self.initial_fraction, self.rows_written, f"{self.batches} x {self.batch_size}")

    def identity(self) -> dict[str, Any]:
        """What makes a freshness cell, for its id (everything but nothing)."""
        return {"workload": "freshness", **self.as_dict()}

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class IngestPlan:
    """Search latency and recall while vectors stream in (VectorDBBench's streaming case).

    For each rate of ``insert_rates`` (vectors/s; 0 = no writes, the baseline), a fresh
    collection of ``initial_fraction`` of the base is built, then for ``warmup_s +
    duration_s``: a writer upserts the following rows in batches of ``insert_batch_size``
    on a fixed schedule (a batch due every ``insert_batch_size / rate`` s; a late writer
    catches up at once), while an open-loop stream of searches arrives at ``search_rate``
    (``arrival``: poisson or uniform, seeded) and is served by ``search_threads`` threads.
    Latency runs from each search's scheduled time (queueing counts: no coordinated
    omission). Searches sent during the warm-up are not recorded. ``request_timeout_s``
    bounds how long after the window the last searches may still run.
    """

    insert_rates: tuple[float, ...] = (0.0, 1000.0)
    search_rate: float = 100.0
    duration_s: float = 10.0
    warmup_s: float = 1.0
    insert_batch_size: int = 100
    search_threads: int = 4
    arrival: str = "poisson"
    initial_fraction: float = 0.5
    request_timeout_s: float = 30.0
    reader: str = "auto"
    seed: int = 0

    def __post_init__(self) -> None:
        rates = self.insert_rates
        if isinstance(rates, (str, bytes)) or not isinstance(rates, Iterable):
            raise ConfigError(f"insert_rates must be a list of vectors/s (0 = baseline), got {rates!r}")
        checked = tuple(_non_negative(r, "insert rate") for r in rates)
        if not checked:
            raise ConfigError("insert_rates: give at least one rate (0 = baseline)")
        if len(set(checked)) != len(checked):
            raise ConfigError(f"insert_rates repeats a rate: {list(checked)}")
        _set(self, "insert_rates", checked)
        for name in ("search_rate", "duration_s", "request_timeout_s"):
            _set(self, name, _positive(getattr(self, name), name))
        warmup = _number(self.warmup_s, "warmup_s")
        if warmup < 0:
            raise ConfigError(f"warmup_s must be >= 0, got {self.warmup_s!r}")
        _set(self, "warmup_s", warmup)
        _set(self, "insert_batch_size", _count(self.insert_batch_size, "insert_batch_size"))
        threads = _count(self.search_threads, "search_threads")
        if threads > 256:
            raise ConfigError(f"search_threads must be at most 256, got {threads}")
        _set(self, "search_threads", threads)
        if self.arrival not in ARRIVALS:
            raise ConfigError(f"unknown arrival {self.arrival!r}; valid: {', '.join(ARRIVALS)}")
        if self.search_rate * self.duration_s < 1:
            raise ConfigError(
                f"search_rate {self.search_rate:g}/s over duration_s={self.duration_s:g} schedules less than "
                "one search; raise the rate or the duration"
            )
        _set(self, "initial_fraction", _fraction(self.initial_fraction))
        _check_common(self)

    @property
    def span_s(self) -> float:
        return self.warmup_s + self.duration_s

    def rows_needed(self, rate: float) -> int:
        """Rows the writer may upsert at ``rate`` over warm-up and window (whole batches)."""
        if rate <= 0:
            return 0
        return math.ceil(rate * self.span_s / self.insert_batch_size) * self.insert_batch_size

    def check(self, n: int) -> int:
        """Rows built first for a base of ``n`` rows; ConfigError when the fastest rate
        would run out of rows to write."""
        top = max(self.insert_rates)
        what = f"insert rate {top:g}/s over {self.span_s:g} s"
        return _check_rows(n, self.initial_fraction, self.rows_needed(top), what)

    def identity(self, rate: float) -> dict[str, Any]:
        """What makes the cell of one insert rate, for its id."""
        out = {"workload": "ingest_load", **self.as_dict(), "insert_rate": rate}
        out.pop("insert_rates")
        return out

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["insert_rates"] = list(self.insert_rates)
        return out


def parse_plan(value: Any, cls: type[Any], name: str) -> Any:
    """A plan of ``cls`` from an instance, a mapping of its fields, ``True`` (defaults) or None."""
    if value is None or value is False:
        return None
    if isinstance(value, cls):
        return value
    if value is True:
        return cls()
    if not isinstance(value, Mapping):
        raise ConfigError(f"{name}: expected a mapping of settings, got {type(value).__name__}")
    known = sorted(f.name for f in fields(cls))
    unknown = sorted(set(map(str, value)) - set(known))
    if unknown:
        raise ConfigError(f"{name}: unknown key(s) {', '.join(unknown)}; valid: {', '.join(known)}")
    try:
        return cls(**{str(k): v for k, v in value.items()})
    except ConfigError as exc:
        raise ConfigError(f"{name}: {exc}") from None


# -- checks ---------------------------------------------------------------------------------


def _set(obj: Any, name: str, value: Any) -> None:
    object.__setattr__(obj, name, value)


def _check_common(plan: Any) -> None:
    if plan.reader not in READERS:
        raise ConfigError(f"unknown reader {plan.reader!r}; valid: {', '.join(READERS)}")
    if not is_int(plan.seed) or plan.seed < 0:
        raise ConfigError(f"seed must be an integer >= 0, got {plan.seed!r}")


def _check_rows(n: int, fraction: float, needed: int, what: str) -> int:
    initial = int(n * fraction)
    if initial < 1:
        raise ConfigError(f"initial_fraction {fraction:g} of {n} base rows builds an empty collection")
    left = n - initial
    if needed > left:
        raise ConfigError(
            f"{what} writes {needed} rows, but the data set has {left} rows after the "
            f"{initial} built first (initial_fraction {fraction:g} of {n}); lower them or use a larger data set"
        )
    return initial


def _backoff(value: Any) -> Backoff:
    if isinstance(value, Backoff):
        return value
    if not isinstance(value, Mapping):
        raise ConfigError(f"backoff must be a mapping (initial_ms, max_ms, factor, timeout_s), got {value!r}")
    known = sorted(f.name for f in fields(Backoff))
    unknown = sorted(set(map(str, value)) - set(known))
    if unknown:
        raise ConfigError(f"backoff: unknown key(s) {', '.join(unknown)}; valid: {', '.join(known)}")
    return Backoff(**{str(k): v for k, v in value.items()})


def _number(value: Any, name: str) -> float:
    if not is_number(value) or not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _positive(value: Any, name: str) -> float:
    number = _number(value, name)
    if number <= 0:
        raise ConfigError(f"{name} must be > 0, got {value!r}")
    return number


def _non_negative(value: Any, name: str) -> float:
    number = _number(value, name)
    if number < 0:
        raise ConfigError(f"{name} must be >= 0 (0 = baseline), got {value!r}")
    return number


def _fraction(value: Any) -> float:
    number = _number(value, "initial_fraction")
    if not 0 < number < 1:
        raise ConfigError(f"initial_fraction must be in (0, 1), got {value!r}")
    return number


def _count(value: Any, name: str) -> int:
    if not is_int(value) or value <= 0:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    return int(value)
