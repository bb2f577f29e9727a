"""``dig``: a value deep in nested mappings (result records, configs), None where a level is missing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["dig"]


def dig(record: Any, *path: str) -> Any:
    """``record[a][b]...``, None where a level is missing or not a mapping.

    dig({"latency": {"p99_ms": 1.5}}, "latency", "p99_ms")  # 1.5
    dig({"latency": None}, "latency", "p99_ms")  # None
    """
    value = record
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value
