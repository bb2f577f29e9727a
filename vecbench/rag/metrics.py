"""Retrieval quality from ranked document ids and graded judgments, and span overlap.

Document metrics follow trec_eval: a document is relevant when its grade is > 0; nDCG uses
the grade as gain, discounted by log2(rank + 1) (rank from 1), normalised by the ideal
ordering of every positive judgment (including judged documents missing from the corpus).

Span metrics compare the characters retrieved (the union of the top chunks' spans) with the
relevant characters (the union of the relevant spans):

    recall = |R & G| / |G|, precision = |R & G| / |R|, IoU = |R & G| / |R | G|

>>> ndcg_at_k(["a", "b"], {"b": 1}, 10)  # one relevant document at rank 2
0.6309297535714575
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "hit_at_k",
    "recall_at_k",
    "mrr_at_k",
    "ndcg_at_k",
    "merge_intervals",
    "span_overlap",
    "QueryQuality",
    "QualityReport",
    "evaluate_query",
    "summarize",
]

Interval = tuple[str, int, int]  # (doc_id, start, end)


def _relevant(qrels: Mapping[str, int]) -> set[str]:
    return {d for d, g in qrels.items() if g > 0}


def hit_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    """1.0 if a relevant document is among the first k, else 0.0."""
    rel = _relevant(qrels)
    return 1.0 if any(d in rel for d in ranked[:k]) else 0.0


def recall_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    """Share of the relevant documents among the first k (0.0 when none is relevant)."""
    rel = _relevant(qrels)
    if not rel:
        return 0.0
    return len(rel.intersection(ranked[:k])) / len(rel)


def mrr_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    """1 / rank of the first relevant document within the first k, else 0.0."""
    rel = _relevant(qrels)
    for i, d in enumerate(ranked[:k], start=1):
        if d in rel:
            return 1.0 / i
    return 0.0


def ndcg_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int = 10) -> float:
    """nDCG@k with graded gains (gain = grade, discount log2(rank + 1))."""
    dcg = 0.0
    seen: set[str] = set()
    for i, d in enumerate(ranked[:k], start=1):
        if d in seen:  # a document counts once
            continue
        seen.add(d)
        g = qrels.get(d, 0)
        if g > 0:
            dcg += g / math.log2(i + 1)
    ideal = sorted((g for g in qrels.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 1) for i, g in enumerate(ideal, start=1))
    return dcg / idcg if idcg > 0 else 0.0


def merge_intervals(spans: Iterable[Interval]) -> dict[str, list[tuple[int, int]]]:
    """Per document, the sorted, disjoint union of the given ``[start, end)`` intervals."""
    by_doc: dict[str, list[tuple[int, int]]] = {}
    for doc, s, e in spans:
        if e > s:
            by_doc.setdefault(doc, []).append((s, e))
    out: dict[str, list[tuple[int, int]]] = {}
    for doc, ivs in by_doc.items():
        ivs.sort()
        merged = [ivs[0]]
        for s, e in ivs[1:]:
            ls, le = merged[-1]
            if s <= le:
                merged[-1] = (ls, max(le, e))
            else:
                merged.append((s, e))
        out[doc] = merged
    return out


def _length(m: Mapping[str, list[tuple[int, int]]]) -> int:
    return sum(e - s for ivs in m.values() for s, e in ivs)


def _intersection(a: Mapping[str, list[tuple[int, int]]], b: Mapping[str, list[tuple[int, int]]]) -> int:
    total = 0
    for doc in a.keys() & b.keys():
        x, y = a[doc], b[doc]
        i = j = 0
        while i < len(x) and j < len(y):
            lo, hi = max(x[i][0], y[j][0]), min(x[i][1], y[j][1])
            if hi > lo:
                total += hi - lo
            if x[i][1] < y[j][1]:
                i += 1
            else:
                j += 1
    return total


def span_overlap(retrieved: Iterable[Interval], relevant: Iterable[Interval]) -> dict[str, float | None]:
    """Span recall, precision and IoU in characters (None where a denominator is zero).

    >>> span_overlap([("d", 0, 10)], [("d", 5, 20)])
    {'span_recall': 0.3333333333333333, 'span_precision': 0.5, 'span_iou': 0.25}
    """
    r, g = merge_intervals(retrieved), merge_intervals(relevant)
    inter, lr, lg = _intersection(r, g), _length(r), _length(g)
    union = lr + lg - inter
    return {
        "span_recall": inter / lg if lg else None,
        "span_precision": inter / lr if lr else None,
        "span_iou": inter / union if union else None,
    }


@dataclass
class QueryQuality:
    """Every metric for one query."""

    query_id: str
    ndcg_at_10: float
    mrr_at_10: float
    recall_at_k: dict[int, float]
    hit_at_k: dict[int, float]
    mrr_at_k: dict[int, float]
    ndcg_at_k: dict[int, float]
    span: dict[str, float | None] = field(default_factory=dict)


def evaluate_query(
    query_id: str,
    ranked_docs: Sequence[str],
    qrels: Mapping[str, int],
    ks: Sequence[int],
    retrieved_spans: Iterable[Interval] = (),
    relevant_spans: Iterable[Interval] = (),
) -> QueryQuality:
    """Metrics of one query's ranking (documents, best first) and retrieved spans."""
    return QueryQuality(
        query_id=query_id,
        ndcg_at_10=ndcg_at_k(ranked_docs, qrels, 10),
        mrr_at_10=mrr_at_k(ranked_docs, qrels, 10),
        recall_at_k={k: recall_at_k(ranked_docs, qrels, k) for k in ks},
        hit_at_k={k: hit_at_k(ranked_docs, qrels, k) for k in ks},
        mrr_at_k={k: mrr_at_k(ranked_docs, qrels, k) for k in ks},
        ndcg_at_k={k: ndcg_at_k(ranked_docs, qrels, k) for k in ks},
        span=span_overlap(retrieved_spans, relevant_spans),
    )


def _mean(values: Iterable[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


@dataclass
class QualityReport:
    """Means over queries (the record's ``quality`` section) and the per-query figures."""

    means: dict[str, Any]
    per_query: list[QueryQuality]


def summarize(per_query: Sequence[QueryQuality], ks: Sequence[int]) -> QualityReport:
    """Means over queries; a span figure undefined for a query is left out of its mean."""

    def by_k(attr: str) -> dict[str, float | None]:
        return {str(k): _mean(getattr(q, attr)[k] for q in per_query) for k in ks}

    means: dict[str, Any] = {
        "queries": len(per_query),
        "ndcg_at_10": _mean(q.ndcg_at_10 for q in per_query),
        "mrr_at_10": _mean(q.mrr_at_10 for q in per_query),
        "recall_at_k": by_k("recall_at_k"),
        "hit_at_k": by_k("hit_at_k"),
        "mrr_at_k": by_k("mrr_at_k"),
        "ndcg_at_k": by_k("ndcg_at_k"),
    }
    for key in ("span_recall", "span_precision", "span_iou"):
        means[key] = _mean(q.span.get(key) for q in per_query)
    return QualityReport(means, list(per_query))
