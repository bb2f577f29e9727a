"""An on-disk embedding cache: embed a text once per embedder identity, ever.

One SQLite file per identity under ``root`` (default ``cache_dir()/embeddings``), table
``vectors(key TEXT PRIMARY KEY, vec BLOB)`` with ``key`` = sha256 of the UTF-8 text and
``vec`` the float32 bytes. Keying by ``embedder.name`` (model id + weights hash) means a
changed model never reads another model's vectors.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vecbench.embedding.base import Embedder, TokenUsage
from vecbench.errors import DimensionMismatchError
from vecbench.util.paths import cache_dir

__all__ = ["EmbeddingCache", "CacheStats"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_CHUNK = 500  # keys per SELECT ... IN (...), under SQLite's variable limit


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0

    def as_dict(self) -> dict[str, float]:
        return {"hits": self.hits, "misses": self.misses, "hit_rate": self.hit_rate}


class EmbeddingCache:
    """Wraps an Embedder; ``embed`` returns cached vectors and embeds only the misses (each
    distinct missing text once, in one call to the inner embedder, in input order).

    ``usage`` counts only what the inner embedder actually embedded; ``stats`` counts hits
    and misses per input text. The wrapper is itself an Embedder with the inner ``name``.
    The database opens on first use; use as a context manager or call ``close()``.

    >>> from vecbench.embedding import HashingEmbedder
    >>> with EmbeddingCache(HashingEmbedder(), root="/tmp/vb-cache") as cached:  # doctest: +SKIP
    ...     cached.embed(["a", "b"]); cached.embed(["a"]); cached.stats.hit_rate
    0.3333333333333333
    """

    def __init__(self, embedder: Embedder, root: str | Path | None = None) -> None:
        self.inner = embedder
        self.root = Path(root).expanduser() if root is not None else None
        self.usage = TokenUsage()
        self.stats = CacheStats()
        self._conn: sqlite3.Connection | None = None

    def __repr__(self) -> str:
        return f"EmbeddingCache({self.inner!r}, root={str(self._root())!r})"

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_conn": None}

    def __enter__(self) -> EmbeddingCache:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dim(self) -> int:
        return self.inner.dim

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def _root(self) -> Path:
        return self.root if self.root is not None else cache_dir() / "embeddings"

    @property
    def path(self) -> Path:
        """The SQLite file for this embedder's identity."""
        name = self.name
        digest = hashlib.sha256(name.encode()).hexdigest()[:16]
        return self._root() / f"{_UNSAFE.sub('_', name)[:80]}-{digest}.sqlite"

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            p = self.path
            p.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(p, timeout=30.0)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vec BLOB NOT NULL)")
            conn.execute("CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)")
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('embedder', ?)", (self.name,))
            conn.commit()
            self._conn = conn
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __len__(self) -> int:
        return int(self._db().execute("SELECT COUNT(*) FROM vectors").fetchone()[0])

    def get_note(self, key: str) -> str | None:
        """A note kept beside the vectors (``set_note``), or None."""
        row = self._db().execute("SELECT v FROM meta WHERE k = ?", ("note:" + key,)).fetchone()
        return None if row is None else str(row[0])

    def set_note(self, key: str, value: str) -> None:
        """Keep a short text beside the vectors (e.g. what embedding a corpus cost when
        it was embedded, so a run that reads the vectors back can still report it)."""
        db = self._db()
        with db:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", ("note:" + key, value))

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def _lookup(self, keys: list[str]) -> dict[str, bytes]:
        db = self._db()
        found: dict[str, bytes] = {}
        for i in range(0, len(keys), _CHUNK):
            part = keys[i : i + _CHUNK]
            marks = ",".join("?" * len(part))
            found.update(db.execute(f"SELECT key, vec FROM vectors WHERE key IN ({marks})", part).fetchall())
        return found

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        texts = list(texts)
        keys = [self.key(t) for t in texts]
        found = self._lookup(sorted(set(keys)))
        missing: dict[str, str] = {}  # key -> text, first occurrence order
        for k, t in zip(keys, texts, strict=True):
            if k not in found and k not in missing:
                missing[k] = t
        self.stats.hits += sum(1 for k in keys if k in found)
        self.stats.misses += len(texts) - sum(1 for k in keys if k in found)

        if missing:
            before = self.inner.usage.tokens
            new = np.ascontiguousarray(self.inner.embed(list(missing.values())), dtype=np.float32)
            self.usage.add(len(missing), self.inner.usage.tokens - before)
            db = self._db()
            with db:
                db.executemany(
                    "INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                    [(k, new[i].tobytes()) for i, k in enumerate(missing)],
                )
            for i, k in enumerate(missing):
                found[k] = new[i].tobytes()

        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        sizes = {len(found[k]) for k in keys}
        if len(sizes) > 1:  # vectors stored under this identity by a different model
            raise DimensionMismatchError(
                f"cache {self.path} holds vectors of {sorted(n // 4 for n in sizes)} dims for {self.name}"
            )
        out = np.stack([np.frombuffer(found[k], dtype=np.float32) for k in keys])
        return out
