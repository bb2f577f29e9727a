"""Entries of a retrieval config: parameter grids, components, rerankers, retrieval modes.

Shared by ``vecbench.rag.config`` (which validates a whole config); every function raises
ConfigError (or UnknownNameError) naming the entry at fault.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vecbench.errors import ConfigError, UnknownNameError
from vecbench.rag.fusion import RetrievalMode
from vecbench.util.validation import is_int

__all__ = [
    "ComponentConfig",
    "components",
    "expand_grid",
    "rerankers",
    "retrieval_modes",
    "flag",
    "chunker_restriction",
    "check_keys",
    "mapping_of",
    "list_of",
    "pos_int",
]

_RERANKERS = ("none", "embedding", "cross_encoder")


@dataclass(frozen=True)
class ComponentConfig:
    """A chunker, embedder or reranker: a name and one point of its parameter grid."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    chunkers: tuple[str, ...] | None = None  # only with these chunker names (None: every one)

    def runs_with(self, chunker: ComponentConfig) -> bool:
        return self.chunkers is None or chunker.name in self.chunkers


def expand_grid(params: Mapping[str, Any] | None, where: str) -> list[dict[str, Any]]:
    """Every combination of the list-valued entries (``[[a, b]]`` is the one value [a, b]).

    >>> expand_grid({"m": [8, 16], "ef": 40}, "build")
    [{'m': 8, 'ef': 40}, {'m': 16, 'ef': 40}]
    """
    if params is None:
        return [{}]
    if not isinstance(params, Mapping):
        raise ConfigError(f"{where} must be a mapping, got {type(params).__name__}")
    axes: list[list[Any]] = []
    for key, value in params.items():
        if not isinstance(key, str):
            raise ConfigError(f"{where}: parameter names must be strings, got {key!r}")
        if isinstance(value, list):
            if not value:
                raise ConfigError(f"{where}.{key}: an empty list gives no values")
            if len(value) == 1 and isinstance(value[0], list):
                axes.append([value[0]])
            else:
                axes.append(value)
        else:
            axes.append([value])
    return [dict(zip(params, combo, strict=True)) for combo in itertools.product(*axes)]


def mapping_of(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} must be a mapping, got {type(value).__name__}")
    return value


def list_of(value: Any, where: str, allow_empty: bool = False) -> list[Any]:
    if not isinstance(value, list) or (not value and not allow_empty):
        raise ConfigError(f"{where} must be a non-empty list")
    return value


def pos_int(value: Any, where: str) -> int:
    if not is_int(value) or value < 1:
        raise ConfigError(f"{where} must be a positive integer, got {value!r}")
    return value


def check_keys(m: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(m) - known)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(map(str, unknown))}; known: {', '.join(sorted(known))}"
        )


def components(
    value: Any, where: str, names: list[str] | None, restrictable: bool = False
) -> list[ComponentConfig]:
    """Entries ``{name, params}`` (a bare name too), one ComponentConfig per point of the
    params grid; ``restrictable`` entries may name the ``chunkers`` they run with."""
    out: list[ComponentConfig] = []
    for i, entry in enumerate(list_of(value, where)):
        w = f"{where}[{i}]"
        if isinstance(entry, str):
            entry = {"name": entry}
        entry = mapping_of(entry, w)
        check_keys(entry, {"name", "params", "chunkers"} if restrictable else {"name", "params"}, w)
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{w}: a name is required")
        if names is not None and name not in names:
            raise UnknownNameError(where.rstrip("s"), name, names)
        only = chunker_restriction(entry.get("chunkers"), w)
        out += [ComponentConfig(name, p, only) for p in expand_grid(entry.get("params"), f"{w}.params")]
    return out


def chunker_restriction(value: Any, where: str) -> tuple[str, ...] | None:
    """``chunkers: [names]`` of an embedder or reranker entry: it runs only with those."""
    if value is None:
        return None
    names = list_of(value, f"{where}.chunkers")
    if not all(isinstance(n, str) for n in names):
        raise ConfigError(f"{where}.chunkers must be a list of chunker names")
    return tuple(names)


