"""Any OpenAI-compatible ``/embeddings`` endpoint over plain ``urllib`` (no SDK needed).

The API key is read from the environment variable named by ``api_key_env`` on each request;
it is never stored on the object, logged, or put in ``name``, ``repr`` or an error message.
"""

from __future__ import annotations

import email.utils
import json
import os
import random
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vecbench.embedding.base import TokenUsage
from vecbench.errors import ConfigError, VecbenchError

__all__ = ["OpenAIEmbedder", "EmbeddingAPIError"]

# Native sizes of OpenAI's models, so ``dim`` needs no request for them (others: probed once).
_KNOWN_DIMS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}

_RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


class EmbeddingAPIError(VecbenchError):
    """The embeddings endpoint refused a request, or kept failing past the retries."""

    def __init__(self, message: str, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class OpenAIEmbedder:
    """POST ``{base_url}/embeddings`` with ``{"model", "input": [...]}`` in batches.

    Vectors come back in ``data[i].index`` order. Retries 408/409/429/5xx and connection
    errors up to ``max_retries`` times, with exponential backoff (``backoff_s * 2**attempt``,
    capped at ``max_backoff_s``, full jitter), or the server's ``Retry-After`` when it sends
    one. ``usage.tokens`` adds the response's ``usage.prompt_tokens``.

    ``count_tokens``: OpenAI's tokenizers are not bundled (tiktoken fetches its encodings
    over the network); pass ``tokenizer=`` a callable ``str -> int`` (for example one built
    on an offline tiktoken encoding) for exact counts. Without one, ``count_tokens`` embeds
    the text once and returns the tokens the server reported for it.

    >>> e = OpenAIEmbedder("https://api.openai.com/v1", "text-embedding-3-small")  # doctest: +SKIP
    >>> e.embed(["lift on a swept wing"]).shape                                    # doctest: +SKIP
    (1, 1536)
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key_env: str = "OPENAI_API_KEY",
        batch_size: int = 256,
        max_retries: int = 5,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        timeout_s: float = 60.0,
        dimensions: int | None = None,
        tokenizer: Callable[[str], int] | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"base_url must be http(s)://..., got {base_url!r}")
        if int(batch_size) < 1 or int(max_retries) < 0:
            raise ConfigError("batch_size must be >= 1 and max_retries >= 0")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key_env = api_key_env
        self.batch_size = int(batch_size)
        self.max_retries = int(max_retries)
        self.backoff_s = float(backoff_s)
        self.max_backoff_s = float(max_backoff_s)
        self.timeout_s = float(timeout_s)
        self.dimensions = dimensions
        self.tokenizer = tokenizer
        self.usage = TokenUsage()
        self.retries = 0  # retried requests so far, for reporting
        self._dim: int | None = int(dimensions) if dimensions else _KNOWN_DIMS.get(model)
        suffix = f"-d{dimensions}" if dimensions else ""
        self.name = f"openai:{model}{suffix}"

    def __repr__(self) -> str:
        return f"OpenAIEmbedder(base_url={self.base_url!r}, model={self.model!r}, api_key_env={self.api_key_env!r})"

    @property
    def dim(self) -> int:
        """Known for OpenAI's models and with ``dimensions=``; otherwise one probe request.
        (On Python < 3.12 ``isinstance(e, Embedder)`` reads this property.)"""
        if self._dim is None:
            self.embed(["dimension probe"])
        assert self._dim is not None
        return self._dim

    def count_tokens(self, text: str) -> int:
        if self.tokenizer is not None:
            return int(self.tokenizer(text))
        before = self.usage.tokens
        self.embed([text])
        return self.usage.tokens - before

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after:
            try:
                return min(max(float(retry_after), 0.0), self.max_backoff_s)
            except ValueError:
                when = email.utils.parsedate_to_datetime(retry_after)
                if when is not None:
                    return min(max(when.timestamp() - time.time(), 0.0), self.max_backoff_s)
        return random.uniform(0.0, min(self.max_backoff_s, self.backoff_s * 2**attempt))

    def _post(self, batch: list[str]) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "input": batch}
        if self.dimensions:
            body["dimensions"] = int(self.dimensions)
        data = json.dumps(body).encode()
        for attempt in range(self.max_retries + 1):
            headers = {"Content-Type": "application/json"}
            key = os.environ.get(self.api_key_env)
            if key:
                headers["Authorization"] = f"Bearer {key}"
            req = urllib.request.Request(
                f"{self.base_url}/embeddings", data=data, headers=headers, method="POST"
            )
            retry_after: str | None = None
            try:
                with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                    return dict(json.loads(resp.read()))
            except urllib.error.HTTPError as exc:
                status = exc.code
                retry_after = exc.headers.get("Retry-After") if exc.headers else None
                exc.close()
                if status not in _RETRY_STATUS or attempt == self.max_retries:
                    # Only the status and URL: the response body could echo the request headers.
                    raise EmbeddingAPIError(
                        f"POST {self.base_url}/embeddings: HTTP {status} after {attempt + 1} attempt(s)",
                        status,
                    ) from None
            except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
                if attempt == self.max_retries:
                    reason = getattr(exc, "reason", exc)
                    raise EmbeddingAPIError(
                        f"POST {self.base_url}/embeddings: {type(exc).__name__}: {reason} "
                        f"after {attempt + 1} attempt(s)"
                    ) from None
            self.retries += 1
            time.sleep(self._delay(attempt, retry_after))
        raise AssertionError("unreachable")

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        texts = list(texts)
        parts: list[NDArray[np.float32]] = []
        for i in range(0, len(texts), self.batch_size):
            batch = texts[i : i + self.batch_size]
            payload = self._post(batch)
            try:
                rows = sorted(payload["data"], key=lambda d: int(d["index"]))
                vecs = np.asarray([r["embedding"] for r in rows], dtype=np.float32)
            except (KeyError, TypeError, ValueError) as exc:
                raise EmbeddingAPIError(
                    f"unreadable embeddings response: {type(exc).__name__}: {exc}"
                ) from None
            if vecs.ndim != 2 or vecs.shape[0] != len(batch):
                raise EmbeddingAPIError(f"asked for {len(batch)} embeddings, got shape {vecs.shape}")
            if self._dim is None:
                self._dim = int(vecs.shape[1])
            parts.append(vecs)
            usage = payload.get("usage") or {}
            tokens = usage.get("prompt_tokens", usage.get("total_tokens"))
            if tokens is None and self.tokenizer is not None:
                tokens = sum(self.tokenizer(t) for t in batch)
            self.usage.add(len(batch), int(tokens or 0))
        if not parts:
            return np.empty((0, self._dim or 0), dtype=np.float32)
        return np.concatenate(parts)
