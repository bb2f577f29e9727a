"""Retrieval modes and the fusion of a dense and a sparse ranking.

A cell retrieves in one of three modes:

- ``dense``: the store's nearest chunks to the embedded query;
- ``sparse``: BM25 over the chunks' text (``vecbench.rag.sparse``), no embedder, no store;
- ``hybrid``: both, fused on the client, by

  - reciprocal rank (``fusion: rrf``): ``score(c) = sum over lists of 1 / (rrf_k + rank)``,
    rank counted from 1 in each list a chunk appears in (Cormack et al. 2009; rrf_k = 60);
  - a weighted sum (``fusion: weighted``): ``alpha * dense' + (1 - alpha) * sparse'`` where
    ``'`` is min-max normalisation of each list's scores over its own top-N (a list whose
    scores are all equal maps them to 1) and a chunk missing from a list gets 0 there;
    ``alpha = 1`` is dense order over the union, ``alpha = 0`` sparse order.

Where the fusion runs is the mode's ``where``: ``native`` (the default) asks the store's
own hybrid query (``vecbench.store.HybridSearch``: the engine's full-text index and its
vector index fused by the engine in one request; ConfigError, before any work, for a store
without it or without that fusion), ``client`` fuses here (bm25s + the store's dense
search, any store), ``auto`` is native where the store offers it and client elsewhere
(``resolve_where``). The record says which ran (``where: native | client``).

    mode = RetrievalMode("hybrid", fusion="weighted", alpha=0.7)
    fused = weighted_fusion(dense_ranked, sparse_ranked, mode.alpha)  # [(chunk id, score), ...]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vecbench.errors import ConfigError, UnknownNameError
from vecbench.util.validation import is_int, is_number

__all__ = [
    "MODES",
    "FUSIONS",
    "RetrievalMode",
    "rrf_fusion",
    "weighted_fusion",
    "min_max",
    "WHERE",
    "resolve_where",
]

MODES = ("dense", "sparse", "hybrid")
FUSIONS = ("rrf", "weighted")
WHERE = ("native", "client", "auto")
DEFAULT_RRF_K = 60

Ranked = Sequence[tuple[int, float]]  # (chunk id, score), best first


@dataclass(frozen=True)
class RetrievalMode:
    """How a cell retrieves; checked when made (ConfigError / UnknownNameError).

    >>> RetrievalMode("hybrid").label
    'hybrid rrf k=60'
    >>> RetrievalMode("hybrid", fusion="weighted", alpha=1.5)
    Traceback (most recent call last):
    ...
    vecbench.errors.ConfigError: retrieval: alpha (the dense weight of weighted fusion) must be a number in [0, 1], got 1.5
    """

    mode: str = "dense"
    fusion: str | None = None
    rrf_k: int = DEFAULT_RRF_K
    alpha: float | None = None
    where: str = "native"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise UnknownNameError("retrieval mode", self.mode, MODES)
        if self.where not in WHERE:
            raise UnknownNameError("hybrid_where", self.where, WHERE)
        if self.mode != "hybrid":
            if self.fusion is not None or self.alpha is not None:
                raise ConfigError(f"retrieval: fusion and alpha apply to mode hybrid, not {self.mode}")
            object.__setattr__(self, "where", "client" if self.mode == "sparse" else "native")
            return
        fusion = self.fusion or "rrf"
        if fusion not in FUSIONS:
            raise UnknownNameError("fusion", fusion, FUSIONS)
        object.__setattr__(self, "fusion", fusion)
        if fusion == "rrf":
            if self.alpha is not None:
                raise ConfigError("retrieval: alpha is the weight of fusion weighted; rrf takes rrf_k")
            if not is_int(self.rrf_k) or self.rrf_k < 1:
                raise ConfigError(f"retrieval: rrf_k must be a positive integer, got {self.rrf_k!r}")
            return
        alpha = self.alpha
        if not is_number(alpha) or not 0.0 <= float(alpha) <= 1.0:  # type: ignore[arg-type]
            raise ConfigError(
                "retrieval: alpha (the dense weight of weighted fusion) must be a number in [0, 1], "
                f"got {alpha!r}"
            )
        object.__setattr__(self, "alpha", float(alpha))  # type: ignore[arg-type]

    @property
    def uses_dense(self) -> bool:
        return self.mode in ("dense", "hybrid")

    @property
    def uses_sparse(self) -> bool:
        """BM25 on the client (bm25s): sparse, and hybrid fused on the client."""
        return self.mode == "sparse" or (self.mode == "hybrid" and self.where != "native")

    @property
    def native(self) -> bool:
        """Hybrid by the store's own hybrid query (``HybridSearch``)."""
        return self.mode == "hybrid" and self.where == "native"

    @property
    def label(self) -> str:
        """Short text for tables: ``dense``, ``bm25``, ``hybrid rrf k=60``, ``hybrid weighted a=0.5``."""
        if self.mode == "sparse":
            return "bm25"
        if self.mode == "dense":
            return "dense"
        tail = " native" if self.where == "native" else ""
        if self.fusion == "rrf":
            return f"hybrid rrf k={self.rrf_k}{tail}"
        return f"hybrid weighted a={self.alpha:g}{tail}"

    def as_dict(self) -> dict[str, Any]:
        """The record's ``search.retrieval``: mode, and for hybrid the fusion, its parameter
        and where it ran (``native`` or ``client``; ``auto`` before it is resolved)."""
        out: dict[str, Any] = {"mode": self.mode}
        if self.mode == "hybrid":
            out["fusion"] = self.fusion
            out.update({"rrf_k": self.rrf_k} if self.fusion == "rrf" else {"alpha": self.alpha})
            out["where"] = self.where
        return out


