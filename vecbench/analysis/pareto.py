"""Pareto fronts over result records, and the best setting per store at a recall target.

A vector record is one point: its recall@k against a cost axis, either higher-is-better
(QPS) or lower-is-better (p99 latency, dollars per million queries). A setting is on the
front when no other setting of the same group has at least its recall and a figure at
least as good, one of the two strictly better. Failed records and retrieval (``rag``)
records never count.

    pts = points(read_results("run.jsonl"))
    front = pareto_front(pts, "qps")                     # recall vs QPS, ann-benchmarks style
    fronts = pareto_fronts(read_results("run.jsonl"), "p99_ms")  # per data set x store
    rows = best_per_store(records, 0.95, by="p99_ms")    # cheapest/fastest reaching recall 0.95

Records of schema v1 (no ``cost`` or ``load`` section) are read too: their dollar and
load figures are simply absent (None).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from vecbench.analysis.summary import record_filter_text
from vecbench.errors import ConfigError, UnknownNameError
from vecbench.util.nested import dig

__all__ = [
    "AXES",
    "points",
    "pareto_front",
    "pareto_fronts",
    "best_per_store",
    "check_target_recall",
    "params_text",
]

# axis name -> True when a higher figure is better
AXES: dict[str, bool] = {
    "qps": True,  # serial (one client, one query at a time), as ann-benchmarks plots it
    "batch_qps": True,
    "load_qps": True,  # the best closed-loop level's achieved QPS
    "p50_ms": False,
    "p95_ms": False,
    "p99_ms": False,
    "usd_per_1m_queries": False,
}
_RECALL_KEYS = ("recall_at_k", "tie_aware_recall_at_k")


def params_text(params: Mapping[str, Any] | None) -> str:
    """``m=16 ef_search=64`` from a parameter mapping (None values left out)."""
    return " ".join(f"{k}={v}" for k, v in (params or {}).items() if v is not None)


def _load_qps(record: Mapping[str, Any]) -> float | None:
    levels = dig(record, "load", "closed_loop", "levels") or []
    ok = [
        float(lv["qps"])
        for lv in levels
        if isinstance(lv, Mapping)
        and lv.get("status", "ok") == "ok"
        and isinstance(lv.get("qps"), (int, float))
    ]
    return max(ok) if ok else None


def _point(record: Mapping[str, Any], recall_key: str) -> dict[str, Any] | None:
    recall = dig(record, "quality", recall_key)
    if not isinstance(recall, (int, float)):
        return None
    build = dig(record, "index", "resolved_params") or dig(record, "index", "params") or {}
    search = dig(record, "search", "resolved_params") or dig(record, "search", "params") or {}
    store, index = dig(record, "store", "name"), dig(record, "index", "type")
    return {
        "dataset": dig(record, "dataset", "name"),
        "metric": dig(record, "dataset", "metric"),
        "k": dig(record, "search", "k") or dig(record, "quality", "k"),
        "store": store,
        "index": index,
        "label": f"{store}/{index}",
        "build": dict(build),
        "search": dict(search),
        "params": " ".join(p for p in (params_text(build), params_text(search)) if p),
        "recall": float(recall),
        "qps": dig(record, "qps", "serial"),
        "batch_qps": dig(record, "qps", "batch"),
        "load_qps": _load_qps(record),
        "p50_ms": dig(record, "latency", "p50_ms"),
        "p95_ms": dig(record, "latency", "p95_ms"),
        "p99_ms": dig(record, "latency", "p99_ms"),
        "usd_per_1m_queries": dig(record, "cost", "usd_per_1m_queries"),
        "filter": record_filter_text(record),
        "selectivity": dig(record, "search", "filter", "selectivity"),
        "cell_id": record.get("cell_id"),
        "record": record,
    }


def _check_axis(by: str) -> None:
    if by not in AXES:
        raise UnknownNameError("Pareto axis", by, AXES)


def _check_recall_key(recall_key: str) -> None:
    if recall_key not in _RECALL_KEYS:
        raise UnknownNameError("recall measure", recall_key, _RECALL_KEYS)


def points(records: Iterable[Mapping[str, Any]], recall_key: str = "recall_at_k") -> list[dict[str, Any]]:
    """One flat row per ok vector record that has a recall figure (failed ones never count).

    Each row holds dataset, metric, k, store, index, label ("store/index"), build and
    search params, params (text), recall, qps, batch_qps, load_qps, p50_ms, p95_ms,
    p99_ms, usd_per_1m_queries (None where not measured), cell_id and the record.
    """
    _check_recall_key(recall_key)
    out = []
    for r in records:
        if r.get("kind", "vector") != "vector" or r.get("status") != "ok":
            continue
        p = _point(r, recall_key)
        if p is not None:
            out.append(p)
    return out


def _better(a: float, b: float, higher: bool) -> bool:
    return a > b if higher else a < b


def pareto_front(rows: Sequence[Mapping[str, Any]], by: str = "qps") -> list[dict[str, Any]]:
    """The rows on the recall-vs-``by`` front, in increasing recall.

    Rows without a ``by`` figure are left out. Of two rows with the same recall and figure
    the first is kept.

    >>> rows = [{"recall": 0.9, "qps": 100.0}, {"recall": 0.95, "qps": 50.0},
    ...         {"recall": 0.8, "qps": 60.0}, {"recall": 0.95, "qps": 40.0}]
    >>> [(r["recall"], r["qps"]) for r in pareto_front(rows, "qps")]
    [(0.9, 100.0), (0.95, 50.0)]
    """
    _check_axis(by)
    higher = AXES[by]
    usable = [r for r in rows if isinstance(r.get(by), (int, float))]
    sign = -1.0 if higher else 1.0
    # Highest recall first; among equal recall the best figure first: a row is on the
    # front exactly when its figure beats every row of higher-or-equal recall seen so far.
    usable.sort(key=lambda r: (-r["recall"], sign * r[by]))
    front: list[dict[str, Any]] = []
    best: float | None = None
    for r in usable:
        if best is None or _better(r[by], best, higher):
            front.append(dict(r))
            best = r[by]
    front.reverse()
    return front


def _group_key(p: Mapping[str, Any]) -> tuple[Any, ...]:
    # Cells under different filters answer different questions: never one front.
    return (p["dataset"], p["metric"], p["k"], p["filter"])


def pareto_fronts(
    records: Iterable[Mapping[str, Any]], by: str = "qps", *, recall_key: str = "recall_at_k"
) -> dict[tuple[Any, ...], dict[str, list[dict[str, Any]]]]:
    """Fronts per (dataset, metric, k) and, inside each, per label (``store/index``)."""
    _check_axis(by)
    groups: dict[tuple[Any, ...], dict[str, list[dict[str, Any]]]] = {}
    for p in points(records, recall_key):
        groups.setdefault(_group_key(p), {}).setdefault(p["label"], []).append(p)
    return {
        key: {label: pareto_front(rows, by) for label, rows in sorted(labels.items())}
        for key, labels in groups.items()
    }


def check_target_recall(target_recall: Any) -> float:
    """``target_recall`` as a float in (0, 1]; ConfigError otherwise."""
    if (
        isinstance(target_recall, bool)
        or not isinstance(target_recall, (int, float))
        or not 0.0 < target_recall <= 1.0
    ):
        raise ConfigError(f"target recall must be a number in (0, 1], got {target_recall!r}")
    return float(target_recall)


def best_per_store(
    records: Iterable[Mapping[str, Any]],
    target_recall: float,
    by: str = "p99_ms",
    *,
    recall_key: str = "recall_at_k",
) -> list[dict[str, Any]]:
    """One row per (dataset, metric, k, store): its best setting with recall >= target.

    "Best" is the lowest (p99_ms, p50_ms, usd_per_1m_queries ...) or highest (qps ...)
    ``by`` figure; ties go to the higher recall. Every row has ``reached``; a store whose
    settings all fall short gets a row with ``reached`` False, ``best_recall`` (the highest
    recall it reached) and that setting's figures, so the table says how far off it was.
    A store that reached the target only in settings without a ``by`` figure (e.g. no cost
    section in a v1 record) gets ``reached`` True and a note. Rows are sorted by dataset,
    metric, k, then reached first, then by the figure.

    >>> rows = best_per_store([], 0.95)
    >>> rows
    []
    """
    target = check_target_recall(target_recall)
    _check_axis(by)
    higher = AXES[by]
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for p in points(records, recall_key):
        groups.setdefault((*_group_key(p), p["store"]), []).append(p)
    rows = []
    for pts in groups.values():
        top = max(pts, key=lambda p: p["recall"])
        reaching = [p for p in pts if p["recall"] >= target]
        with_figure = [p for p in reaching if isinstance(p.get(by), (int, float))]
        note = ""
        if with_figure:
            sign = -1.0 if higher else 1.0
            chosen = min(with_figure, key=lambda p: (sign * p[by], -p["recall"]))
        elif reaching:
            chosen = max(reaching, key=lambda p: p["recall"])
            note = f"no {by} figure recorded"
        else:
            chosen = top
            note = f"no setting reached recall {target:g} (best {top['recall']:.4f})"
        row = {k: v for k, v in chosen.items() if k != "record"}
        row.update(
            target_recall=target,
            by=by,
            reached=bool(reaching),
            best_recall=top["recall"],
            settings_tried=len(pts),
            note=note,
        )
        rows.append(row)

    def order(r: Mapping[str, Any]) -> tuple[Any, ...]:
        v = r.get(by)
        has = isinstance(v, (int, float)) and bool(r["reached"])
        figure = float(v) * (-1.0 if higher else 1.0) if has and v is not None else 0.0
        return (str(r["dataset"]), str(r["metric"]), r["k"] or 0, not r["reached"], not has, figure)

    rows.sort(key=order)
    return rows
