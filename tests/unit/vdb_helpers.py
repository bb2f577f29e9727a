"""Build small data sets in VectorDBBench's local layout (Parquet files) for tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_vdb(
    folder: Path,
    base: np.ndarray,
    queries: np.ndarray,
    *,
    neighbors: np.ndarray | None = None,
    labels: dict[str, list] | None = None,
    ids: np.ndarray | None = None,
    parts: int = 1,
    prefix: str = "train",
    fixed_size: bool = False,
) -> Path:
    """A VectorDBBench folder: train files (``parts`` of them, ``prefix`` train or
    shuffle_train) with ``id``/``emb``, test.parquet, and when given neighbors.parquet
    (``neighbors`` holds train ids) and scalar_labels.parquet (rows in id order)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    n, dim = base.shape
    ids = np.arange(n, dtype=np.int64) if ids is None else np.asarray(ids, dtype=np.int64)

    def emb(rows: np.ndarray) -> pa.Array:
        typ = pa.list_(pa.float32(), dim) if fixed_size else pa.list_(pa.float32())
        return pa.array([list(map(float, r)) for r in rows], type=typ)

    bounds = np.linspace(0, n, parts + 1).astype(int)
    for i in range(parts):
        lo, hi = bounds[i], bounds[i + 1]
        name = f"{prefix}.parquet" if parts == 1 else f"{prefix}-{i:02d}-of-{parts:02d}.parquet"
        table = pa.table({"id": pa.array(ids[lo:hi]), "emb": emb(base[lo:hi])})
        pq.write_table(table, folder / name, row_group_size=max(1, (hi - lo) // 3))
    pq.write_table(
        pa.table({"id": pa.array(np.arange(len(queries), dtype=np.int64)), "emb": emb(queries)}),
        folder / "test.parquet",
    )
    if neighbors is not None:
        nb = pa.array([list(map(int, r)) for r in neighbors], type=pa.list_(pa.int64()))
        pq.write_table(
            pa.table({"id": pa.array(np.arange(len(queries), dtype=np.int64)), "neighbors_id": nb}),
            folder / "neighbors.parquet",
        )
    if labels is not None:
        columns = {"id": pa.array(np.sort(ids))}
        columns.update({k: pa.array(v) for k, v in labels.items()})
        pq.write_table(pa.table(columns), folder / "scalar_labels.parquet")
    return folder
