"""The results schema: which keys a record of each kind holds, which of them are
measurements (null in a failed record), how a record is checked, and how an older version
is read as the current one.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vecbench.errors import ResultsFormatError

__all__ = [
    "SCHEMA",
    "SCHEMA_VERSION",
    "READABLE_VERSIONS",
    "RECORD_KEYS",
    "RAG_RECORD_KEYS",
    "FRESHNESS_RECORD_KEYS",
    "INGEST_RECORD_KEYS",
    "MEASURED",
    "RAG_MEASURED",
    "RUNBOOK_RECORD_KEYS",
    "RUNBOOK_MEASURED",
    "KINDS",
    "validate_record",
    "upgrade_record",
    "check_version",
]

SCHEMA = "vecbench.result"
SCHEMA_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)
# Every kind's first keys: what the record is and where it came from.
_HEAD = (
    "schema",
    "schema_version",
    "kind",
    "run_id",
    "cell_id",
    "status",
    "created_at",
    "versions",
    "machine",
)
# Every kind's last keys.
_TAIL = ("machine_load", "error", "sidecar")
RECORD_KEYS = (
    *_HEAD,
    "store",
    "dataset",
    "index",
    "search",
    "timings",
    "quality",
    "latency",
    "qps",
    "footprint",
    "load",
    "cost",
    "ci",
    *_TAIL,
)
# Retrieval-harness (text) records: kind "rag", made by vecbench.rag.run.
RAG_RECORD_KEYS = (
    *_HEAD,
    "dataset",
    "chunker",
    "embedder",
    "store",
    "index",
    "search",
    "reranker",
    "quality",
    "cost",
    "latency",
    "footprint",
    "counts",
    "ci",
    *_TAIL,
)
# Runbook (streaming) records: kind "runbook", made by vecbench.harness.runbook; one per
# store x index x search setting x runbook, ``steps`` holding every step's figures.
RUNBOOK_RECORD_KEYS = (
    *_HEAD,
    "store",
    "dataset",
    "index",
    "search",
    "runbook",
    "timings",
    "steps",
    "summary",
    "footprint",
    *_TAIL,
)
# Streaming workloads (vecbench.harness.streaming): time until writes are searchable, and
# search latency and recall while vectors are written at a fixed rate.
FRESHNESS_RECORD_KEYS = (
    *_HEAD,
    "store",
    "dataset",
    "index",
    "search",
    "workload",
    "timings",
    "freshness",
    *_TAIL,
)
INGEST_RECORD_KEYS = (
    *_HEAD,
    "store",
    "dataset",
    "index",
    "search",
    "workload",
    "timings",
    "quality",
    "latency",
    "ingest",
    *_TAIL,
)
# Sections that hold measurements: null in a failed record, never numbers.
MEASURED = ("timings", "quality", "latency", "qps", "footprint", "load", "cost", "ci", "machine_load")
RAG_MEASURED = ("quality", "cost", "latency", "footprint", "ci", "machine_load")
RUNBOOK_MEASURED = ("timings", "steps", "summary", "footprint", "machine_load")
# Keys each version added, per kind; an older record read back gets them as null.
_ADDED: dict[int, dict[str, tuple[str, ...]]] = {
    2: {"vector": ("load", "cost", "ci"), "rag": ("ci",)},
    3: {"vector": ("machine_load",), "rag": ("machine_load",)},
}
# kind -> (its keys, in file order; its measured sections)
KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "vector": (RECORD_KEYS, MEASURED),
    "rag": (RAG_RECORD_KEYS, RAG_MEASURED),
    "runbook": (RUNBOOK_RECORD_KEYS, RUNBOOK_MEASURED),  # new in version 3: no older file holds one
    "freshness": (FRESHNESS_RECORD_KEYS, ("timings", "freshness", "machine_load")),
    "ingest_load": (INGEST_RECORD_KEYS, ("timings", "quality", "latency", "ingest", "machine_load")),
}


def validate_record(record: Mapping[str, Any]) -> None:
    """Raise ResultsFormatError unless ``record`` follows the schema's shape rules.

    The keys depend on ``kind``: "vector" (the default when absent), "rag", "runbook",
    "freshness" or "ingest_load".
    """
    keys = tuple(record)
    kind = record.get("kind", "vector")
    if kind not in KINDS:
        raise ResultsFormatError(f"unknown record kind {kind!r}; known: {', '.join(KINDS)}")
    record_keys, measured = KINDS[kind]
    if set(keys) != set(record_keys):
        missing = sorted(set(record_keys) - set(keys))
        extra = sorted(set(keys) - set(record_keys))
        raise ResultsFormatError(f"record keys differ from the schema: missing {missing}, unexpected {extra}")
    if record["schema"] != SCHEMA or record["schema_version"] != SCHEMA_VERSION:
        raise ResultsFormatError(f"not a {SCHEMA} v{SCHEMA_VERSION} record")
    status = record["status"]
    if status not in ("ok", "failed"):
        raise ResultsFormatError(f"status must be 'ok' or 'failed', got {status!r}")
    if status == "failed":
        err = record["error"]
        if not isinstance(err, Mapping) or not {"type", "message"} <= set(err):
            raise ResultsFormatError("a failed record needs error {type, message}")
        numbers = [s for s in measured if record[s] is not None]
        if numbers:
            raise ResultsFormatError(f"a failed record must not hold measurements: {numbers}")
    elif record["error"] is not None:
        raise ResultsFormatError("an ok record must have error null")


def check_version(record: Mapping[str, Any], path: Path | str, lineno: int) -> None:
    version = record.get("schema_version")
    if isinstance(version, bool) or version not in READABLE_VERSIONS:
        raise ResultsFormatError(
            f"{path}:{lineno}: unknown schema version {version!r}; this vecbench reads "
            f"{READABLE_VERSIONS[0]}-{READABLE_VERSIONS[-1]}"
        )


def upgrade_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """A record of any readable version as a current-version record (in memory only).

    Version 1 lacks ``load``, ``cost`` and ``ci`` (``ci`` only, for kind "rag"), version 2
    lacks ``machine_load``: they are added as null, in file order, and ``schema_version``
    becomes the current one. A current record comes back as a plain copy.

    >>> old = {"schema": SCHEMA, "schema_version": 1, "kind": "rag", "counts": {}, "error": None}
    >>> list(upgrade_record(old)), upgrade_record(old)["schema_version"]
    (['schema', 'schema_version', 'kind', 'counts', 'ci', 'machine_load', 'error'], 3)
    """
    if record.get("schema_version") == SCHEMA_VERSION:
        return dict(record)
    kind = str(record.get("kind", "vector"))
    if kind not in KINDS:
        return dict(record)
    version = record.get("schema_version")
    added = {
        k
        for v, by_kind in _ADDED.items()
        if isinstance(version, int) and v > version
        for k in by_kind.get(kind, ())
    }
    order = [k for k in KINDS[kind][0] if k in record or k in added]
    order += [k for k in record if k not in order]  # keep whatever else is there for validation
    out = {k: record.get(k) for k in order}
    out["schema_version"] = SCHEMA_VERSION
    return out
