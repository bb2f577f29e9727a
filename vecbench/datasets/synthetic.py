"""The synthetic data set: seeded Gaussian clusters with attribute columns, exact and cheap.

from vecbench.datasets.synthetic import load_synthetic
ds = load_synthetic(n=10_000, dim=64, metric="cosine", seed=1)
ds = load_synthetic(n=10_000_000, dim=128)   # streamed: ds.base is a SyntheticSource

A base set over ``STREAM_ABOVE_BYTES`` (or any, with ``stream=True``) is not held in memory:
``Dataset.base`` is a ``SyntheticSource`` that makes rows on demand, block by block, with
the same bytes as the in-memory array (so checksums and cached ground truth are shared).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vecbench.datasets.base import Dataset
from vecbench.datasets.stream import BlockSource
from vecbench.errors import ConfigError
from vecbench.metrics import Metric
from vecbench.util.validation import is_int

__all__ = [
    "load_synthetic",
    "synthetic_attributes",
    "SYNTHETIC_DEFAULTS",
    "SyntheticSource",
    "STREAM_ABOVE_BYTES",
]

SYNTHETIC_DEFAULTS: dict[str, Any] = {
    "n": 20_000,
    "dim": 128,
    "nq": 200,
    "clusters": 32,
    "spread": 0.5,
    "metric": "euclidean",
    "seed": 0,
}
_SYNTHETIC_VERSION = 1  # bump when the generator's output changes: it is in the checksum
_GEN_ROWS = 65_536  # rows generated per step; fixed, so the bytes never depend on memory
STREAM_ABOVE_BYTES = 256 * 1024 * 1024
"""A synthetic base set larger than this (float32 bytes) is streamed unless ``stream=False``."""


def load_synthetic(*, stream: bool | None = None, **params: Any) -> Dataset:
    """Seeded Gaussian clusters: ``clusters`` centres ~ N(0, 1), points = centre + spread * N(0, 1).

    Queries are fresh draws from the same mixture (not copies of base points). Base,
    queries and centres use independent streams of the seed, so changing ``nq`` leaves the
    base unchanged. Exact ground truth is left to ``vecbench.measures.groundtruth`` (lazy, cached).
    ``stream`` (default: when the base exceeds ``STREAM_ABOVE_BYTES``) makes ``base`` a
    ``SyntheticSource`` and the attribute columns lazy; the data (and checksum) are the same.
    """
    if stream is not None and not isinstance(stream, bool):
        raise ConfigError(f"synthetic data set: stream must be true or false, got {stream!r}")
    unknown = sorted(set(params) - set(SYNTHETIC_DEFAULTS))
    if unknown:
        raise ConfigError(
            f"synthetic data set: unknown parameter(s) {unknown}; known: {sorted(SYNTHETIC_DEFAULTS)}"
        )
    p = {**SYNTHETIC_DEFAULTS, **params}
    for key in ("n", "dim", "nq", "clusters"):
        value = p[key]
        if not is_int(value) or value <= 0:
            raise ConfigError(f"synthetic data set: {key} must be a positive integer, got {value!r}")
        p[key] = int(value)
    if not is_int(p["seed"]) or p["seed"] < 0:
        raise ConfigError(f"synthetic data set: seed must be a non-negative integer, got {p['seed']!r}")
    p["seed"] = int(p["seed"])
    try:
        p["spread"] = float(p["spread"])
    except (TypeError, ValueError):
        raise ConfigError(f"synthetic data set: spread must be a number, got {p['spread']!r}") from None
    if not np.isfinite(p["spread"]) or p["spread"] < 0:
        raise ConfigError(f"synthetic data set: spread must be finite and >= 0, got {p['spread']!r}")
    metric = Metric.parse(p["metric"])
    p["metric"] = metric.value

    # Children of a SeedSequence depend only on their index: the attributes' stream (the
    # fourth) leaves centres, base and queries as they were before attributes existed.
    seeds = np.random.SeedSequence(p["seed"]).spawn(4)
    centres = np.random.default_rng(seeds[0]).standard_normal((p["clusters"], p["dim"]), dtype=np.float32)
    if stream is None:
        stream = 4 * p["n"] * p["dim"] > STREAM_ABOVE_BYTES
    base: Any = SyntheticSource(centres, seeds[1], p["n"], p["spread"])
    attributes: Mapping[str, NDArray[Any]] = LazyAttributes(seeds[3], p["n"])
    if not stream:
        whole = base.read(0, p["n"])  # a view of the (read-only) block for a one-block set
        base, attributes = whole if whole.flags.writeable else whole.copy(), dict(attributes)
    queries = _mixture(np.random.default_rng(seeds[2]), centres, p["nq"], p["spread"])
    canonical = json.dumps(
        {"generator": "gaussian-clusters", "version": _SYNTHETIC_VERSION, **p}, sort_keys=True
    )
    return Dataset(
        name=f"synthetic-{p['n']}x{p['dim']}-{metric.value}-s{p['seed']}",
        metric=metric,
        base=base,
        queries=queries,
        checksum="synthetic:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
        source="synthetic",
        params=p,
        attributes=attributes,  # type: ignore[arg-type]
    )


SYNTHETIC_INT_RANGE = 10_000  # int_attr is uniform on [0, 10_000): "lt: 100" selects ~1%
SYNTHETIC_LABELS = 100  # label_0 .. label_99, Zipf-like: label_i has probability ~ 1 / (i + 1)


def synthetic_attributes(rng: np.random.Generator, n: int) -> dict[str, NDArray[Any]]:
    """Attribute columns for filtered search with known selectivities.

    - ``int_attr``: integers uniform on ``[0, SYNTHETIC_INT_RANGE)``, so ``{"lt": v}`` passes
      a fraction ``v / 10_000`` (a range filter at any chosen selectivity);
    - ``label``: ``label_0`` .. ``label_99`` with probability proportional to ``1 / (i + 1)``
      (label_0 ~19%, label_9 ~1.9%, label_99 ~0.19%): equality filters from common to rare,
      as real tenant or category labels are.

    Not in the data set's checksum: they are a function of the same seed and n.
    """
    weights = 1.0 / np.arange(1, SYNTHETIC_LABELS + 1)
    names = np.array([f"label_{i}" for i in range(SYNTHETIC_LABELS)])
    return {
        "int_attr": rng.integers(0, SYNTHETIC_INT_RANGE, size=n, dtype=np.int64),
        "label": names[rng.choice(SYNTHETIC_LABELS, size=n, p=weights / weights.sum())],
    }


class SyntheticSource(BlockSource):
    """The synthetic base set made on demand, ``_GEN_ROWS`` rows at a time, byte for byte as
    the in-memory array: block ``j`` is drawn from the generator's state after blocks
    ``0..j-1``. Those states are saved as blocks are first made (a few hundred bytes each),
    so after one pass any block is made again alone; before it, reaching block ``j`` makes
    the blocks before it once. The last block made is kept (one block of memory)."""

    def __init__(
        self, centres: NDArray[np.float32], seed: np.random.SeedSequence, n: int, spread: float
    ) -> None:
        self.centres, self.spread = centres, float(spread)
        self.n, self.dim, self.dtype = int(n), int(centres.shape[1]), np.dtype(np.float32)
        self._states: list[Mapping[str, Any]] = [np.random.default_rng(seed).bit_generator.state]
        self._cache: tuple[int, NDArray[np.float32]] | None = None
        self._lock = threading.Lock()  # the saved states must be appended in order

    def _block(self, j: int) -> NDArray[np.float32]:
        with self._lock:
            return self._block_locked(j)

    def _block_locked(self, j: int) -> NDArray[np.float32]:
        if self._cache is not None and self._cache[0] == j:
            return self._cache[1]
        for known in range(min(j, len(self._states) - 1), j + 1):  # states up to j, made once
            rng = np.random.Generator(np.random.PCG64())
            rng.bit_generator.state = self._states[known]
            start = known * _GEN_ROWS
            block = _mixture(rng, self.centres, min(self.n, start + _GEN_ROWS) - start, self.spread)
            block.flags.writeable = False  # reads may be views of it: a caller cannot spoil it
            if known + 1 == len(self._states):
                self._states.append(rng.bit_generator.state)
            self._cache = (known, block)
        return block

    def _read(self, start: int, stop: int) -> NDArray[np.float32]:
        first, last = start // _GEN_ROWS, (stop - 1) // _GEN_ROWS
        if first == last:
            return self._block(first)[start - first * _GEN_ROWS : stop - first * _GEN_ROWS]
        out = np.empty((stop - start, self.dim), dtype=np.float32)
        for j in range(first, last + 1):
            a, b = max(start, j * _GEN_ROWS), min(stop, (j + 1) * _GEN_ROWS)
            out[a - start : b - start] = self._block(j)[a - j * _GEN_ROWS : b - j * _GEN_ROWS]
        return out

    def _take_span(self) -> int:
        return _GEN_ROWS

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("_cache", "_lock")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, _cache=None, _lock=threading.Lock())


class LazyAttributes(Mapping[str, NDArray[Any]]):
    """The synthetic attribute columns, made (both at once, as ``synthetic_attributes`` does)
    on first access: a streamed run without filters never holds them."""

    def __init__(self, seed: np.random.SeedSequence, n: int) -> None:
        self.seed, self.n = seed, n
        self._columns: dict[str, NDArray[Any]] | None = None

    def _made(self) -> dict[str, NDArray[Any]]:
        if self._columns is None:
            self._columns = synthetic_attributes(np.random.default_rng(self.seed), self.n)
        return self._columns

    def __getitem__(self, key: str) -> NDArray[Any]:
        return self._made()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(("int_attr", "label"))

    def __len__(self) -> int:
        return 2


def _mixture(
    rng: np.random.Generator, centres: NDArray[np.float32], rows: int, spread: float
) -> NDArray[np.float32]:
    out = np.empty((rows, centres.shape[1]), dtype=np.float32)
    for start in range(0, rows, _GEN_ROWS):
        stop = min(rows, start + _GEN_ROWS)
        labels = rng.integers(0, centres.shape[0], size=stop - start)
        noise = rng.standard_normal((stop - start, centres.shape[1]), dtype=np.float32)
        noise *= np.float32(spread)
        np.add(centres[labels], noise, out=out[start:stop])
    return out
