"""The exact reference store: every search scans every vector with numpy.

It needs no client library and serves as the ground truth the other stores are
checked against. Ties are broken by id (smaller id first), so results are
deterministic whatever the insertion order.

    with BruteForceStore() as store:
        store.create(CollectionSpec("ref", dim=32, metric="cosine"))
        store.upsert(ids, vectors)
        store.search(query, k=10)
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from vecbench.errors import StoreError
from vecbench.metrics import Metric, normalize
from vecbench.spec import IndexType
from vecbench.store import FootprintStats, StoreInfo

from ._attributes import AttributeTable
from ._base import BaseStore, VectorTable, check_int_param
from ._capabilities import BatchSearchMixin, DeletableMixin, FilterableMixin, FootprintMixin, ShareableMixin

__all__ = ["BruteForceStore", "topk_by_distance"]

_DEFAULT_BLOCK_BYTES = 64 << 20
# Bytes of temporaries per (query, base vector) pair while ranking a block: the float32
# score matrix, the comparison mask and the partition copy.
_BYTES_PER_PAIR = 12


def topk_by_distance(scores: NDArray[np.float32], ids: NDArray[np.int64], k: int) -> NDArray[np.int64]:
    """For each row of ``scores`` (nq, n), the ids of the k smallest, ordered by (score, id).

    Rows get ``min(k, n)`` ids. Every candidate tied with the k-th score is considered,
    so the id tie-break is exact, not an artefact of ``argpartition``.
    """
    nq, n = scores.shape
    kk = min(k, n)
    if kk == 0:
        return np.empty((nq, 0), dtype=np.int64)
    if kk < n:
        kth = np.partition(scores, kk - 1, axis=1)[:, kk - 1]
        rows, cols = np.nonzero(scores <= kth[:, None])
    else:
        rows = np.repeat(np.arange(nq), n)
        cols = np.tile(np.arange(n), nq)
    cand_ids = ids[cols]
    order = np.lexsort((cand_ids, scores[rows, cols], rows))
    rows, cand_ids = rows[order], cand_ids[order]
    counts = np.bincount(rows, minlength=nq)
    starts = np.cumsum(counts) - counts
    return cand_ids[starts[:, None] + np.arange(kk)[None, :]]


class BruteForceStore(
    BatchSearchMixin, DeletableMixin, FilterableMixin, FootprintMixin, ShareableMixin, BaseStore
):
    """Exact k-NN by a full numpy scan; index type ``flat`` for all three metrics.

    Config: ``block_bytes`` (default 64 MiB) bounds the temporary memory of one search
    block; a large query batch is cut into blocks of queries that fit.

    Cosine stores L2-normalized vectors and ranks by ``-<q, x>``; euclidean ranks by
    ``||x||^2 - 2<q, x>`` (the same order as the L2 distance); ip by ``-<q, x>``.

    Filtered search is exact too: the declared attributes are kept by id, a filter's mask
    over the stored vectors is computed once per filter (until the next upsert or delete),
    and the scan covers the passing vectors only.
    """

    info: ClassVar[StoreInfo] = StoreInfo(
        name="bruteforce",
        engine="numpy",
        extra="",
        client_modules=("numpy",),
        index_types={
            "flat": IndexType(
                "flat", exact=True, description="exact scan of every vector (numpy, blocked by query)"
            )
        },
        embedded=True,
        description="Exact numpy reference store: ground truth and a baseline for every metric.",
        config_keys={"block_bytes": "upper bound on temporary bytes per search block (default 64 MiB)"},
    )

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        super().__init__(config)
        self._share_dirs: list[str] = []  # files written by share(), removed at drop

    def _check_config(self, config: dict[str, Any]) -> dict[str, Any]:
        if "block_bytes" in config:
            check_int_param("block_bytes", config["block_bytes"], minimum=1)
        return config

    def _do_create(self) -> None:
        assert self._spec is not None
        self._table = VectorTable(self._spec.dim)
        self._sqnorms: NDArray[np.float32] | None = None
        self._attrs = AttributeTable(self._spec.attributes)
        self._subset: tuple[Any, Any] | None = None  # (key, (vectors, ids, sqnorms)) of the last filter

    def _do_drop(self) -> None:
        self._table = VectorTable(0)
        self._sqnorms = None
        self._attrs = AttributeTable({})
        self._subset = None
        self._remove_shared()

    def _disconnect(self) -> None:
        self._remove_shared()

    def _do_upsert(
        self, ids: NDArray[np.int64], vectors: NDArray[np.float32], attributes: Any = None
    ) -> None:
        if self._metric is Metric.COSINE:
            vectors = normalize(vectors)
        self._table.upsert(ids, vectors)
        if attributes is not None:
            self._attrs.upsert(ids, attributes)
        self._sqnorms = None
        self._subset = None

    def _do_delete(self, ids: NDArray[np.int64]) -> None:
        self._attrs.delete(ids)
        if self._table.delete(ids):
            self._sqnorms = None
            self._subset = None

    @property
    def _metric(self) -> Metric:
        assert self._spec is not None
        return self._spec.metric

    def _do_search(self, queries: NDArray[np.float32], k: int) -> NDArray[np.int64]:
        base, ids = self._table.vectors, self._table.ids
        if self._metric is Metric.EUCLIDEAN and self._sqnorms is None and len(self._table):
            self._sqnorms = np.einsum("ij,ij->i", base, base)
        return self._scan(queries, k, base, ids, self._sqnorms)

    def _do_search_filtered(self, queries: NDArray[np.float32], k: int, flt: Any) -> NDArray[np.int64]:
        key = (flt, self._attrs.version, len(self._table))
        if self._subset is None or self._subset[0] != key:
            keep = self._attrs.passes(flt, self._table.ids)
            base = np.ascontiguousarray(self._table.vectors[keep])
            sq = np.einsum("ij,ij->i", base, base) if self._metric is Metric.EUCLIDEAN else None
            self._subset = (key, (base, np.ascontiguousarray(self._table.ids[keep]), sq))
        base, ids, sq = self._subset[1]
        return self._scan(queries, k, base, ids, sq)

    def _scan(
        self,
        queries: NDArray[np.float32],
        k: int,
        base: NDArray[np.float32],
        ids: NDArray[np.int64],
        sqnorms: NDArray[np.float32] | None,
    ) -> NDArray[np.int64]:
        nq, n = queries.shape[0], base.shape[0]
        out = np.full((nq, k), -1, dtype=np.int64)
        if n == 0:
            return out
        if self._metric is Metric.COSINE:
            queries = normalize(queries)
        block_bytes = int(self._config.get("block_bytes", _DEFAULT_BLOCK_BYTES))
        block = max(1, block_bytes // (_BYTES_PER_PAIR * n))
        kk = min(k, n)
        for start in range(0, nq, block):
            q = queries[start : start + block]
            scores = q @ base.T
            # In place: the score matrix is the block's largest temporary.
            if self._metric is Metric.EUCLIDEAN:
                scores *= -2.0
                scores += sqnorms[None, :]  # type: ignore[index]
            else:
                np.negative(scores, out=scores)
            out[start : start + q.shape[0], :kk] = topk_by_distance(scores, ids, k)
        return out

    # -- share / attach ----------------------------------------------------------------------

    def _do_share(self) -> dict[str, Any]:
        """Save vectors and ids as .npy files that attached stores memory-map (read-only).

        The directory lives until this (owning) store drops the collection or disconnects.
        """
        folder = tempfile.mkdtemp(prefix="vecbench-bruteforce-share-")
        self._share_dirs.append(folder)
        state = {"dir": folder, "vectors_path": f"{folder}/vectors.npy", "ids_path": f"{folder}/ids.npy"}
        np.save(state["vectors_path"], self._table.vectors)
        np.save(state["ids_path"], self._table.ids)
        if self._attrs.kinds:
            state["attributes_path"] = f"{folder}/attributes.npz"
            columns = self._attrs.values(self._table.ids)
            np.savez(
                state["attributes_path"],
                **{a: c.astype(str) if c.dtype == object else c for a, c in columns.items()},
            )
        return state

    def _do_attach(self, state: Mapping[str, Any]) -> None:
        try:
            # mmap: every attached process reads the same pages of the page cache.
            vectors = np.asarray(np.load(state["vectors_path"], mmap_mode="r"))
            ids = np.asarray(np.load(state["ids_path"], mmap_mode="r"))
        except (OSError, KeyError, ValueError) as exc:
            raise StoreError(
                f"bruteforce cannot attach the shared vectors in {state.get('dir')}: {exc}"
            ) from exc
        if vectors.ndim != 2 or vectors.shape[1] != self._dim or ids.shape != (vectors.shape[0],):
            raise StoreError(
                f"bruteforce: shared arrays of shape {vectors.shape} and {ids.shape} do not match dim {self._dim}"
            )
        self._table = _SharedTable(vectors, ids)  # type: ignore[assignment]
        self._sqnorms = None
        self._subset = None
        self._attrs = AttributeTable(self._spec.attributes if self._spec else {})
        if self._attrs.kinds:
            with np.load(state["attributes_path"]) as saved:
                self._attrs.upsert(np.asarray(ids), {a: saved[a] for a in self._attrs.kinds})

    def _do_detach(self) -> None:
        self._table = VectorTable(0)
        self._sqnorms = None
        self._attrs = AttributeTable({})
        self._subset = None

    def _remove_shared(self) -> None:
        while self._share_dirs:
            shutil.rmtree(self._share_dirs.pop(), ignore_errors=True)

    def _do_footprint(self) -> FootprintStats:
        extra = (self._sqnorms.nbytes if self._sqnorms is not None else 0) + self._attrs.nbytes
        return FootprintStats(memory_bytes=self._table.nbytes + extra, disk_bytes=None, method="numpy arrays")

    def _do_describe(self) -> dict[str, Any]:
        mapping = {
            Metric.EUCLIDEAN: "euclidean -> ||x||^2 - 2<q, x> (same order as L2), float32",
            Metric.COSINE: "cosine -> -<q, x> on L2-normalized vectors, float32",
            Metric.IP: "ip -> -<q, x>, float32",
        }
        return {
            "client_version": np.__version__,
            "engine_version": np.__version__,
            "metric_mapping": mapping[self._metric],
            "ntotal": len(self._table),
            "tie_break": "distance, then smaller id",
            "build_time_counted_in": "nothing to build: upsert copies vectors",
            "block_bytes": int(self._config.get("block_bytes", _DEFAULT_BLOCK_BYTES)),
        }


class _SharedTable:
    """The read-only (memory-mapped) vectors and ids an attached store searches."""

    def __init__(self, vectors: NDArray[np.float32], ids: NDArray[np.int64]) -> None:
        self.vectors = vectors
        self.ids = ids

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @property
    def nbytes(self) -> int:
        return int(self.vectors.nbytes + self.ids.nbytes)
