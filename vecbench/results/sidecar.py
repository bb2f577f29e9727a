"""Raw-data sidecars: per-query ids and latencies of one result record, in ``<stem>.sidecar/<cell_id>.npz``.

Written to a temporary file in the sidecar folder and renamed into place, so any statistic
can be recomputed later from the raw data (``vecbench compare``, the HTML report).

    rel = write_sidecar("out/run.jsonl", record["cell_id"], ids, latencies_ns)
    arrays = read_sidecar("out/run.jsonl", {**record, "sidecar": rel})
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vecbench.errors import ConfigError
from vecbench.util.atomic import fsync_dir, write_atomic

__all__ = ["sidecar_dir", "write_sidecar", "read_sidecar"]


def sidecar_dir(results_path: str | Path) -> Path:
    """``<folder>/<stem>.sidecar`` for results file ``<folder>/<stem>.jsonl``."""
    p = Path(results_path)
    return p.parent / f"{p.stem}.sidecar"


def write_sidecar(
    results_path: str | Path,
    cell: str,
    ids: NDArray[np.int64],
    latencies_ns: NDArray[np.int64],
    batch_ids: NDArray[np.int64] | None = None,
    per_query: Mapping[str, ArrayLike] | None = None,
) -> str:
    """Save per-query ``ids`` (nq, k), ``latencies_ns`` and optional ``batch_ids``.

    ``latencies_ns`` is (repeats, nq) for vector records (every serial pass; a v1 sidecar
    and a rag sidecar hold one pass, (nq,)). ``per_query`` adds float arrays of one value
    per query (e.g. ``recall_at_k``) under their names, so statistics such as paired
    bootstrap tests can be recomputed without the data set.

    Written to a temporary file in the sidecar folder, fsynced, then renamed over
    ``<cell>.npz``. Returns the path relative to the results file's folder (what the
    record's ``sidecar`` holds).
    """
    if not re.fullmatch(r"[0-9A-Za-z_-]+", cell):
        raise ConfigError(f"invalid cell id for a file name: {cell!r}")
    folder = sidecar_dir(results_path)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "ids": np.asarray(ids, dtype=np.int64),
        "latencies_ns": np.asarray(latencies_ns, dtype=np.int64),
    }
    if batch_ids is not None:
        arrays["batch_ids"] = np.asarray(batch_ids, dtype=np.int64)
    for name, values in (per_query or {}).items():
        if name in arrays or not re.fullmatch(r"[A-Za-z_][0-9A-Za-z_]*", name):
            raise ConfigError(f"invalid per-query array name for a sidecar: {name!r}")
        arrays[name] = np.asarray(values, dtype=np.float64)
    target = folder / f"{cell}.npz"
    write_atomic(target, lambda f: np.savez_compressed(f, **arrays))  # type: ignore[arg-type]  # numpy stub quirk
    fsync_dir(folder)
    return target.relative_to(Path(results_path).parent).as_posix()


def read_sidecar(results_path: str | Path, record: Mapping[str, Any]) -> dict[str, NDArray[Any]]:
    """The arrays of a record's sidecar: ``ids``, ``latencies_ns`` and maybe ``batch_ids``
    and per-query figures (``recall_at_k``, ``tie_aware_recall_at_k``)."""
    rel = record.get("sidecar")
    if not rel:
        raise ConfigError(f"record {record.get('cell_id')} has no sidecar")
    with np.load(Path(results_path).parent / rel) as data:
        return {name: data[name] for name in data.files}
