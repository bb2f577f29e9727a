"""model2vec static embeddings: a token -> vector table, mean-pooled; no transformer at
query time. Loaded from a local directory, or distilled once from the packaged MiniLM and
kept under ``cache_dir()/models``.

Distilling needs model2vec's ``distill`` dependencies (``skeletoken``, ``transformers``,
``torch``: all in ``vecbench[embed]``); using an already distilled model needs only
``model2vec``. The source is a local directory, so distillation never reaches the hub.
"""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vecbench.embedding.base import TokenUsage
from vecbench.embedding.models import MINILM_ID, minilm_path, weights_sha256
from vecbench.errors import ConfigError, MissingDependencyError
from vecbench.util.atomic import fsync_dir
from vecbench.util.deps import import_optional
from vecbench.util.paths import cache_dir
from vecbench.util.validation import is_int

__all__ = ["Model2VecEmbedder", "distilled_minilm_path", "distill_minilm", "DISTILL_MODULES"]

#: all-MiniLM-L6-v2's hidden size: the most dimensions PCA can keep.
MINILM_DIM = 384


def _check_pca_dims(pca_dims: int) -> int:
    if not is_int(pca_dims) or not 1 <= pca_dims <= MINILM_DIM:
        raise ConfigError(
            f"pca_dims must be an integer in 1..{MINILM_DIM} ({MINILM_ID} is {MINILM_DIM}-d), got {pca_dims!r}"
        )
    return pca_dims


def distilled_minilm_path(pca_dims: int = 256) -> Path:
    """Where the MiniLM distilled with ``pca_dims`` is (or will be) cached. The directory
    name carries a hash of the source weights, ``pca_dims`` and the model2vec version, so a
    change in any of them distils anew."""
    pca_dims = _check_pca_dims(pca_dims)
    m2v = import_optional("model2vec", "embed")
    src = weights_sha256(minilm_path())
    key = hashlib.sha256(f"{src}|pca={pca_dims}|m2v={m2v.__version__}".encode()).hexdigest()[:16]
    return cache_dir() / "models" / f"model2vec-{MINILM_ID}-pca{pca_dims}-{key}"


#: What ``model2vec.distill`` imports beyond model2vec itself (its ``distill`` extra).
DISTILL_MODULES = ("skeletoken", "transformers", "torch")


def _distill_fn() -> Any:
    """``model2vec.distill.distill``, or MissingDependencyError naming the first missing module
    (model2vec itself only raises a plain ImportError when its extra is absent)."""
    import_optional("model2vec", "embed")
    for module in DISTILL_MODULES:
        if importlib.util.find_spec(module) is None:
            raise MissingDependencyError(f"{module} (needed to distil a model2vec model)", "embed")
    try:
        from model2vec.distill import distill
    except ImportError as exc:
        raise MissingDependencyError(f"a dependency of model2vec.distill ({exc})", "embed") from exc
    return distill


def distill_minilm(pca_dims: int = 256) -> Path:
    """Distil the packaged all-MiniLM-L6-v2 into ``distilled_minilm_path(pca_dims)`` unless it
    is there already, and return that directory (16-35 s on 2 cores; ~15 MB at 256 dims).

    The model is saved to a temporary folder beside the target and renamed into place, so a
    crash never leaves a half-written model that a later run would load.

    >>> distill_minilm(256)                   # doctest: +SKIP
    PosixPath('~/.cache/vecbench/models/model2vec-all-MiniLM-L6-v2-pca256-...')
    """
    target = distilled_minilm_path(pca_dims)
    if (target / "config.json").exists():
        return target
    distill = _distill_fn()
    model = distill(model_name=str(minilm_path()), pca_dims=pca_dims)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        model.save_pretrained(str(tmp))
        for f in tmp.rglob("*"):
            if f.is_file():
                with open(f, "rb") as fh:
                    os.fsync(fh.fileno())
        fsync_dir(tmp)
        try:
            tmp.rename(target)
        except OSError:  # another process renamed its copy first: keep that one
            if not (target / "config.json").exists():
                raise
        fsync_dir(target.parent)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


