"""Collection sizes Milvus reports on its Prometheus metrics endpoint (``/metrics``).

Milvus 2.3 has no size API for a collection: ``get_query_segment_info`` reports ``mem_size``
0 for every loaded segment and ``get_collection_stats`` only a row count. Its metrics
endpoint (the component's HTTP port, 9091 by default; ``vecbench services`` picks a free one
and records it as the ``health`` port) has per-collection gauges:

- ``milvus_datacoord_stored_binlog_size{collection_id, segment_id}``: bytes of the flushed
  segment's binlogs (insert, stats and delta logs) in object storage. Index files are not in it.
- ``milvus_querynode_entity_size{collection_id, segment_state}``: the query node's memory size
  of the loaded segments. On 2.3.5 this is rows x schema row width (vector, primary key and
  system fields): the same for every index type, index structures not included.
- ``milvus_querynode_entity_num{collection_id, ...}``: rows in those segments (to tell when
  the gauges, refreshed every few seconds, include the latest load).

Standard library only.
"""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DEFAULT_METRICS_PORT = 9091  # Milvus's metrics/health HTTP port unless configured otherwise
BINLOG_SIZE = "milvus_datacoord_stored_binlog_size"
ENTITY_SIZE = "milvus_querynode_entity_size"
ENTITY_NUM = "milvus_querynode_entity_num"
_WANTED = (BINLOG_SIZE, ENTITY_SIZE, ENTITY_NUM)
_SAMPLE = re.compile(r"^([A-Za-z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Sample:
    name: str
    labels: Mapping[str, str]
    value: float


def parse_samples(text: str, names: Iterable[str] = _WANTED) -> list[Sample]:
    """Samples of the metrics NAMES in a Prometheus text exposition."""
    wanted = set(names)
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if m is None or m.group(1) not in wanted:
            continue
        try:
            value = float(m.group(3))
        except ValueError:
            continue
        out.append(Sample(m.group(1), dict(_LABEL.findall(m.group(2) or "")), value))
    return out


def scrape(url: str, timeout_s: float) -> list[Sample]:
    """GET the metrics page and parse the gauges this module reads; OSError when unreachable."""
    with urllib.request.urlopen(url, timeout=timeout_s) as resp:  # noqa: S310 - URL from config/service
        return parse_samples(resp.read().decode("utf-8", "replace"))


@dataclass(frozen=True)
class CollectionFigures:
    binlog_bytes: int  # over the segments asked for that have a gauge
    binlog_segments: frozenset[int]  # those segments
    entity_bytes: int | None  # None: no entity_size gauge for the collection
    entity_rows: int


def collection_figures(
    samples: Iterable[Sample], collection_id: int, segment_ids: Iterable[int]
) -> CollectionFigures:
    """The gauges of one collection; binlog sizes of SEGMENT_IDS only (dropped ones linger)."""
    cid = str(collection_id)
    wanted = {str(s) for s in segment_ids}
    binlog, seen, entity_rows = 0.0, set(), 0.0
    entity: float | None = None
    for s in samples:
        if s.labels.get("collection_id") != cid:
            continue
        if s.name == BINLOG_SIZE and s.labels.get("segment_id") in wanted:
            binlog += s.value
            seen.add(int(s.labels["segment_id"]))
        elif s.name == ENTITY_SIZE:
            entity = (entity or 0.0) + s.value
        elif s.name == ENTITY_NUM:
            entity_rows += s.value
    return CollectionFigures(
        int(binlog), frozenset(seen), None if entity is None else int(entity), int(entity_rows)
    )


def metrics_url(
    config: Mapping[str, Any], uri: str, service_ports: Mapping[str, int] | None
) -> tuple[str, str]:
    """(URL of the metrics page, where it came from): config, the local service, or port 9091."""
    given = config.get("metrics_url")
    if given:
        return str(given), "config metrics_url"
    if service_ports and service_ports.get("health"):
        return (
            f"http://127.0.0.1:{service_ports['health']}/metrics",
            "the metrics port vecbench services recorded",
        )
    parts = urlsplit(uri)
    scheme = "https" if parts.scheme == "https" else "http"
    host = parts.hostname or "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{DEFAULT_METRICS_PORT}/metrics", "Milvus's default metrics port"


def index_file_bytes(index_root: Path, segments: Iterable[tuple[int, int]]) -> tuple[int, int]:
    """(bytes, files) of the index files of (partition_id, segment_id) pairs under a local
    storage's ``index_files/<build>/<version>/<partition>/<segment>/`` tree."""
    total = files = 0
    for partition, segment in segments:
        for path in index_root.glob(f"*/*/{partition}/{segment}/*"):
            try:
                total += path.stat().st_size
                files += 1
            except OSError:
                continue  # removed by Milvus's garbage collection while listing
    return total, files
