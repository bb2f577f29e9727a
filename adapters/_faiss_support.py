"""The FAISS adapter's tables (index types, metric mapping, where build time lands), its
HNSW label map, and how a collection is shared with worker processes (written to a temp
folder that attached stores memory-map). Private to ``vecbench.adapters.faiss``."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vecbench.errors import StoreError
from vecbench.metrics import Metric
from vecbench.spec import IndexType

from ._base import VectorTable
from ._faiss_filter import load_attributes, save_attributes

DEFAULT_NLIST = 1024
DEFAULT_NBITS = 8
_TRAINED_TYPES = frozenset({"ivf_flat", "ivf_pq", "sq8"})

_INDEX_TYPES = {
    "flat": IndexType("flat", exact=True, description="IndexFlat: exact scan"),
    "hnsw": IndexType(
        "hnsw",
        build={"m": 16, "ef_construction": 200},
        search={"ef_search": 64},
        description="IndexHNSWFlat: graph built while adding",
    ),
    "ivf_flat": IndexType(
        "ivf_flat",
        build={"nlist": DEFAULT_NLIST},
        search={"nprobe": 8},
        description="IndexIVFFlat; trained in wait_ready; a defaulted nlist is lowered to n // 39 on small data",
    ),
    "ivf_pq": IndexType(
        "ivf_pq",
        build={"nlist": DEFAULT_NLIST, "m": None, "nbits": DEFAULT_NBITS},
        search={"nprobe": 8},
        description=(
            "IndexIVFPQ; m subquantizers must divide dim (None: largest divisor of dim <= min(64, dim // 4)); "
            "trained in wait_ready"
        ),
    ),
    "sq8": IndexType("sq8", description="IndexScalarQuantizer 8-bit; trained in wait_ready"),
}

_METRIC_MAPPING = {
    Metric.EUCLIDEAN: "euclidean -> METRIC_L2 (squared L2, same order)",
    Metric.COSINE: "cosine -> inner product on L2-normalized vectors",
    Metric.IP: "ip -> METRIC_INNER_PRODUCT",
}

_BUILD_TIME = {
    "flat": "nothing to build: upsert adds vectors to IndexFlat",
    "hnsw": "upsert (the HNSW graph is built while adding)",
    "ivf_flat": "wait_ready (training on a sample, then adding all buffered vectors)",
    "ivf_pq": "wait_ready (training on a sample, then adding all buffered vectors)",
    "sq8": "wait_ready (training, then adding all buffered vectors)",
}


class _Labels:
    """Growable label -> external id array for HNSW (-1 marks a tombstone)."""

    def __init__(self) -> None:
        self.ids = np.empty(0, dtype=np.int64)
        self.n = 0
        # True while every label equals its external id (ids 0..n-1 added in order, none
        # replaced): then searches return FAISS's labels as they are.
        self.identity = True

    def append(self, ids: NDArray[np.int64]) -> None:
        need = self.n + ids.shape[0]
        if self.identity and not (
            ids.shape[0]
            and ids[0] == self.n
            and ids[-1] == need - 1
            and np.array_equal(ids, np.arange(self.n, need))
        ):
            self.identity = bool(ids.shape[0] == 0)
        if need > self.ids.shape[0]:
            grown = np.empty(max(need, 2 * self.ids.shape[0], 1024), dtype=np.int64)
            grown[: self.n] = self.ids[: self.n]
            self.ids = grown
        self.ids[self.n : need] = ids
        self.n = need

    def to_external(self, labels: NDArray[np.int64]) -> NDArray[np.int64]:
        if self.identity:
            return labels
        out = self.ids[labels]
        if labels.min() < 0:  # -1 (no result) would index the last slot: put -1 back
            out[labels < 0] = -1
        return out


class FaissSharing:
    """``share``/``attach`` hooks of ``FaissStore``: the index and the id map in a temp folder."""

    def _do_share(self) -> dict[str, Any]:
        """Write the index and the id map to a temp directory that attached stores read.

        The directory lives until this (owning) store drops the collection or disconnects.
        """
        if self._index is None and self._pending is not None and len(self._pending):
            raise StoreError(
                f"faiss {self._kind} index is not trained yet ({len(self._pending)} vectors buffered); "
                "call wait_ready() before share()"
            )
        folder = tempfile.mkdtemp(prefix="vecbench-faiss-share-")
        self._share_dirs.append(folder)
        state: dict[str, Any] = {
            "dir": folder,
            "index_path": None,
            "ids_path": f"{folder}/ids.npz",
            "effective": dict(self._effective),
            "training": dict(self._training),
            "identity": None,
        }
        arrays: dict[str, Any] = {"id_keys": self._ids._keys, "id_values": self._ids._values}
        if self._index is not None:
            state["index_path"] = f"{folder}/index.faiss"
            self._client.write_index(self._index, state["index_path"])
        if self._labels is not None:
            arrays["labels"] = self._labels.ids[: self._labels.n]
            arrays["dead"] = np.asarray(self._dead, dtype=np.int64)
            state["identity"] = self._labels.identity
        np.savez(state["ids_path"], **arrays)
        if self._attrs.kinds:  # attached workers filter too
            state["attributes_path"] = f"{folder}/attributes.npz"
            save_attributes(self._attrs, self._ids._keys, state["attributes_path"])
        return state

    def _do_attach(self, state: Mapping[str, Any]) -> None:
        self._clear_index_state()
        self._cosine = self._spec_metric is Metric.COSINE
        self._query_shape = (self._dim,)
        self._effective = dict(state.get("effective") or self._build_params)
        self._training = dict(state.get("training") or {})
        try:
            with np.load(state["ids_path"]) as arrays:
                self._ids.reset(arrays["id_keys"], arrays["id_values"])
                if state.get("identity") is not None:
                    self._labels = _Labels()
                    self._labels.ids = np.array(arrays["labels"], dtype=np.int64)
                    self._labels.n = int(self._labels.ids.shape[0])
                    self._labels.identity = bool(state["identity"])
                    self._dead = arrays["dead"].tolist()
            if state.get("index_path"):
                self._index = self._read_shared_index(state["index_path"])
            if state.get("attributes_path"):
                self._attrs = load_attributes(self._attrs.kinds, state["attributes_path"])
        except (OSError, KeyError, ValueError, RuntimeError) as exc:
            raise StoreError(f"faiss cannot attach the shared index in {state.get('dir')}: {exc}") from exc
        self._live = len(self._ids)
        if self._index is None and self._kind in _TRAINED_TYPES:
            self._pending = VectorTable(self._dim)  # an empty, never-trained collection

    def _read_shared_index(self, path: str) -> Any:
        # Memory-map what FAISS can (flat codes, HNSW storage, IVF lists), so N worker
        # processes share one copy of the vectors in the page cache; read it whole otherwise.
        faiss = self._client
        flag = faiss.IO_FLAG_MMAP if self._kind in ("ivf_flat", "ivf_pq") else faiss.IO_FLAG_MMAP_IFC
        try:
            return faiss.read_index(path, flag)
        except RuntimeError:
            return faiss.read_index(path)

    def _do_detach(self) -> None:
        self._clear_index_state()  # the owner's files stay: it removes them when it drops

    def _remove_shared(self) -> None:
        while self._share_dirs:
            shutil.rmtree(self._share_dirs.pop(), ignore_errors=True)