class Model2VecEmbedder:
    """``model2vec.StaticModel`` from a local directory (``path``), or, with no path, the
    packaged all-MiniLM-L6-v2 distilled with ``pca_dims`` (done on first use and cached
    under ``$VECBENCH_CACHE/models``; distilling needs ``model2vec``'s distill dependencies).

    ``name`` is ``model2vec:<dir name>@<weights sha256, 12 hex>`` for a directory and
    ``model2vec:all-MiniLM-L6-v2@<source sha, 12 hex>-distilled-pca<pca_dims>@<distilled
    sha, 12 hex>`` for the distilled MiniLM. Tokens are the model's own tokenizer's,
    capped at ``max_length``.

    >>> e = Model2VecEmbedder(pca_dims=256)   # doctest: +SKIP
    >>> e.embed(["supersonic flow"]).shape    # doctest: +SKIP
    (1, 256)
    """

    def __init__(
        self,
        path: str | Path | None = None,
        normalize: bool = True,
        pca_dims: int = 256,
        max_length: int | None = 512,
        batch_size: int = 256,
    ) -> None:
        if path is not None and not Path(path).expanduser().is_dir():
            raise ConfigError(f"model2vec path {str(path)!r} is not a directory")
        self.path = Path(path).expanduser() if path is not None else None
        self.normalize = bool(normalize)
        self.pca_dims = _check_pca_dims(pca_dims)
        self.max_length = max_length
        if int(batch_size) < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size!r}")
        self.batch_size = int(batch_size)
        self.usage = TokenUsage()
        self._model: Any = None
        self._table: NDArray[np.float32] | None = None  # the token vectors in float32
        self._distilled_dir: Path | None = None
        self._name: str | None = None

    def __repr__(self) -> str:
        where = (
            str(self.path) if self.path is not None else f"{MINILM_ID} distilled, pca_dims={self.pca_dims}"
        )
        return f"Model2VecEmbedder({where!r})"

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_model": None, "_table": None}

    @property
    def distilled(self) -> bool:
        """True when this embedder uses the MiniLM distilled by vecbench (no ``path`` given)."""
        return self.path is None

    def _dir(self) -> Path:
        if self.path is not None:
            return self.path
        if self._distilled_dir is None:  # resolved once: the cache root may change later
            self._distilled_dir = distill_minilm(self.pca_dims)
        return self._distilled_dir

    @property
    def model(self) -> Any:
        if self._model is None:
            m2v = import_optional("model2vec", "embed")
            self._model = m2v.StaticModel.from_pretrained(
                str(self._dir()), normalize=self.normalize, max_length=self.max_length, force_download=False
            )
        return self._model

    @property
    def name(self) -> str:
        if self._name is None:
            d = self._dir()
            if self.distilled:
                src = weights_sha256(minilm_path())[:12]
                stem = f"{MINILM_ID}@{src}-distilled-pca{self.pca_dims}"
            else:
                stem = d.name
            self._name = f"model2vec:{stem}@{weights_sha256(d)[:12]}"
        return self._name

    @property
    def dim(self) -> int:
        return int(self.model.dim)

    def count_tokens(self, text: str) -> int:
        return len(self._tokenize([text])[0])

    def _tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        # As StaticModel.encode does: cut each text to max_length x the median token length
        # in characters first (the tokenizer then truncates to max_length tokens), drop [UNK].
        m = self.model
        if self.max_length:
            cut = self.max_length * m.median_token_length
            texts = [t[:cut] for t in texts]
        return list(m.tokenize(texts))

    def _pool(self, ids: list[list[int]]) -> NDArray[np.float32]:
        """Mean of the token vectors of each text (weighted where the model has weights), as
        one sparse (texts x vocabulary) by dense (vocabulary x dim) product in float32; a text
        with no known token is a zero vector."""
        sparse = import_optional("scipy.sparse", "embed")
        m = self.model
        if self._table is None:
            self._table = np.asarray(m.embedding, dtype=np.float32)
        lens = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
        indptr = np.zeros(len(ids) + 1, dtype=np.int64)
        np.cumsum(lens, out=indptr[1:])
        flat = np.fromiter(itertools.chain.from_iterable(ids), dtype=np.int64, count=int(indptr[-1]))
        data = np.repeat(1.0 / np.maximum(lens, 1), lens).astype(np.float32)
        if m.weights is not None:
            data *= np.asarray(m.weights, dtype=np.float32)[flat]
        cols = np.asarray(m.token_mapping)[flat] if m.token_mapping is not None else flat
        mean = sparse.csr_matrix((data, cols, indptr), shape=(len(ids), self._table.shape[0])) @ self._table
        out = np.ascontiguousarray(mean, dtype=np.float32)
        if self.normalize:
            out /= np.linalg.norm(out, axis=1, keepdims=True) + 1e-32
        return out

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Vectors for ``texts``, (n, dim) float32. Each batch is tokenized once and the
        token counts come from that same pass (``StaticModel.encode`` would tokenize again)."""
        texts = list(texts)
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        parts: list[NDArray[np.float32]] = []
        tokens = 0
        for i in range(0, len(texts), self.batch_size):
            ids = self._tokenize(texts[i : i + self.batch_size])
            tokens += sum(map(len, ids))
            parts.append(self._pool(ids))
        self.usage.add(len(texts), tokens)
        return np.concatenate(parts) if len(parts) > 1 else parts[0]
