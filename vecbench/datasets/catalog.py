"""Dataset manifests: what can be fetched by name, from where, and with which checksum.

Manifests are the YAML files in the top-level ``datasets/`` folder, installed as package
data ``vecbench.datasets.manifests``. Each holds a ``datasets:`` list of entries:

    - name: sift-128-euclidean
      url: http://ann-benchmarks.com/sift-128-euclidean.hdf5
      sha256: null            # 64 hex digits, or null (fetch then records "unverified")
      size: null              # exact bytes, or null
      dim: 128
      n: 1000000
      nq: 10000
      metric: euclidean       # aliases (angular, l2, dot) accepted
      format: ann-benchmarks-hdf5

    >>> get_manifest("glove-25-angular").metric
    <Metric.COSINE: 'cosine'>
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from vecbench.errors import ConfigError, UnknownNameError
from vecbench.metrics import Metric

__all__ = [
    "Manifest",
    "FORMATS",
    "manifest_dir",
    "list_manifests",
    "get_manifest",
    "parse_manifest",
    "cached_path",
    "is_cached",
]

FORMATS = {"ann-benchmarks-hdf5": ".hdf5"}
"""Known file formats and the suffix the fetched file gets."""

_REQUIRED = ("name", "url", "dim", "n", "nq", "metric", "format")
_OPTIONAL = ("sha256", "size", "approx_size_mb", "description")
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_SHA = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Manifest:
    """One fetchable data set. ``sha256``/``size`` are None when not pinned (unverified)."""

    name: str
    url: str
    dim: int
    n: int
    nq: int
    metric: Metric
    format: str
    sha256: str | None = None
    size: int | None = None
    approx_size_mb: int | None = None
    description: str = ""

    @property
    def filename(self) -> str:
        return self.name + FORMATS.get(self.format, "")

    @property
    def verified(self) -> bool:
        """Whether a download can be checked against a pinned sha256."""
        return self.sha256 is not None


def manifest_dir() -> Path:
    """The folder of manifest YAML files (package data, or the source tree when editable)."""
    try:
        from importlib.resources import files

        folder = files("vecbench.datasets.manifests")
        path = Path(str(folder))
        if path.is_dir():
            return path
    except (ModuleNotFoundError, TypeError, ValueError):
        pass
    import vecbench

    return Path(vecbench.__file__).resolve().parent.parent / "datasets"


def _line(node: yaml.Node | None) -> str:
    return f" (line {node.start_mark.line + 1})" if node is not None else ""


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _entry(raw: Any, node: yaml.Node | None, where: str) -> Manifest:
    at = f"{where}{_line(node)}"
    if not isinstance(raw, dict):
        raise ConfigError(f"{at}: a manifest entry must be a mapping, got {type(raw).__name__}")
    unknown = sorted(set(raw) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise ConfigError(f"{at}: unknown key(s) {unknown}; allowed: {sorted(_REQUIRED + _OPTIONAL)}")
    missing = [key for key in _REQUIRED if key not in raw]
    if missing:
        raise ConfigError(f"{at}: missing key(s) {missing}")
    name = raw["name"]
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(f"{at}: name must be lower-case letters, digits, '.', '_' or '-', got {name!r}")
    url = raw["url"]
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ConfigError(f"{at}: {name}: url must be http(s), got {url!r}")
    for key in ("dim", "n", "nq"):
        if not _positive_int(raw[key]):
            raise ConfigError(f"{at}: {name}: {key} must be a positive integer, got {raw[key]!r}")
    try:
        metric = Metric.parse(raw["metric"])
    except ConfigError as exc:
        raise ConfigError(f"{at}: {name}: {exc}") from None
    if raw["format"] not in FORMATS:
        raise ConfigError(f"{at}: {name}: format must be one of {sorted(FORMATS)}, got {raw['format']!r}")
    sha = raw.get("sha256")
    if sha is not None and (not isinstance(sha, str) or not _SHA.match(sha)):
        raise ConfigError(f"{at}: {name}: sha256 must be 64 lower-case hex digits or null, got {sha!r}")
    for key in ("size", "approx_size_mb"):
        if raw.get(key) is not None and not _positive_int(raw[key]):
            raise ConfigError(f"{at}: {name}: {key} must be a positive integer or null, got {raw[key]!r}")
    description = raw.get("description") or ""
    return Manifest(
        name=name,
        url=url,
        dim=raw["dim"],
        n=raw["n"],
        nq=raw["nq"],
        metric=metric,
        format=raw["format"],
        sha256=sha,
        size=raw.get("size"),
        approx_size_mb=raw.get("approx_size_mb"),
        description=str(description),
    )


def parse_manifest(text: str, source: str = "<manifest>") -> list[Manifest]:
    """Manifests in one YAML document; any problem raises ConfigError naming the line."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{source}:{line}: malformed YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: malformed YAML: {exc}") from None
    if not isinstance(data, dict) or "datasets" not in data:
        raise ConfigError(f"{source}: expected a mapping with a 'datasets:' list")
    entries = data["datasets"]
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise ConfigError(f"{source}: 'datasets' must be a list{_line(_child(root, 'datasets'))}")
    seq = _child(root, "datasets")
    nodes = seq.value if isinstance(seq, yaml.SequenceNode) else [None] * len(entries)
    out: list[Manifest] = []
    seen: set[str] = set()
    for raw, node in zip(entries, nodes, strict=False):
        manifest = _entry(raw, node, source)
        if manifest.name in seen:
            raise ConfigError(f"{source}{_line(node)}: duplicate data set name {manifest.name!r}")
        seen.add(manifest.name)
        out.append(manifest)
    return out


def _child(root: yaml.Node | None, key: str) -> yaml.Node | None:
    if isinstance(root, yaml.MappingNode):
        for k, v in root.value:
            if getattr(k, "value", None) == key:
                return v
    return None


def list_manifests(folder: Path | None = None) -> list[Manifest]:
    """Every manifest in every ``*.yaml`` of the manifest folder, sorted by name."""
    folder = manifest_dir() if folder is None else Path(folder)
    out: dict[str, Manifest] = {}
    for path in sorted(folder.glob("*.yaml")):
        for manifest in parse_manifest(path.read_text(encoding="utf-8"), source=str(path)):
            if manifest.name in out:
                raise ConfigError(f"{path}: data set {manifest.name!r} is defined in two manifest files")
            out[manifest.name] = manifest
    return [out[name] for name in sorted(out)]


def get_manifest(name: str, folder: Path | None = None) -> Manifest:
    """The manifest named ``name``; UnknownNameError listing the valid names otherwise."""
    manifests = {m.name: m for m in list_manifests(folder)}
    if name not in manifests:
        raise UnknownNameError("dataset", name, manifests)
    return manifests[name]


def cached_path(name: str) -> Path:
    """Where ``fetch`` puts data set ``name``: ``$VECBENCH_CACHE/datasets/<name><suffix>``."""
    from vecbench.paths import cache_dir

    return cache_dir() / "datasets" / get_manifest(name).filename


def is_cached(name: str) -> bool:
    """Whether data set ``name`` has been fetched (the file exists; ``fetch`` verified it then)."""
    return cached_path(name).is_file()
