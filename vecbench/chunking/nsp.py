"""Next-sentence-prediction chunking: merge adjacent segments while a pair scorer says the
right one continues the left one.

Segments are sentences (within blank-line paragraphs) or whole paragraphs, with exact
offsets. A :class:`PairScorer` gives every adjacent pair a probability-like score that the right
segment continues the left; segments are merged while the score is at least ``threshold`` and
the chunk stays within the size limit. Scorers:

- :class:`BertNSPScorer`: BERT's next-sentence-prediction head (P(IsNext)), from a local model
  directory (torch and transformers are imported on first use);
- :class:`CosineScorer`: cosine similarity of the two segments' embeddings;
- :class:`AdjacencyHead`: a logistic regression over embedding pair features, trained on the
  corpus itself (adjacent sentences against random pairs), no labels needed.

:func:`adjacency_auc` measures how well a scorer separates adjacent from random sentence pairs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from vecbench.chunking.base import Chunk, SizeUnit, Tokenizer
from vecbench.chunking.discourse import (
    Segment,
    check_max_size,
    group_units,
    make_sizer,
    sized_units,
    unit_spans,
)
from vecbench.embedding.base import Embedder
from vecbench.errors import ConfigError
from vecbench.util.deps import import_optional

__all__ = [
    "AdjacencyHead",
    "BertNSPScorer",
    "CosineScorer",
    "NSPChunker",
    "PairScorer",
    "adjacency_auc",
    "adjacency_pairs",
    "mann_whitney_auc",
]

FloatArray = NDArray[np.float64]
ArrayLike = Sequence[float] | NDArray[Any]


@runtime_checkable
class PairScorer(Protocol):
    """``score(lefts, rights)[i]``: how likely ``rights[i]`` continues ``lefts[i]``, in [0, 1]."""

    @property
    def name(self) -> str: ...

    def score(self, lefts: Sequence[str], rights: Sequence[str]) -> FloatArray: ...


# ---------------------------------------------------------------------------- scorers


class BertNSPScorer:
    """P(IsNext) from a BERT next-sentence-prediction model in a local directory.

    Loads ``BertForNextSentencePrediction`` and its tokenizer from ``model_path`` on first use
    (``local_files_only``; nothing is downloaded). ``trained=False`` labels the scores as from
    an untrained model (``name`` becomes ``"bert-nsp (untrained)"``); left as None, the model is
    untrained when its ``config.json`` says ``"vecbench_trained": false`` or when the NSP head's
    weights were missing from the checkpoint (transformers then initialises them at random).

    >>> scorer = BertNSPScorer("/models/bert-base-uncased")  # doctest: +SKIP
    >>> scorer.score(["It rained."], ["The streets were wet."])  # doctest: +SKIP
    array([0.99...])
    """

    def __init__(
        self,
        model_path: str | Path,
        trained: bool | None = None,
        batch_size: int = 32,
        max_length: int = 512,
        device: str = "cpu",
    ) -> None:
        self.model_path = Path(model_path)
        self._trained = trained
        self.batch_size = batch_size
        self.max_length = max_length
        self.device = device
        self._model: Any = None
        self._tokenizer: Any = None

    @property
    def trained(self) -> bool:
        if self._trained is None:
            if self._model is not None:
                return self._head_loaded and self._config_says_trained()
            return self._config_says_trained()
        return self._trained

    @property
    def name(self) -> str:
        return "bert-nsp" if self.trained else "bert-nsp (untrained)"

    def _config_says_trained(self) -> bool:
        try:
            config = json.loads((self.model_path / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return True
        return bool(config.get("vecbench_trained", True))

    def _load(self) -> None:
        if self._model is not None:
            return
        import_optional("torch", "embed")
        transformers = import_optional("transformers", "embed")
        if not (self.model_path / "config.json").is_file():
            raise ConfigError(f"{self.model_path}: no config.json; not a local BERT model directory")
        model, info = transformers.BertForNextSentencePrediction.from_pretrained(
            str(self.model_path), local_files_only=True, output_loading_info=True
        )
        missing = info.get("missing_keys", []) if isinstance(info, dict) else []
        self._head_loaded = not any("seq_relationship" in k for k in missing)
        self._tokenizer = transformers.AutoTokenizer.from_pretrained(
            str(self.model_path), local_files_only=True
        )
        self._model = model.to(self.device).eval()
        # Pairs longer than the model's position table would fail; truncate to it.
        self._max_length = min(self.max_length, int(model.config.max_position_embeddings))

    def score(self, lefts: Sequence[str], rights: Sequence[str]) -> FloatArray:
        _check_pairs(lefts, rights)
        if not lefts:
            return np.zeros(0)
        self._load()
        import torch

        out: list[FloatArray] = []
        with torch.no_grad():
            for i in range(0, len(lefts), self.batch_size):
                enc = self._tokenizer(
                    list(lefts[i : i + self.batch_size]),
                    list(rights[i : i + self.batch_size]),
                    padding=True,
                    truncation=True,
                    max_length=self._max_length,
                    return_tensors="pt",
                ).to(self.device)
                logits = self._model(**enc).logits
                # Label 0 is IsNext in BERT's pre-training.
                out.append(torch.softmax(logits.float(), dim=-1)[:, 0].cpu().numpy().astype(np.float64))
        return np.concatenate(out)


class CosineScorer:
    """Cosine similarity of the two segments' embeddings, as ``(cos + 1) / 2`` in [0, 1] by
    default (so 0.5 is orthogonal), or the raw cosine with ``rescale=False``.

    Each distinct text is embedded once per call (in a chunk's pairs, every segment but the
    ends is both a left and a right).
    """

    def __init__(self, embedder: Embedder, rescale: bool = True) -> None:
        self.embedder = embedder
        self.rescale = rescale

    @property
    def name(self) -> str:
        return f"cosine({self.embedder.name})"

    def score(self, lefts: Sequence[str], rights: Sequence[str]) -> FloatArray:
        _check_pairs(lefts, rights)
        u, v = _embed_pairs(self.embedder, lefts, rights)
        cos = np.sum(_normalise(u) * _normalise(v), axis=1)
        return (cos + 1.0) / 2.0 if self.rescale else cos


class AdjacencyHead:
    """A logistic regression that tells adjacent sentence pairs from random ones, trained on the
    corpus itself: positives are consecutive sentences of a document, negatives pair a sentence
    with one from another document (seeded). Features of a pair ``(u, v)`` of embeddings:
    ``[u, v, |u - v|, u * v]``, standardised; fitted by Newton's method with an L2 penalty
    ``l2`` (numpy only). Documents, not pairs, are held out, so no sentence is in both sets.

    >>> head = AdjacencyHead()
    >>> report = head.fit(docs, embedder)  # doctest: +SKIP
    >>> report["auc_holdout"], report["cosine_auc_holdout"]  # doctest: +SKIP
    (0.9..., 0.8...)
    """

    def __init__(self, l2: float = 1000.0, max_iter: int = 50, tol: float = 1e-6) -> None:
        if l2 < 0:
            raise ConfigError(f"l2 must be >= 0, got {l2!r}")
        self.l2 = float(l2)
        self.max_iter = max_iter
        self.tol = tol
        self.embedder: Embedder | None = None
        self._mean: FloatArray | None = None
        self._scale: FloatArray | None = None
        self._w: FloatArray | None = None

    @property
    def name(self) -> str:
        return f"adjacency-head({self.embedder.name if self.embedder else 'unfitted'})"

    def fit(
        self, docs: Sequence[str], embedder: Embedder, holdout: float = 0.2, seed: int = 0
    ) -> dict[str, Any]:
        """Train on ``docs`` (texts); returns a report with the held-out AUC (and the plain
        cosine's AUC on the same held-out pairs, for comparison)."""
        if not 0.0 <= holdout < 1.0:
            raise ConfigError(f"holdout must be in [0, 1), got {holdout!r}")
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(docs))
        n_hold = int(round(holdout * len(docs)))
        hold_docs = [docs[i] for i in order[:n_hold]]
        train_docs = [docs[i] for i in order[n_hold:]]
        lefts, rights, labels = adjacency_pairs(train_docs, None, rng)
        if len(set(labels.tolist())) < 2:
            raise ConfigError(
                "AdjacencyHead.fit needs documents with at least two sentences, and two documents"
            )
        self.embedder = embedder
        u, v = _embed_pairs(embedder, lefts, rights)
        x = _pair_features(u, v)
        self._mean = x.mean(axis=0)
        self._scale = x.std(axis=0) + 1e-8
        xs = self._design((x - self._mean) / self._scale)
        self._w, iterations, converged = _fit_logistic(
            xs, labels.astype(np.float64), self.l2, self.max_iter, self.tol
        )
        report: dict[str, Any] = {
            "train_docs": len(train_docs),
            "holdout_docs": len(hold_docs),
            "train_pairs": int(labels.size),
            "n_features": int(x.shape[1]),
            "l2": self.l2,
            "iterations": iterations,
            "converged": converged,
            "auc_train": mann_whitney_auc(labels, _sigmoid(xs @ self._w)),
            "seed": seed,
        }
        if hold_docs:
            hl, hr, hy = adjacency_pairs(hold_docs, None, rng)
            report["holdout_pairs"] = int(hy.size)
            report["auc_holdout"] = mann_whitney_auc(hy, self.score(hl, hr))
            report["cosine_auc_holdout"] = mann_whitney_auc(hy, CosineScorer(embedder).score(hl, hr))
        return report

    @staticmethod
    def _design(xs: FloatArray) -> FloatArray:
        return np.hstack([xs, np.ones((xs.shape[0], 1))])

    def score(self, lefts: Sequence[str], rights: Sequence[str]) -> FloatArray:
        _check_pairs(lefts, rights)
        if self._w is None or self.embedder is None:
            raise ConfigError("AdjacencyHead is not fitted; call fit(docs, embedder) first")
        assert self._mean is not None and self._scale is not None
        u, v = _embed_pairs(self.embedder, lefts, rights)
        xs = self._design((_pair_features(u, v) - self._mean) / self._scale)
        return _sigmoid(xs @ self._w)


