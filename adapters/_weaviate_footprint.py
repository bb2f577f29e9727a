"""A Weaviate collection's footprint, from the server's Prometheus metrics page.

Weaviate reports, per class and shard, the bytes of its LSM stores (``lsm_segment_size``:
the objects, their vectors and, with compression, the compressed vectors, on disk) and of
the memtables not yet flushed (``lsm_memtable_size``, in memory). It reports no byte figure
for the HNSW graph held in memory; ``vector_index_size`` (graph slots) is given in the method
text. The whole server's memory is the service RSS (``vecbench.services.rss``).

The page: config ``metrics_url``; else the metrics port ``vecbench services`` recorded for the
local server the URL points at; else ``http://<url host>:2112/metrics`` (Weaviate's default,
served only when the server runs with ``PROMETHEUS_MONITORING_ENABLED``).
"""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Mapping
from typing import Any

from vecbench.errors import ConfigError
from vecbench.store import FootprintStats

DEFAULT_METRICS_PORT = 2112
_SAMPLE = re.compile(r"^(?P<name>[A-Za-z_:][A-Za-z0-9_:]*)\{(?P<labels>[^}]*)\}\s+(?P<value>\S+)")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def metrics_url(store_name: str, config: Mapping[str, Any], host: str) -> str:
    """Where the Prometheus page of the server in ``config`` is (see the module docstring)."""
    given = config.get("metrics_url")
    if given:
        if not isinstance(given, str) or not given.startswith(("http://", "https://")):
            raise ConfigError(f"weaviate metrics_url must be an http(s):// URL, got {given!r}")
        return given
    from vecbench.services.rss import local_service

    found = local_service(store_name, {"url": config.get("url")})
    if found is not None and found[1].ports.get("metrics"):
        return f"http://127.0.0.1:{found[1].ports['metrics']}/metrics"
    return f"http://{host}:{DEFAULT_METRICS_PORT}/metrics"


def class_samples(text: str, class_name: str) -> dict[str, float]:
    """Sum of each metric's samples labelled ``class_name=<class_name>`` (namespace prefix dropped)."""
    sums: dict[str, float] = {}
    for line in text.splitlines():
        m = _SAMPLE.match(line)
        if m is None or f'class_name="{class_name}"' not in m["labels"]:
            continue
        labels = dict(_LABEL.findall(m["labels"]))
        if labels.get("class_name") != class_name:
            continue
        try:
            value = float(m["value"])
        except ValueError:
            continue
        for base in ("lsm_segment_size", "lsm_memtable_size", "vector_index_size", "object_count"):
            if m["name"] == base or m["name"].endswith("_" + base):
                if base == "object_count" and labels.get("shard_name") == "n/a":
                    continue
                sums[base] = sums.get(base, 0.0) + value
    return sums


def footprint_from_text(text: str, class_name: str, url: str) -> FootprintStats:
    sums = class_samples(text, class_name)
    if not sums:
        return FootprintStats(None, None, f"{url} lists no samples for class {class_name!r}")
    disk = int(sums.get("lsm_segment_size", 0)) or None
    memory = int(sums.get("lsm_memtable_size", 0)) or None
    method = (
        f"Weaviate metrics ({url}) for class {class_name}: disk = sum of lsm_segment_size, memory = sum of "
        f"lsm_memtable_size (unflushed writes; Weaviate gives no byte figure for the in-memory HNSW graph: "
        f"vector_index_size {int(sums.get('vector_index_size', 0))} slots, object_count "
        f"{int(sums.get('object_count', 0))})"
    )
    return FootprintStats(memory, disk, method)


def footprint_from_metrics(url: str, class_name: str, timeout_s: float) -> FootprintStats:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:  # noqa: S310 (URL from config)
            text = resp.read().decode("utf-8", errors="replace")
    except Exception as exc:
        return FootprintStats(None, None, f"GET {url} failed: {type(exc).__name__}: {exc}")
    return footprint_from_text(text, class_name, url)