def rerankers(value: Any, base: Path | None = None) -> list[ComponentConfig | None]:
    """Reranker entries: ``none``; ``{name: embedding, embedder: {name, params},
    precompute: false}``; ``{name: cross_encoder, model_path: DIR, batch_size, device}``
    (a relative folder is taken relative to the config file). Any of them may name the
    ``chunkers`` it runs with."""
    if value is None:
        return [None]
    out: list[ComponentConfig | None] = []
    for i, entry in enumerate(list_of(value, "rerankers")):
        w = f"rerankers[{i}]"
        if entry is None or entry == "none":
            out.append(None)
            continue
        if isinstance(entry, str):
            entry = {"name": entry}
        entry = dict(mapping_of(entry, w))
        name = entry.pop("name", None)
        if name not in _RERANKERS:
            raise UnknownNameError("reranker", name, _RERANKERS)
        only = chunker_restriction(entry.pop("chunkers", None), w)
        if name == "none":
            out.append(None)
        elif name == "embedding":
            out.append(ComponentConfig("embedding", _embedding_reranker(entry, w), only))
        else:
            out.append(ComponentConfig("cross_encoder", _cross_encoder(entry, w, base), only))
    return out


def _embedding_reranker(entry: dict[str, Any], w: str) -> dict[str, Any]:
    check_keys(entry, {"embedder", "precompute"}, w)
    emb = mapping_of(entry.get("embedder"), f"{w}.embedder")
    check_keys(emb, {"name", "params"}, f"{w}.embedder")
    if not isinstance(emb.get("name"), str):
        raise ConfigError(f"{w}.embedder.name is required")
    params: dict[str, Any] = {"embedder": {"name": emb["name"], "params": dict(emb.get("params") or {})}}
    if "precompute" in entry:
        params["precompute"] = flag(entry["precompute"], f"{w}.precompute")
    return params


def _cross_encoder(entry: dict[str, Any], w: str, base: Path | None) -> dict[str, Any]:
    check_keys(entry, {"model_path", "batch_size", "device"}, w)
    if not isinstance(entry.get("model_path"), str):
        raise ConfigError(
            f"{w}: cross_encoder needs model_path (a local model folder: no installable "
            "package ships cross-encoder weights, and runs never download)"
        )
    model = Path(entry["model_path"]).expanduser()
    if base is not None and not model.is_absolute():
        entry["model_path"] = str(base / model)  # relative to the config file
    if not Path(entry["model_path"]).is_dir():
        raise ConfigError(f"{w}: cross_encoder model_path {entry['model_path']!r} is not a directory")
    return entry


def flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where} must be true or false, got {value!r}")
    return value


def retrieval_modes(value: Any, where: Any = "native") -> list[RetrievalMode]:
    """Retrieval entries: a mode name, or a mapping (mode, fusion, rrf_k, alpha, where) whose
    list values are grid axes; ``where`` (the config's ``hybrid_where``) is the default of
    hybrid entries that name none."""
    if value is None:
        return [RetrievalMode()]
    out: list[RetrievalMode] = []
    for i, entry in enumerate(list_of(value, "retrieval")):
        w = f"retrieval[{i}]"
        if isinstance(entry, str):
            entry = {"mode": entry}
        entry = mapping_of(entry, w)
        check_keys(entry, {"mode", "fusion", "rrf_k", "alpha", "where"}, w)
        if entry.get("mode") == "hybrid" and "where" not in entry:
            entry = {**entry, "where": where}
        for point in expand_grid(entry, w):
            mode = RetrievalMode(**point)
            if "rrf_k" in point and mode.fusion != "rrf":
                raise ConfigError(f"{w}: rrf_k is the constant of fusion rrf (mode hybrid)")
            out.append(mode)
    if len(set(out)) != len(out):
        raise ConfigError("retrieval: an entry is given twice")
    return out
