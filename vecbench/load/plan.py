"""What a load test measures: ``LoadPlan``, validated when built (ConfigError on bad input)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from vecbench.errors import ConfigError
from vecbench.util.validation import is_int, is_number

__all__ = ["LoadPlan", "ARRIVALS", "MAX_WORKERS", "MAX_SCHEDULED"]

ARRIVALS = ("poisson", "uniform")
# One worker is one process with its own store client: more than this is a typo, not a plan.
MAX_WORKERS = 1024
# Requests in one open-loop schedule (warm-up + duration): 8 bytes each in a shared file.
MAX_SCHEDULED = 20_000_000
DEFAULT_RATE_WORKERS = 8


MIN_DURATION_S = 0.01  # a measured window shorter than this holds a handful of requests at best


@dataclass(frozen=True)
class LoadPlan:
    """Closed-loop levels, open-loop rates and an optional rate sweep, with their timing.

    - ``concurrency``: closed-loop levels, each a number of worker processes;
    - ``rates``: open-loop arrival rates (requests/s) served by ``rate_workers`` processes
      (default: the largest concurrency level, at least 8);
    - ``duration_s`` measured per level or rate, after ``warmup_s`` of unrecorded load;
    - ``arrival``: ``"poisson"`` (exponential gaps) or ``"uniform"`` (equal gaps);
    - ``p99_target_ms``: run a rate sweep for the highest rate whose p99 meets it;
    - ``request_timeout_s``: how long past the end of a level a request may still be
      running before the level is called failed and its workers killed;
    - ``setup_timeout_s``: bound on starting the workers and attaching their stores.

    >>> LoadPlan(concurrency=[1, 2], duration_s=5).concurrency
    (1, 2)
    """

    concurrency: tuple[int, ...] = ()
    rates: tuple[float, ...] = ()
    duration_s: float = 10.0
    warmup_s: float = 1.0
    arrival: Literal["poisson", "uniform"] = "poisson"
    rate_workers: int | None = None
    p99_target_ms: float | None = None
    seed: int = 0
    request_timeout_s: float = 30.0
    setup_timeout_s: float = 120.0
    sweep_max_tries: int = 8
    sweep_min_achieved: float = 0.95

    def __post_init__(self) -> None:
        levels = tuple(_count(c, "concurrency level") for c in _seq(self.concurrency, "concurrency"))
        object.__setattr__(self, "concurrency", levels)
        object.__setattr__(self, "rates", tuple(_rate(r) for r in _seq(self.rates, "rates")))
        duration = _number(self.duration_s, "duration_s")
        if duration <= 0:
            raise ConfigError(f"duration_s must be > 0, got {self.duration_s!r}")
        if duration < MIN_DURATION_S:
            raise ConfigError(
                f"duration_s={duration:g} is shorter than one request takes on most stores; "
                f"a measured window needs at least {MIN_DURATION_S:g} s (seconds give a stable p99)"
            )
        warmup = _number(self.warmup_s, "warmup_s")
        if warmup < 0:
            raise ConfigError(f"warmup_s must be >= 0, got {self.warmup_s!r}")
        object.__setattr__(self, "duration_s", duration)
        object.__setattr__(self, "warmup_s", warmup)
        if self.arrival not in ARRIVALS:
            raise ConfigError(f"unknown arrival {self.arrival!r}; valid: {', '.join(ARRIVALS)}")
        if self.rate_workers is not None:
            object.__setattr__(self, "rate_workers", _count(self.rate_workers, "rate_workers"))
        if self.p99_target_ms is not None:
            target = _number(self.p99_target_ms, "p99_target_ms")
            if target <= 0:
                raise ConfigError(f"p99_target_ms must be > 0, got {self.p99_target_ms!r}")
            object.__setattr__(self, "p99_target_ms", target)
        if not is_int(self.seed) or self.seed < 0:
            raise ConfigError(f"seed must be an integer >= 0, got {self.seed!r}")
        for name in ("request_timeout_s", "setup_timeout_s"):
            value = _number(getattr(self, name), name)
            if value <= 0:
                raise ConfigError(f"{name} must be > 0, got {getattr(self, name)!r}")
            object.__setattr__(self, name, value)
        tries = self.sweep_max_tries
        if not is_int(tries) or not 1 <= tries <= 100:
            raise ConfigError(f"sweep_max_tries must be an integer in [1, 100], got {tries!r}")
        share = _number(self.sweep_min_achieved, "sweep_min_achieved")
        if not 0 < share <= 1:
            raise ConfigError(f"sweep_min_achieved must be in (0, 1], got {self.sweep_min_achieved!r}")
        if not levels and not self.rates:
            if self.p99_target_ms is not None:
                raise ConfigError(
                    "a rate sweep (p99_target_ms) starts from the given rates or from the closed-loop "
                    "QPS: give rates or concurrency levels too"
                )
            raise ConfigError("nothing to measure: give concurrency levels, rates, or both")
        for rate in self.rates:
            self.check_rate(rate)

    @property
    def open_loop_workers(self) -> int:
        """Worker processes serving the open-loop rates and the rate sweep."""
        if self.rate_workers is not None:
            return self.rate_workers
        return max(DEFAULT_RATE_WORKERS, *self.concurrency) if self.concurrency else DEFAULT_RATE_WORKERS

    def check_rate(self, rate: float) -> None:
        """Refuse a rate that schedules no request in the window, or too many to hold."""
        if rate * self.duration_s < 1:
            raise ConfigError(
                f"rate {rate:g}/s over duration_s={self.duration_s:g} schedules less than one request; "
                "raise the rate or the duration"
            )
        scheduled = rate * (self.duration_s + self.warmup_s)
        if scheduled > MAX_SCHEDULED:
            raise ConfigError(
                f"rate {rate:g}/s over {self.duration_s + self.warmup_s:g} s schedules {scheduled:.0f} requests, "
                f"more than {MAX_SCHEDULED}; lower the rate or the duration"
            )

    def as_dict(self) -> dict[str, Any]:
        return {
            "concurrency": list(self.concurrency),
            "rates": list(self.rates),
            "duration_s": self.duration_s,
            "warmup_s": self.warmup_s,
            "arrival": self.arrival,
            "rate_workers": self.rate_workers,
            "p99_target_ms": self.p99_target_ms,
            "seed": self.seed,
            "request_timeout_s": self.request_timeout_s,
        }


def _seq(value: Any, name: str) -> tuple[Any, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ConfigError(f"{name} must be a list of numbers, got {value!r}")
    return tuple(value)


def _number(value: Any, name: str) -> float:
    ok = is_number(value)
    if not ok or not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _count(value: Any, name: str) -> int:
    if not is_int(value) or value <= 0:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    if value > MAX_WORKERS:
        raise ConfigError(f"{name} {value} is more than {MAX_WORKERS} worker processes")
    return int(value)


def _rate(value: Any) -> float:
    rate = _number(value, "rate")
    if rate <= 0:
        raise ConfigError(f"rate must be > 0 requests/s, got {value!r}")
    return rate
