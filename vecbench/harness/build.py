"""The build phase of the vector harness: the collection spec, the timed create/ingest/build,
what the store says it built (``describe``) and its footprint."""

from __future__ import annotations

import hashlib
import time
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from vecbench.config.settings import Settings
from vecbench.datasets.base import Dataset, GroundTruth
from vecbench.errors import ConfigError
from vecbench.measures.disturbance import LoadProbe
from vecbench.results import public_config
from vecbench.util.progress import NULL, Progress

__all__ = [
    "build_collection",
    "collection_name",
    "collection_spec",
    "attribute_kinds",
    "index_type_of",
    "checked_ground_truth",
    "describe_store",
]


def collection_name(*parts: Any) -> str:
    """``vb_<12 hex>``: a valid identifier derived from the given parts."""
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()[:12]
    return f"vb_{digest}"


def index_type_of(store_name: str, index_type: str) -> Any:
    from vecbench.errors import UnknownNameError
    from vecbench.registry import store_class

    types = store_class(store_name).info.index_types
    if index_type not in types:
        raise UnknownNameError(f"index type for store {store_name!r}", index_type, types)
    return types[index_type]


def checked_ground_truth(dataset: Dataset, k: int, gt: GroundTruth | None, progress: Progress) -> GroundTruth:
    if gt is None:
        from vecbench.measures.groundtruth import ground_truth  # the file's own, the cache, or computed

        gt = ground_truth(dataset, k, progress=progress)
    if gt.k < k:
        raise ConfigError(f"ground truth has {gt.k} neighbours per query, fewer than k={k}")
    if gt.ids.shape[0] != dataset.nq:
        raise ConfigError(f"ground truth covers {gt.ids.shape[0]} queries, the data set has {dataset.nq}")
    return gt


def collection_spec(
    dataset: Dataset,
    index_type: str,
    build: Mapping[str, Any],
    run_id: str,
    store_name: str,
    store_config: Mapping[str, Any],
    attributes: Mapping[str, str] | None = None,
) -> Any:
    """The spec of one index's collection; ``attributes`` (name -> kind, see
    ``attribute_kinds``) are declared for a store to store and index for native filters."""
    from vecbench.spec import CollectionSpec

    parts: tuple[Any, ...] = (
        run_id,
        store_name,
        public_config(store_config),
        dataset.checksum,
        dataset.metric.value,
        index_type,
        sorted(build.items()),
    )
    name = (
        collection_name(*parts, sorted((attributes or {}).items())) if attributes else collection_name(*parts)
    )
    return CollectionSpec(
        name,
        dim=dataset.dim,
        metric=dataset.metric,
        index_type=index_type,
        index_params=build,
        attributes=dict(attributes or {}),
    )


def attribute_kinds(attributes: Mapping[str, Any], names: Sequence[str] | None = None) -> dict[str, str]:
    """``{name: "int" | "keyword"}`` for a data set's attribute columns (all, or ``names``):
    integer columns are ``int``, anything else a keyword (label)."""
    import numpy as np

    wanted = list(attributes) if names is None else list(names)
    return {
        a: "int" if np.issubdtype(np.asarray(attributes[a]).dtype, np.integer) else "keyword" for a in wanted
    }


def build_collection(
    store: Any,
    spec: Any,
    source: Any,
    settings: Settings,
    progress: Progress = NULL,
    exclude_pids: Sequence[int] = (),
) -> tuple[dict[str, float | None], dict[str, Any] | None]:
    """Create ``spec``'s collection, upsert ``source`` in batches, wait until it is searchable.

    ``source`` is a ``Dataset`` or anything with ``n`` and ``batches(batch_size)`` yielding
    ``(ids, vectors)`` or ``(ids, vectors, payloads)`` (the retrieval harness's chunks).
    When ``spec`` declares attributes, a data set's batches carry their attribute columns
    as payloads (sliced outside the timed upsert).
    Returns the timings every record holds, ``create_s``, ``ingest_s`` (the store's upsert
    calls only), ``build_s`` (``wait_ready``, bounded by ``settings.ready_timeout_s``) and
    ``vectors_per_s``, and what the machine-load probe saw during ingest and build
    (``exclude_pids``: the server's processes, see ``workload_pids``).

        with get_store("faiss", {}) as store:
            timings, load = build_collection(store, spec, dataset, Settings())
    """
    probe = LoadProbe(exclude_pids=exclude_pids)
    probe.start()
    with progress.task(f"create {spec.index_type}"):
        t0 = time.perf_counter()
        store.create(spec, drop_old=True)
        create_s = time.perf_counter() - t0
    ingest_s = 0.0
    with progress.task(f"ingest {spec.index_type}", total=source.n, unit="vec") as bar:
        for batch in source.batches(settings.batch_size):
            if spec.attributes and len(batch) == 2:
                batch = (*batch, {a: source.attributes[a][batch[0]] for a in spec.attributes})
            t0 = time.perf_counter()
            store.upsert(*batch)
            ingest_s += time.perf_counter() - t0  # batch slicing/copying is not the store's time
            bar.advance(len(batch[0]))
    with progress.task(f"wait_ready (build {spec.index_type})", total=None):
        t0 = time.perf_counter()
        store.wait_ready(settings.ready_timeout_s)
        build_s = time.perf_counter() - t0
    timings = {
        "create_s": create_s,
        "ingest_s": ingest_s,
        "build_s": build_s,
        "vectors_per_s": source.n / ingest_s if ingest_s > 0 else None,
    }
    return timings, probe.stop().as_dict()


def workload_pids(store: Any, store_name: str, store_config: Mapping[str, Any]) -> list[int] | None:
    """Processes whose CPU is the store's own work, for the machine-load probe to leave out.

    An embedded store works inside this process: nothing to leave out (``[]``). A server
    started by ``vecbench services`` on this machine: its pid (the probe adds descendants).
    Any other server (docker compose, a remote host) is None: its CPU on this machine, if
    any, cannot be told apart from a disturbance, so disturbed passes are not run again.
    """
    if getattr(getattr(store, "info", None), "embedded", False):
        return []
    from vecbench.services.rss import service_pid

    try:
        pid = service_pid(store_name, store_config)
    except Exception:  # noqa: BLE001 - no attribution is a weaker record, not a failure
        pid = None
    return None if pid is None else [pid]


def describe_store(store: Any) -> dict[str, Any]:
    try:
        return dict(store.describe())
    except Exception as exc:
        warnings.warn(f"describe() failed: {exc}", stacklevel=3)
        return {"error": f"{type(exc).__name__}: {exc}"}