def resolve_where(mode: RetrievalMode, store: Any, store_name: str = "") -> RetrievalMode:
    """``mode`` with ``where`` settled for ``store`` (a store class or instance): ``auto``
    becomes native where the store's HybridSearch runs the fusion, else client; ``native``
    on a store that cannot is a ConfigError naming why and the way out. No I/O.

    >>> resolve_where(RetrievalMode("hybrid", where="auto"), store_class("faiss")).where  # doctest: +SKIP
    'client'
    """
    if mode.mode != "hybrid" or mode.where == "client":
        return mode
    from dataclasses import replace

    from vecbench.store import HybridSearch

    cls = store if isinstance(store, type) else type(store)
    name = store_name or getattr(getattr(cls, "info", None), "name", cls.__name__)
    why = (
        cls.hybrid_refusal(str(mode.fusion), mode.rrf_k)
        if issubclass(cls, HybridSearch)
        else f"{name} has no native hybrid search (no full-text index next to its vectors)"
    )
    if why is None:
        return replace(mode, where="native")
    if mode.where == "auto":
        return replace(mode, where="client")
    raise ConfigError(
        f"retrieval {mode.label} on store {name}: {why}; set hybrid_where: client (or auto) "
        "to fuse BM25 and dense results on the client"
    )


def rrf_fusion(lists: Sequence[Ranked], rrf_k: int = DEFAULT_RRF_K) -> list[tuple[int, float]]:
    """Reciprocal-rank fusion of ranked lists; best first, ties by chunk id.

    >>> rrf_fusion([[(7, 0.9), (3, 0.8)], [(3, 12.0)]], rrf_k=60)[0][0]
    3
    """
    fused: dict[int, float] = {}
    for ranked in lists:
        for rank, (cid, _score) in enumerate(ranked, start=1):
            fused[cid] = fused.get(cid, 0.0) + 1.0 / (rrf_k + rank)
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))


def min_max(scores: Sequence[float]) -> list[float]:
    """Scores mapped linearly onto [0, 1]; all equal (or one) map to 1.0.

    >>> min_max([2.0, 4.0, 3.0])
    [0.0, 1.0, 0.5]
    """
    if not len(scores):
        return []
    a = np.asarray(scores, dtype=np.float64)
    lo, hi = float(a.min()), float(a.max())
    if hi == lo:
        return [1.0] * len(a)
    return [float(x) for x in (a - lo) / (hi - lo)]


def weighted_fusion(dense: Ranked, sparse: Ranked, alpha: float) -> list[tuple[int, float]]:
    """``alpha * minmax(dense) + (1 - alpha) * minmax(sparse)`` over the union; best first,
    ties by chunk id. A chunk absent from a list scores 0 in it.

    >>> weighted_fusion([(1, 0.9), (2, 0.5)], [(2, 8.0), (3, 4.0)], alpha=0.5)
    [(1, 0.5), (2, 0.5), (3, 0.0)]
    """
    fused: dict[int, float] = {}
    for weight, ranked in ((alpha, dense), (1.0 - alpha, sparse)):
        norm = min_max([s for _c, s in ranked])
        for (cid, _s), x in zip(ranked, norm, strict=True):
            fused[cid] = fused.get(cid, 0.0) + weight * x
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))
