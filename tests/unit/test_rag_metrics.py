import math

import pytest

from vecbench.rag.metrics import (
    evaluate_query,
    hit_at_k,
    merge_intervals,
    mrr_at_k,
    ndcg_at_k,
    recall_at_k,
    span_overlap,
    summarize,
)


def test_ndcg_graded_by_hand():
    qrels = {"a": 3, "b": 1, "c": 2, "z": 0}
    ranked = ["b", "x", "a", "c"]
    dcg = 1 / math.log2(2) + 3 / math.log2(4) + 2 / math.log2(5)
    idcg = 3 / math.log2(2) + 2 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(ranked, qrels, 10) == pytest.approx(dcg / idcg)
    assert ndcg_at_k(["a", "c", "b"], qrels, 10) == pytest.approx(1.0)
    assert ndcg_at_k(["x", "z"], qrels, 10) == 0.0
    # cut-off: only the first k count, ideal also cut at k
    assert ndcg_at_k(ranked, qrels, 1) == pytest.approx(1 / 3)


def test_ndcg_counts_unknown_relevant_docs_in_ideal_and_duplicates_once():
    assert ndcg_at_k(["a"], {"a": 1, "missing": 1}, 10) == pytest.approx(1 / (1 + 1 / math.log2(3)))
    assert ndcg_at_k(["a", "a"], {"a": 1, "b": 1}, 10) == pytest.approx(1 / (1 + 1 / math.log2(3)))


def test_mrr_hit_recall():
    qrels = {"a": 1, "b": 2, "n": 0}
    ranked = ["x", "n", "b", "y", "a"]
    assert mrr_at_k(ranked, qrels, 10) == pytest.approx(1 / 3)
    assert mrr_at_k(ranked, qrels, 2) == 0.0
    assert hit_at_k(ranked, qrels, 2) == 0.0 and hit_at_k(ranked, qrels, 3) == 1.0
    assert recall_at_k(ranked, qrels, 3) == 0.5 and recall_at_k(ranked, qrels, 5) == 1.0
    assert recall_at_k(ranked, {}, 5) == 0.0


def test_merge_intervals():
    assert merge_intervals([("d", 5, 9), ("d", 0, 3), ("d", 2, 6), ("e", 1, 1), ("e", 4, 5)]) == {
        "d": [(0, 9)],
        "e": [(4, 5)],
    }


def test_span_iou_by_hand():
    # retrieved [0,10) and [20,30) of d; relevant [5,25) of d and [0,10) of e
    got = span_overlap([("d", 0, 10), ("d", 20, 30)], [("d", 5, 25), ("e", 0, 10)])
    inter, ret, rel = 10, 20, 30
    assert got["span_recall"] == pytest.approx(inter / rel)
    assert got["span_precision"] == pytest.approx(inter / ret)
    assert got["span_iou"] == pytest.approx(inter / (ret + rel - inter))
    # overlapping retrieved chunks count their characters once
    assert span_overlap([("d", 0, 10), ("d", 5, 10)], [("d", 0, 10)])["span_iou"] == 1.0
    assert span_overlap([], [])["span_iou"] is None
    assert span_overlap([("d", 0, 4)], [])["span_recall"] is None


def test_summarize_means_and_undefined_spans():
    q1 = evaluate_query("1", ["a", "b"], {"a": 1}, [1, 2], [("a", 0, 4)], [("a", 0, 4)])
    q2 = evaluate_query("2", ["b", "a"], {"a": 1}, [1, 2], [], [])
    rep = summarize([q1, q2], [1, 2])
    assert rep.means["queries"] == 2
    assert rep.means["mrr_at_10"] == pytest.approx(0.75)
    assert rep.means["hit_at_k"] == {"1": 0.5, "2": 1.0}
    assert rep.means["span_iou"] == 1.0  # q2's undefined IoU is left out
