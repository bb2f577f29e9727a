"""model2vec static embeddings: a token -> vector table, mean-pooled; no transformer at
query time. Loaded from a local directory, or distilled once from the packaged MiniLM and
kept under ``cache_dir()/models``."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vecbench.deps import import_optional
from vecbench.embedding.base import TokenUsage
from vecbench.embedding.models import minilm_path, weights_sha256
from vecbench.errors import ConfigError, MissingDependencyError
from vecbench.paths import cache_dir

__all__ = ["Model2VecEmbedder", "distilled_minilm_path"]


def distilled_minilm_path(pca_dims: int = 256) -> Path:
    """Where the MiniLM distilled with ``pca_dims`` is (or will be) cached. The directory
    name carries a hash of the source weights, ``pca_dims`` and the model2vec version, so a
    change in any of them distils anew."""
    m2v = import_optional("model2vec", "embed")
    src = weights_sha256(minilm_path())
    key = hashlib.sha256(f"{src}|pca={pca_dims}|m2v={m2v.__version__}".encode()).hexdigest()[:16]
    return cache_dir() / "models" / f"model2vec-{key}"


def _distill_minilm(pca_dims: int) -> Path:
    """Distil the packaged MiniLM offline into the cache (once; about a minute on 2 cores)."""
    target = distilled_minilm_path(pca_dims)
    if (target / "config.json").exists():
        return target
    try:
        distill = import_optional("model2vec.distill", "embed").distill
    except MissingDependencyError:
        raise
    except ImportError as exc:  # model2vec raises a plain ImportError when its [distill] extra is missing
        raise MissingDependencyError("model2vec[distill]", "embed") from exc
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    model = distill(model_name=str(minilm_path()), pca_dims=pca_dims)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the target and rename: a crash mid-write never leaves a half model behind.
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".distill-"))
    try:
        model.save_pretrained(str(tmp))
        try:
            tmp.rename(target)
        except OSError:  # another process won the race
            if not (target / "config.json").exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


class Model2VecEmbedder:
    """``model2vec.StaticModel`` from a local directory (``path``), or, with no path, the
    packaged all-MiniLM-L6-v2 distilled with ``pca_dims`` (done on first use and cached;
    needs ``model2vec[distill]``).

    ``name`` is ``model2vec:<dir name>@<weights sha256, 12 hex>``; tokens are the model's own
    tokenizer's, capped at ``max_length``.

    >>> e = Model2VecEmbedder("/models/potion-base-8M")   # doctest: +SKIP
    >>> e.embed(["supersonic flow"]).shape                # doctest: +SKIP
    (1, 256)
    """

    def __init__(
        self,
        path: str | Path | None = None,
        normalize: bool = True,
        pca_dims: int = 256,
        max_length: int | None = 512,
        batch_size: int = 1024,
    ) -> None:
        if path is not None and not Path(path).expanduser().is_dir():
            raise ConfigError(f"model2vec path {str(path)!r} is not a directory")
        self.path = Path(path).expanduser() if path is not None else None
        self.normalize = bool(normalize)
        self.pca_dims = int(pca_dims)
        self.max_length = max_length
        self.batch_size = int(batch_size)
        self.usage = TokenUsage()
        self._model: Any = None
        self._name: str | None = None

    def __repr__(self) -> str:
        where = str(self.path) if self.path is not None else f"distilled MiniLM, pca_dims={self.pca_dims}"
        return f"Model2VecEmbedder({where!r})"

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_model": None}

    def _dir(self) -> Path:
        if self.path is None:
            self.path = _distill_minilm(self.pca_dims)
        return self.path

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
            self._name = f"model2vec:{d.name}@{weights_sha256(d)[:12]}"
        return self._name

    @property
    def dim(self) -> int:
        return int(self.model.dim)

    def count_tokens(self, text: str) -> int:
        ids = self.model.tokenizer.encode(text, add_special_tokens=False).ids
        return min(len(ids), self.max_length) if self.max_length else len(ids)

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        texts = list(texts)
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        vecs = self.model.encode(texts, batch_size=self.batch_size, use_multiprocessing=False)
        self.usage.add(len(texts), sum(self.count_tokens(t) for t in texts))
        return np.ascontiguousarray(vecs, dtype=np.float32)