def _fit_logistic(
    x: FloatArray, y: FloatArray, l2: float, max_iter: int, tol: float
) -> tuple[FloatArray, int, bool]:
    # Newton / IRLS on the L2-penalised log-loss (the intercept, last column, unpenalised).
    # A few iterations on a d x d system beat thousands of gradient steps at these sizes.
    n, d = x.shape
    w = np.zeros(d)
    penalty = np.full(d, l2)
    penalty[-1] = 0.0
    for it in range(1, max_iter + 1):
        p = _sigmoid(x @ w)
        grad = x.T @ (p - y) + penalty * w
        hess = (x * (p * (1 - p))[:, None]).T @ x + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.max(np.abs(step)) < tol * (1 + np.max(np.abs(w))):
            return w, it, True
    return w, max_iter, False


def _sigmoid(z: FloatArray) -> FloatArray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _pair_features(u: FloatArray, v: FloatArray) -> FloatArray:
    return np.hstack([u, v, np.abs(u - v), u * v])


def _normalise(x: FloatArray) -> FloatArray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def _embed_pairs(
    embedder: Embedder, lefts: Sequence[str], rights: Sequence[str]
) -> tuple[FloatArray, FloatArray]:
    texts = list(dict.fromkeys([*lefts, *rights]))
    if not texts:
        return np.zeros((0, embedder.dim)), np.zeros((0, embedder.dim))
    index = {t: i for i, t in enumerate(texts)}
    vecs = np.asarray(embedder.embed(texts), dtype=np.float64)
    return vecs[[index[t] for t in lefts]], vecs[[index[t] for t in rights]]


