"""HdrHistograms of request latencies: one per load actor, shipped encoded, merged exactly.

A load actor records its latencies (ns) into an HdrHistogram of 3 significant digits over
1 ns .. 1 h, encodes it (a few kB whatever the request count) and sends that instead of
the raw samples; the driver decodes and adds the histograms. Adding is exact: the merged
histogram is the one a single histogram of every sample would be, bucket for bucket.

    encoded = encode(histogram_of(latencies_ns))
    merged = merge([encoded_a, encoded_b])
    latency_ms(merged)   # {"p50_ms": ..., "p95_ms": ..., "p99_ms": ..., "max_ms": ...}
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from vecbench.errors import MissingDependencyError

__all__ = ["new_histogram", "histogram_of", "encode", "decode", "merge", "latency_ms", "SIGNIFICANT_DIGITS"]

SIGNIFICANT_DIGITS = 3  # a percentile is within 0.1% of the exact sample's value
_LOWEST_NS = 1
_HIGHEST_NS = 3600 * 1_000_000_000
_NS_PER_MS = 1e6


def _hdr() -> Any:
    try:
        from hdrh.histogram import HdrHistogram
    except ImportError:
        raise MissingDependencyError("hdrhistogram", "ray") from None
    return HdrHistogram


def new_histogram() -> Any:
    """An empty histogram of latencies in ns (1 ns .. 1 h, 3 significant digits)."""
    return _hdr()(_LOWEST_NS, _HIGHEST_NS, SIGNIFICANT_DIGITS)


def histogram_of(latencies_ns: ArrayLike) -> Any:
    """A histogram of ``latencies_ns``; values below 1 ns count as 1 ns, above 1 h as 1 h."""
    hist = new_histogram()
    values = np.clip(np.asarray(latencies_ns, dtype=np.int64).ravel(), _LOWEST_NS, _HIGHEST_NS)
    uniq, counts = np.unique(values, return_counts=True)
    for value, count in zip(uniq.tolist(), counts.tolist(), strict=True):
        hist.record_value(value, count)
    return hist


def encode(hist: Any) -> bytes:
    """The histogram's compressed HdrHistogram encoding (what an actor sends back)."""
    data = hist.encode()
    return bytes(data)


def decode(data: bytes) -> Any:
    return _hdr().decode(data)


def merge(encoded: Iterable[bytes]) -> Any:
    """The sum of encoded histograms (exact: bucket counts add)."""
    total = new_histogram()
    for data in encoded:
        total.add(decode(data))
    return total


def counts(hist: Any) -> list[tuple[int, int]]:
    """(value, count) of every non-empty bucket: two histograms are equal when these are."""
    return [
        (int(v.value_iterated_to), int(v.count_at_value_iterated_to)) for v in hist.get_recorded_iterator()
    ]


def latency_ms(hist: Any) -> dict[str, float]:
    """The load rows' latency fields from a histogram: p50, p95, p99 and max, in ms."""
    return {
        "p50_ms": hist.get_value_at_percentile(50.0) / _NS_PER_MS,
        "p95_ms": hist.get_value_at_percentile(95.0) / _NS_PER_MS,
        "p99_ms": hist.get_value_at_percentile(99.0) / _NS_PER_MS,
        "max_ms": hist.get_max_value() / _NS_PER_MS,
    }
