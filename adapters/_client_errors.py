"""Client exceptions of the Elasticsearch and OpenSearch adapters turned into StoreError.

    with ClientErrors("elasticsearch", url, known, "bulk index"):
        helpers.bulk(...)

``known`` are the client's exception classes (read when the block fails, so a store that
was never connected has none); any of them becomes a StoreError naming the engine, the
URL without its password, and what was being done. A bulk failure names how many documents
failed and the first. vecbench errors, and anything else, pass through unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from vecbench.errors import StoreError

from ._elasticsearch_bodies import public_url


class ClientErrors:
    def __init__(
        self, product: str, url: str, known: Callable[[], tuple[type[BaseException], ...]], what: str
    ) -> None:
        self.product, self.url, self.known, self.what = product, url, known, what

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Literal[False]:
        if exc is None or not isinstance(exc, Exception) or isinstance(exc, StoreError):
            return False
        known = self.known()
        if known and isinstance(exc, known):
            detail = str(exc)
            errors = getattr(exc, "errors", None)
            if errors:
                detail = f"{len(errors)} document(s) failed, first: {errors[0]}"
            raise StoreError(
                f"{self.product} at {public_url(self.url)}: {self.what} failed: {detail}"
            ) from exc
        return False
