"""Turn worker results into the record's level and rate rows (full precision, no rounding)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from vecbench.measures.latency import LatencyStats

__all__ = ["closed_row", "open_row", "failed_closed_row", "failed_rate_row", "machine_cores"]

_NS = 1e9
_LATENCY_KEYS = ("p50_ms", "p95_ms", "p99_ms", "max_ms")


def machine_cores() -> int:
    return os.cpu_count() or 1


def _merged(results: Sequence[dict[str, Any]]) -> tuple[Any, int, dict[str, int], dict[str, str]]:
    """Every worker's latencies together (an array, or with Ray the merged HdrHistogram of
    the actors' ``hdr`` histograms), errors, error counts by type and a message per type."""
    if results and "hdr" in results[0]:
        from vecbench.distributed.hdr import merge

        lat: Any = merge(r["hdr"] for r in results)
    else:
        lat = np.concatenate([r["latencies_ns"] for r in results]) if results else np.empty(0, np.int64)
    types: dict[str, int] = {}
    messages: dict[str, str] = {}
    for r in results:
        for name, count in r["error_types"].items():
            types[name] = types.get(name, 0) + count
        for name, message in r["error_messages"].items():
            messages.setdefault(name, message)
    return lat, sum(int(r["errors"]) for r in results), types, messages


def _size(lat: Any) -> int:
    return int(lat.size) if isinstance(lat, np.ndarray) else int(lat.get_total_count())


def _latency(lat: Any) -> dict[str, float]:
    if not isinstance(lat, np.ndarray):
        from vecbench.distributed.hdr import latency_ms

        return latency_ms(lat)
    stats = LatencyStats.from_ns(lat).as_dict()
    return {key: stats[key] for key in _LATENCY_KEYS}


def _cpu(results: Sequence[dict[str, Any]], wall_s: float, cores: float | None) -> dict[str, float]:
    cpu_s = sum(int(r["cpu_ns"]) for r in results) / _NS
    return {"client_cpu_s": cpu_s, "client_cpu_share": cpu_s / (wall_s * (cores or machine_cores()))}


def _all_failed(types: dict[str, int], messages: dict[str, str]) -> dict[str, str]:
    if not types:
        return {"type": "LoadError", "message": "no request completed in the measured window"}
    name = max(types, key=lambda t: types[t])
    return {"type": name, "message": f"every request failed; first {name}: {messages.get(name, '')}"}


def closed_row(workers: int, results: Sequence[dict[str, Any]], cores: float | None = None) -> dict[str, Any]:
    """One closed-loop level: QPS over the common window, latency of completed requests.
    ``cores``: the client machines' CPUs (default this machine's), for ``client_cpu_share``."""
    lat, errors, types, messages = _merged(results)
    if _size(lat) == 0:
        return failed_closed_row(workers, _all_failed(types, messages), errors=errors, error_types=types)
    wall_s = (max(r["last_ns"] for r in results) - min(r["first_ns"] for r in results)) / _NS
    return {
        "workers": workers,
        "queries": _size(lat),
        "errors": errors,
        "error_types": types,
        "qps": _size(lat) / wall_s,
        **_latency(lat),
        **_cpu(results, wall_s, cores),
        "status": "ok",
        "error": None,
    }


def open_row(
    rate: float, results: Sequence[dict[str, Any]], t_start: int, t_end: int, cores: float | None = None
) -> dict[str, Any]:
    """One open-loop rate; the window runs from t_start to t_end or the last completion."""
    lat, errors, types, messages = _merged(results)
    sent = sum(int(r["sent"]) for r in results)
    if _size(lat) == 0:
        row = failed_rate_row(rate, _all_failed(types, messages))
        row.update(sent=sent, completed=0, errors=errors, error_types=types)
        return row
    wall_s = (max(t_end, *(r["last_ns"] for r in results)) - t_start) / _NS
    return {
        "target_rate": rate,
        "achieved_rate": _size(lat) / wall_s,
        "sent": sent,
        "completed": _size(lat),
        "errors": errors,
        "error_types": types,
        **_latency(lat),
        **_cpu(results, wall_s, cores),
        "status": "ok",
        "error": None,
    }


def failed_closed_row(
    workers: int,
    error: dict[str, str],
    *,
    errors: int | None = None,
    error_types: dict[str, int] | None = None,
) -> dict[str, Any]:
    return {
        "workers": workers,
        "queries": None,
        "errors": errors,
        "error_types": error_types,
        "qps": None,
        **dict.fromkeys(_LATENCY_KEYS),
        "client_cpu_s": None,
        "client_cpu_share": None,
        "status": "failed",
        "error": dict(error),
    }


def failed_rate_row(rate: float, error: dict[str, str]) -> dict[str, Any]:
    return {
        "target_rate": rate,
        "achieved_rate": None,
        "sent": None,
        "completed": None,
        "errors": None,
        "error_types": None,
        **dict.fromkeys(_LATENCY_KEYS),
        "client_cpu_s": None,
        "client_cpu_share": None,
        "status": "failed",
        "error": dict(error),
    }