def _check_pairs(lefts: Sequence[str], rights: Sequence[str]) -> None:
    if len(lefts) != len(rights):
        raise ValueError(f"{len(lefts)} lefts but {len(rights)} rights")


# ----------------------------------------------------------------------- evaluation


def mann_whitney_auc(labels: ArrayLike, scores: ArrayLike) -> float:
    """ROC AUC as the Mann–Whitney U statistic: the probability that a random positive scores
    above a random negative, ties counting one half (average ranks).

    >>> mann_whitney_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    """
    y = np.asarray(labels).astype(bool)
    s = np.asarray(scores, dtype=np.float64)
    if y.shape != s.shape or y.ndim != 1:
        raise ValueError(f"labels {y.shape} and scores {s.shape} must be matching 1-d arrays")
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("AUC needs at least one positive and one negative")
    _, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    # Average 1-based rank of each distinct value: the ranks it spans, averaged.
    upper = np.cumsum(counts)
    avg_rank = upper - (counts - 1) / 2.0
    rank_sum = float(avg_rank[inverse][y].sum())
    return (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def adjacency_pairs(
    docs: Sequence[str], n_pairs: int | None, rng: np.random.Generator
) -> tuple[list[str], list[str], NDArray[np.int8]]:
    """Adjacent sentence pairs of each document (label 1) and as many random pairs (label 0),
    the right sentence of a random pair drawn from a different document.

    ``n_pairs`` samples that many positives (all when None or fewer exist)."""
    sentences = [[d[a:b] for a, b in unit_spans(d, "sentence")] for d in docs]
    positives = [(i, j) for i, sents in enumerate(sentences) for j in range(len(sents) - 1)]
    if n_pairs is not None and n_pairs < len(positives):
        keep = np.sort(rng.choice(len(positives), size=n_pairs, replace=False))
        positives = [positives[k] for k in keep]
    flat = [(i, s) for i, sents in enumerate(sentences) for s in sents]
    lefts = [sentences[i][j] for i, j in positives]
    rights = [sentences[i][j + 1] for i, j in positives]
    labels = [1] * len(positives)
    if len(sentences) >= 2 and flat:
        made = 0
        # Bounded: each try succeeds with probability >= 1/2 unless one document holds most sentences.
        for _ in range(20 * max(len(positives), 1)):
            if made == len(positives):
                break
            (di, left), (dj, right) = flat[rng.integers(len(flat))], flat[rng.integers(len(flat))]
            if di != dj:
                lefts.append(left)
                rights.append(right)
                labels.append(0)
                made += 1
    return lefts, rights, np.asarray(labels, dtype=np.int8)


def adjacency_auc(
    docs: Sequence[str], scorer: PairScorer | Embedder, n_pairs: int | None = 1000, seed: int = 0
) -> float:
    """How well ``scorer`` (or the cosine of an embedder's vectors) tells adjacent sentences
    from random pairs: the AUC over ``n_pairs`` adjacent and as many random pairs of ``docs``."""
    if isinstance(scorer, PairScorer):
        pair_scorer: PairScorer = scorer
    elif isinstance(scorer, Embedder):
        pair_scorer = CosineScorer(scorer)
    else:
        raise ConfigError(f"{scorer!r} is neither a PairScorer nor an Embedder")
    lefts, rights, labels = adjacency_pairs(docs, n_pairs, np.random.default_rng(seed))
    return mann_whitney_auc(labels, pair_scorer.score(lefts, rights))


# --------------------------------------------------------------------------- chunker


def _scorer_from_text(spec: str) -> PairScorer:
    """``bert-nsp:PATH`` or ``cosine:EMBEDDER`` as a scorer (the YAML form of a scorer)."""
    kind, _, arg = spec.partition(":")
    if kind == "bert-nsp" and arg:
        return BertNSPScorer(arg)
    if kind == "cosine" and arg:
        from vecbench.embedding import get_embedder
        from vecbench.embedding.cache import EmbeddingCache

        return CosineScorer(EmbeddingCache(get_embedder(arg)))
    raise ConfigError(f"scorer must be a PairScorer, 'bert-nsp:PATH' or 'cosine:EMBEDDER', got {spec!r}")


class NSPChunker:
    """Merge adjacent segments while ``scorer`` says the right continues the left.

    Segments are ``"sentence"`` (sentences within blank-line paragraphs) or ``"paragraph"``;
    a segment longer than ``max_chars`` (in ``unit``) is cut into sentences, then at words, then
    by characters. All adjacent pairs are scored in one ``scorer.score`` call; a segment joins
    the chunk before it when its score is >= ``threshold`` and the chunk still fits.
    ``meta``: ``join_scores`` (the scores of the joins inside the chunk), ``cut_score`` (the
    score at the cut after the chunk, None for the last chunk), ``units``, ``scorer``.

    ``scorer`` may be ``"bert-nsp:PATH"`` for :class:`BertNSPScorer` on a local model directory,
    or ``"cosine:EMBEDDER"`` for :class:`CosineScorer` over a named embedder (default
    parameters, through the on-disk embedding cache), e.g. ``"cosine:sentence-transformers"``.

    >>> chunker = NSPChunker(0.5, scorer=CosineScorer(my_embedder))  # doctest: +SKIP
    """

    name = "nsp"

    def __init__(
        self,
        threshold: float = 0.5,
        max_chars: int = 1500,
        scorer: PairScorer | str | None = None,
        segment: Segment = "sentence",
        unit: SizeUnit = "chars",
        tokenizer: Tokenizer | None = None,
    ) -> None:
        self.threshold = float(threshold)
        self.max_chars = check_max_size(max_chars)
        if segment not in ("sentence", "paragraph"):
            raise ConfigError(f"segment must be 'sentence' or 'paragraph', got {segment!r}")
        self.segment: Segment = segment
        self.unit = unit
        self._size = make_sizer(unit, tokenizer)
        if isinstance(scorer, str):
            scorer = _scorer_from_text(scorer)
        if scorer is None:
            raise ConfigError(
                "NSPChunker needs a scorer: BertNSPScorer, CosineScorer, AdjacencyHead or 'bert-nsp:PATH'"
            )
        if not isinstance(scorer, PairScorer):
            raise ConfigError(f"scorer {scorer!r} has no name and score(lefts, rights)")
        self.scorer: PairScorer = scorer

    @property
    def params(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "max_chars": self.max_chars,
            "scorer": self.scorer.name,
            "segment": self.segment,
            "unit": self.unit,
        }

    def chunk(self, text: str) -> list[Chunk]:
        spans = sized_units(text, self.segment, self._size, self.max_chars)
        pieces = [text[a:b] for a, b in spans]
        scores = np.asarray(self.scorer.score(pieces[:-1], pieces[1:]), dtype=np.float64).reshape(-1)
        if scores.size != max(len(spans) - 1, 0):
            raise ValueError(
                f"scorer {self.scorer.name} returned {scores.size} scores for {len(spans) - 1} pairs"
            )
        joins = [bool(s >= self.threshold) for s in scores]
        scorer_name = self.scorer.name
        chunks: list[Chunk] = []
        for group in group_units(text, spans, joins, self._size, self.max_chars):
            start, end = spans[group[0]][0], spans[group[-1]][1]
            meta = {
                "join_scores": [float(scores[i - 1]) for i in group[1:]],
                "cut_score": float(scores[group[-1]]) if group[-1] < len(scores) else None,
                "units": len(group),
                "scorer": scorer_name,
            }
            chunks.append(Chunk(text[start:end], start, end, meta))
        return chunks
