"""FAISS filtered search: the vectors that pass a filter become an ``IDSelector`` in the
search parameters of the index type, so the engine skips the others while it searches.
Private to ``vecbench.adapters.faiss``.

What the selector is checked against differs by index type, and so does its form:

- ``hnsw``: FAISS's own labels (0..ntotal-1, the adapter maps them to ids): an
  ``IDSelectorBitmap`` over the labels (ntotal bits). Tombstones pass no filter.
- ``flat`` and ``sq8`` (inside ``IndexIDMap2``, which translates labels to ids before asking
  the selector) and ``ivf_flat`` / ``ivf_pq`` (ids stored in the inverted lists): the
  external ids. An ``IDSelectorBitmap`` over them when the largest passing id is small
  enough (at most ``BITMAP_BYTES_PER_VECTOR`` bytes per live vector: ids 0..n-1 as most
  data sets have), else an ``IDSelectorBatch`` (FAISS's hash set with a bloom-style
  pre-check) of the passing ids.

The parameters carry what the unfiltered search sets on the index: ``efSearch`` in
``SearchParametersHNSW``, ``nprobe`` in ``SearchParametersIVF`` (FAISS reads these from the
parameters, not the index, when parameters are given). A cosine collection searches through
the same ``IndexPreTransform`` that normalizes single queries; it passes the parameters on.

Building a selector over a million ids takes milliseconds, so it is cached per filter,
attribute-table version, index object and search parameters (a few filters at a time).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vecbench.errors import StoreError

from ._attributes import AttributeTable

__all__ = ["BITMAP_BYTES_PER_VECTOR", "FaissFiltering", "load_attributes", "save_attributes"]

BITMAP_BYTES_PER_VECTOR = 8
_CACHE_SIZE = 8


def selector_form(passing: NDArray[np.int64], n_live: int) -> str:
    """``"bitmap"`` or ``"batch"``: the selector for these passing ids (sorted, non-empty)
    over a collection of ``n_live`` vectors."""
    bitmap_bytes = (int(passing[-1]) + 8) // 8
    return "bitmap" if bitmap_bytes <= BITMAP_BYTES_PER_VECTOR * max(n_live, 1) else "batch"


def bitmap_of(positions: NDArray[np.int64], size: int) -> NDArray[np.uint8]:
    """FAISS's bitmap layout: bit ``i % 8`` of byte ``i // 8`` is set for every position."""
    bits = np.zeros(size, dtype=bool)
    bits[positions] = True
    return np.packbits(bits, bitorder="little")


class FaissFiltering:
    """``_do_search_filtered`` of ``FaissStore`` and the selector it builds."""

    _attrs: AttributeTable
    _filter_cache: dict[Any, Any]

    def _do_search_filtered(self, queries: NDArray[np.float32], k: int, flt: Any) -> NDArray[np.int64]:
        nq = queries.shape[0]
        out = np.full((nq, k), -1, dtype=np.int64)
        if self._index is None:
            pending = self._pending
            if pending is not None and len(pending):
                raise StoreError(
                    f"faiss {self._kind} index is not trained yet ({len(pending)} vectors buffered); "
                    "call wait_ready() before searching"
                )
            return out
        found = self._filter_params(flt)
        if found is None:
            return out
        params, n_passing = found
        kk = min(k, n_passing)
        index = self._normalizing_view(self._index) if self._cosine else self._index
        threads = self._search_threads if nq == 1 else self._threads
        self._use_threads(threads)
        _, labels = index.search(queries, kk, params=params)
        if self._labels is not None:
            labels = self._labels.to_external(labels)
        out[:, :kk] = labels
        return out

    def _filter_params(self, flt: Any) -> tuple[Any, int] | None:
        """(SearchParameters with the selector, vectors passing), or None when none passes."""
        index = self._index
        key = (
            flt,
            self._attrs.version,
            id(index),
            int(index.ntotal),
            tuple(sorted(self._search_params.items())),
        )
        hit = self._filter_cache.get(key)
        if hit is None:
            if len(self._filter_cache) >= _CACHE_SIZE:
                self._filter_cache.clear()
            hit = self._filter_cache[key] = self._build_filter_params(flt)
        return None if hit[1] == 0 else (hit[0], hit[1])

    def _build_filter_params(self, flt: Any) -> tuple[Any, int, str]:
        faiss = self._client
        labels = self._labels
        if labels is not None:  # HNSW: a bitmap over FAISS's labels
            keep = self._attrs.passes(flt, labels.ids[: labels.n])
            n_passing, form = int(keep.sum()), "bitmap over HNSW labels"
            sel = faiss.IDSelectorBitmap(np.packbits(keep, bitorder="little")) if n_passing else None
        else:  # the external ids, as IndexIDMap2 and the inverted lists hold them
            live = self._ids._keys
            passing = np.ascontiguousarray(live[self._attrs.passes(flt, live)])
            n_passing = int(passing.shape[0])
            form, sel = "none passes", None
            if n_passing and selector_form(passing, live.shape[0]) == "bitmap":
                form = "bitmap over ids"
                sel = faiss.IDSelectorBitmap(bitmap_of(passing, int(passing[-1]) + 1))
            elif n_passing:
                form, sel = "batch of ids", faiss.IDSelectorBatch(passing)
        self._filter_selector = form
        if sel is None:
            return None, 0, form
        p = self._search_params
        kind = self._kind
        if kind == "hnsw":
            params = faiss.SearchParametersHNSW(sel=sel, efSearch=int(p["ef_search"]))
        elif kind in ("ivf_flat", "ivf_pq"):
            nlist = int(faiss.extract_index_ivf(self._index).nlist)
            params = faiss.SearchParametersIVF(sel=sel, nprobe=min(int(p["nprobe"]), nlist))
        else:
            params = faiss.SearchParameters(sel=sel)
        return params, n_passing, form

    def _filter_describe(self) -> dict[str, Any]:
        kind = self._kind
        where = {
            "hnsw": "SearchParametersHNSW(sel, efSearch)",
            "ivf_flat": "SearchParametersIVF(sel, nprobe)",
            "ivf_pq": "SearchParametersIVF(sel, nprobe)",
        }.get(kind, "SearchParameters(sel) through IndexIDMap2")
        return {
            "filtering": f"native: IDSelector of the passing vectors in {where}",
            "filter_selector_last": getattr(self, "_filter_selector", None),
        }


def save_attributes(table: AttributeTable, ids: NDArray[np.int64], path: str) -> None:
    """The attribute columns of ``ids`` in an .npz file (keywords as unicode, no pickle)."""
    columns = table.values(ids)
    np.savez(
        path, ids=ids, **{f"a_{a}": c.astype(str) if c.dtype == object else c for a, c in columns.items()}
    )


def load_attributes(kinds: Mapping[str, str], path: str) -> AttributeTable:
    """An attribute table from ``save_attributes``'s file."""
    table = AttributeTable(kinds)
    with np.load(path) as saved:
        table.upsert(np.asarray(saved["ids"]), {a: saved[f"a_{a}"] for a in kinds})
    return table
