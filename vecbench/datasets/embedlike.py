"""Synthetic vectors whose statistics follow real text embeddings, streamable at any n.

    from vecbench.datasets import load
    ds = load("embedlike:minilm", n=100_000, nq=1_000, seed=0)         # 384-d, unit norm, cosine
    ds = load("embedlike:minilm", n=1_000_000, dim=128)                  # first 128 principal components

    source = EmbedlikeSource(n=10_000_000, seed=0)                       # nothing generated yet
    for first, block in source.iter_blocks(65_536):                     # bounded memory
        store.upsert(np.arange(first, first + len(block)), block)

The generator draws from a mixture of Gaussians fitted once, offline, to real embeddings
(``vecbench.datasets.embedlike_fit``; profile ``minilm``: all-MiniLM-L6-v2 over the
packaged Cranfield corpus cut into passages). A row picks a cluster by the fitted weights,
adds a correlated draw in the top principal directions (the cluster's own covariance) and an
independent one along every other direction (the cluster's own variances), rotates back to
the model's coordinates and, as the model does, normalizes to unit length.

Rows are generated in fixed blocks of ``GEN_ROWS``, block ``b`` from its own seed
``SeedSequence(seed, spawn_key=(role, b))``: any block can be made alone, the data for
``n`` is a prefix of the data for a larger ``n``, and the bytes never depend on the block size
a reader asks for. Bytes are the same on one machine; across machines the float32 matrix
products may differ in the last bit (BLAS), which the checksum (of the parameters and the
profile) does not see.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vecbench.datasets.base import Dataset
from vecbench.datasets.stream import BlockSource
from vecbench.errors import ConfigError, DatasetError, UnknownNameError
from vecbench.metrics import Metric
from vecbench.util.validation import is_int

__all__ = [
    "PREFIX",
    "PROFILES",
    "EMBEDLIKE_DEFAULTS",
    "GEN_ROWS",
    "Profile",
    "EmbedlikeSource",
    "load_profile",
    "profile_from_arrays",
    "load_embedlike",
]

PREFIX = "embedlike"
PROFILES = {"minilm": "minilm-cranfield.npz"}  # name -> file under vecbench/datasets/profiles/
EMBEDLIKE_DEFAULTS: dict[str, Any] = {"n": 20_000, "nq": 1_000, "dim": None, "metric": "cosine", "seed": 0}
GEN_ROWS = 8_192  # rows per seeded block; fixed, so the bytes never depend on how they are read
_VERSION = 1  # bump when the generator's output changes: it is in the checksum
_BASE, _QUERIES, _ATTRIBUTES, _TOPICS = 0, 1, 2, 3  # seed streams


@dataclass(frozen=True)
class Profile:
    """A fitted profile (see ``embedlike_fit``), arrays in float32, ready to sample from."""

    name: str
    sha256: str
    mean: NDArray[np.float32]  # (D,)
    basis: NDArray[np.float32]  # (D, D) principal directions as columns, eigenvalues descending
    eigenvalues: NDArray[np.float32]  # (D,)
    centres: NDArray[np.float32]  # (K, D) in principal coordinates
    weights: NDArray[np.float64]  # (K,)
    chol: NDArray[np.float32]  # (K, r, r) within-cluster covariance factor, top r directions
    rest_std: NDArray[np.float32]  # (K, D - r) within-cluster std along the other directions
    unit_norm: bool
    # Second level: ``topics`` sub-centres per cluster drawn from the cluster's own Gaussian with
    # a share 1 - local_frac of its covariance; a row is one sub-centre plus the rest. The total
    # covariance is unchanged, but neighbours sit closer, on fewer directions, as in real data.
    topics: int
    local_frac: float
    n_fit: int  # how many real vectors it was fitted to
    reference: dict[str, NDArray[np.float64]]  # real vectors' eig_frac, norm_q, cos_q
    meta: dict[str, str]

    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])

    @property
    def rank(self) -> int:
        return int(self.chol.shape[1])


def profile_path(name: str) -> Path:
    if name not in PROFILES:
        raise UnknownNameError("embedlike profile", name, sorted(PROFILES))
    return Path(__file__).parent / "profiles" / PROFILES[name]


@lru_cache(maxsize=4)
def load_profile(name: str = "minilm") -> Profile:
    """The packaged profile ``name`` (``minilm``)."""
    path = profile_path(name)
    try:
        raw = path.read_bytes()
        with np.load(path, allow_pickle=False) as f:
            arrays = {key: f[key] for key in f.files}
    except (OSError, ValueError) as exc:
        raise DatasetError(
            f"embedlike profile {name!r}: cannot read {path} ({exc}); reinstall vecbench"
        ) from None
    return profile_from_arrays(name, arrays, hashlib.sha256(raw).hexdigest())


def profile_from_arrays(name: str, arrays: dict[str, Any], sha256: str = "") -> Profile:
    """A Profile from the arrays ``embedlike_fit.fit_profile`` makes (as stored in the .npz)."""
    rank = int(arrays["rank"])
    k = arrays["centres"].shape[0]
    chol = np.zeros((k, rank, rank), dtype=np.float32)
    rows, cols = np.tril_indices(rank)
    chol[:, rows, cols] = arrays["chol_packed"]
    weights = np.asarray(arrays["weights"], dtype=np.float64)
    return Profile(
        name=name,
        sha256=sha256,
        mean=np.asarray(arrays["mean"], dtype=np.float32),
        basis=np.ascontiguousarray(arrays["basis"], dtype=np.float32),
        eigenvalues=np.asarray(arrays["eigenvalues"], dtype=np.float32),
        centres=np.asarray(arrays["centres"], dtype=np.float32),
        weights=weights / weights.sum(),
        chol=chol,
        rest_std=np.sqrt(arrays["rest_var"]).astype(np.float32),
        unit_norm=bool(arrays["unit_norm"]),
        topics=int(arrays.get("topics", 0)),
        local_frac=float(arrays.get("local_frac", 1.0)),
        n_fit=int(arrays["n_fit"]),
        reference={
            key[4:]: np.asarray(v, dtype=np.float64) for key, v in arrays.items() if key.startswith("ref_")
        },
        meta={key[5:]: str(v) for key, v in arrays.items() if key.startswith("meta_")},
    )


class EmbedlikeSource(BlockSource):
    """Base and query vectors of one embedlike data set, generated on demand, block by block.

    ``dim`` None (or the profile's own) gives the model's coordinates; a smaller ``dim`` keeps
    the first ``dim`` principal components (then renormalized), like a PCA-reduced index.
    Parameters are checked here, before anything is generated.

    A ``vecbench.datasets.stream.BlockSource``: whatever streams a base set (ingest in
    batches, blockwise ground truth, rows by id for scoring) streams this one.
    """

    def __init__(self, profile: str | Profile = "minilm", **params: Any) -> None:
        unknown = sorted(set(params) - set(EMBEDLIKE_DEFAULTS))
        if unknown:
            raise ConfigError(
                f"embedlike data set: unknown parameter(s) {unknown}; known: {sorted(EMBEDLIKE_DEFAULTS)}"
            )
        self.profile = profile if isinstance(profile, Profile) else load_profile(profile)
        p = {**EMBEDLIKE_DEFAULTS, **params}
        for key in ("n", "nq"):
            if not is_int(p[key]) or p[key] <= 0:
                raise ConfigError(f"embedlike data set: {key} must be a positive integer, got {p[key]!r}")
        if not is_int(p["seed"]) or p["seed"] < 0:
            raise ConfigError(f"embedlike data set: seed must be a non-negative integer, got {p['seed']!r}")
        native = self.profile.dim
        if p["dim"] is None:
            p["dim"] = native
        if not is_int(p["dim"]) or not 1 <= p["dim"] <= native:
            raise ConfigError(
                f"embedlike data set: dim must be an integer in 1..{native} (the profile's {native} "
                f"dimensions or its first principal components), got {p['dim']!r}"
            )
        self.n, self.nq, self.dim, self.seed = int(p["n"]), int(p["nq"]), int(p["dim"]), int(p["seed"])
        self.dtype = np.dtype(np.float32)
        self.metric = Metric.parse(p["metric"])
        self.params: dict[str, Any] = {
            "profile": self.profile.name,
            "n": self.n,
            "nq": self.nq,
            "dim": self.dim,
            "metric": self.metric.value,
            "seed": self.seed,
        }
        self._pc_mean = (self.profile.mean @ self.profile.basis)[: self.dim]
        self._topics: NDArray[np.float32] | None = None

    def __getstate__(self) -> dict[str, Any]:
        # A worker process rebuilds the topic table from the seed; the profile travels as it is.
        return {**self.__dict__, "_topics": None}

    @property
    def name(self) -> str:
        return f"{PREFIX}-{self.profile.name}-{self.n}x{self.dim}-{self.metric.value}-s{self.seed}"

    @property
    def checksum(self) -> str:
        canonical = json.dumps(
            {"generator": PREFIX, "version": _VERSION, "profile_sha256": self.profile.sha256, **self.params},
            sort_keys=True,
        )
        return f"{PREFIX}:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def _noise(
        self, rng: np.random.Generator, labels: NDArray[np.int64], scale: float
    ) -> NDArray[np.float32]:
        """Draws from cluster ``labels[i]``'s zero-mean Gaussian, covariance times ``scale``, in
        principal coordinates."""
        prof, r = self.profile, self.profile.rank
        z = rng.standard_normal((len(labels), prof.dim), dtype=np.float32)
        for k in np.unique(labels):
            rows = np.nonzero(labels == k)[0]
            z[rows, :r] = z[rows, :r] @ prof.chol[k].T
        z[:, r:] *= prof.rest_std[labels]
        z *= np.float32(np.sqrt(scale))
        return z

    def _centres(self, rng: np.random.Generator, rows: int) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        """Cluster labels and the centres rows are drawn around (sub-centres when the profile has them)."""
        prof = self.profile
        labels = rng.choice(len(prof.weights), size=rows, p=prof.weights)
        if prof.topics == 0:
            return labels, prof.centres[labels]
        if self._topics is None:
            trng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(_TOPICS,)))
            owners = np.repeat(np.arange(len(prof.weights)), prof.topics)
            self._topics = prof.centres[owners] + self._noise(trng, owners, 1.0 - prof.local_frac)
        topic = labels * prof.topics + rng.integers(0, prof.topics, size=rows)
        return labels, self._topics[topic]

    def block(self, index: int, role: int = _BASE) -> NDArray[np.float32]:
        """Generated block ``index`` (``GEN_ROWS`` rows) of the base (role 0) or queries (role 1)."""
        prof = self.profile
        rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(role, index)))
        labels, centres = self._centres(rng, GEN_ROWS)
        y = centres + self._noise(rng, labels, prof.local_frac if prof.topics else 1.0)
        if self.dim == prof.dim:
            x = y @ prof.basis.T
            x += prof.mean
        else:
            x = y[:, : self.dim] + self._pc_mean
        if prof.unit_norm:
            x /= np.linalg.norm(x, axis=1, keepdims=True)
        return np.ascontiguousarray(x, dtype=np.float32)

    def _rows(self, start: int, stop: int, role: int, cache: list[Any]) -> NDArray[np.float32]:
        """Rows ``[start, stop)`` of one stream, from the generated blocks that hold them;
        ``cache`` keeps the last block (``[index, rows]``) between calls."""
        out = np.empty((stop - start, self.dim), dtype=np.float32)
        pos = start
        while pos < stop:
            b = pos // GEN_ROWS
            if not cache or cache[0] != b:
                cache[:] = [b, self.block(b, role)]
            hi = min(stop, (b + 1) * GEN_ROWS)
            out[pos - start : hi - start] = cache[1][pos - b * GEN_ROWS : hi - b * GEN_ROWS]
            pos = hi
        return out

    def _read(self, start: int, stop: int) -> NDArray[np.float32]:
        """Base rows ``[start, stop)`` (``BlockSource.read`` checks the range)."""
        return self._rows(start, stop, _BASE, [])

    def _take_span(self) -> int:
        return GEN_ROWS  # rows by id are read one generated block at a time

    def iter_blocks(
        self, rows: int, start: int = 0, stop: int | None = None
    ) -> Iterator[tuple[int, NDArray[np.float32]]]:
        """``(first_row, block)`` over base rows ``[start, stop)`` in order, blocks of at most
        ``rows`` (``BaseSource``); memory stays at one block plus one generated block."""
        if not is_int(rows) or rows <= 0:
            raise ConfigError(f"embedlike: rows per block must be a positive integer, got {rows!r}")
        stop = self.n if stop is None else stop
        if not (is_int(start) and is_int(stop) and 0 <= start <= stop <= self.n):
            raise DatasetError(f"rows [{start}, {stop}) are outside 0..{self.n} of this base set")
        return self._blocks(int(rows), int(start), int(stop))

    def _blocks(self, rows: int, start: int, stop: int) -> Iterator[tuple[int, NDArray[np.float32]]]:
        cache: list[Any] = []
        for first in range(start, stop, rows):
            yield first, self._rows(first, min(stop, first + rows), _BASE, cache)

    def queries(self) -> NDArray[np.float32]:
        """The ``nq`` queries: fresh draws from the same mixture, from their own seed stream."""
        return self._rows(0, self.nq, _QUERIES, [])

    def base(self) -> NDArray[np.float32]:
        """The whole base as one array (n x dim float32: 1.5 GB at 1M x 384)."""
        return self._rows(0, self.n, _BASE, [])


def split_name(name: str) -> str | None:
    """The profile named by ``embedlike`` (the default, minilm) or ``embedlike:PROFILE``; None otherwise."""
    if name == PREFIX:
        return "minilm"
    if name.startswith(PREFIX + ":"):
        return name[len(PREFIX) + 1 :]
    return None


def load_embedlike(profile: str = "minilm", *, stream: bool | None = None, **params: Any) -> Dataset:
    """The embedlike data set as a ``Dataset``. ``stream`` (default: when the base exceeds
    ``STREAM_ABOVE_BYTES``, as for the synthetic set) leaves ``base`` an ``EmbedlikeSource``
    read block by block, and makes the attribute columns on first use; the data are the same.
    Attribute columns as the synthetic set's, from their own stream."""
    from vecbench.datasets.synthetic import STREAM_ABOVE_BYTES, LazyAttributes

    if stream is not None and not isinstance(stream, bool):
        raise ConfigError(f"embedlike data set: stream must be true or false, got {stream!r}")
    source = EmbedlikeSource(profile, **params)
    if stream is None:
        stream = 4 * source.n * source.dim > STREAM_ABOVE_BYTES
    attributes: Any = LazyAttributes(np.random.SeedSequence(source.seed, spawn_key=(_ATTRIBUTES,)), source.n)
    return Dataset(
        name=source.name,
        metric=source.metric,
        base=source if stream else source.base(),
        queries=source.queries(),
        checksum=source.checksum,
        source=f"{PREFIX}:{profile}",
        params=dict(source.params),
        attributes=attributes if stream else dict(attributes),
    )
