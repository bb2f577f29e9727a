"""Dataset manifests: what can be fetched by name, from where, and with which checksum.

Manifests are the YAML files in the top-level ``datasets/`` folder, installed as package
data ``vecbench.datasets.manifests``. Each holds a ``datasets:`` list of entries, of one
of two formats. Vector sets (``datasets/ann-benchmarks.yaml``):

    - name: sift-128-euclidean
      url: http://ann-benchmarks.com/sift-128-euclidean.hdf5
      sha256: null            # 64 hex digits, or null (fetch then records "unverified")
      size: null              # exact bytes, or null
      dim: 128
      n: 1000000
      nq: 10000
      metric: euclidean       # aliases (angular, l2, dot) accepted
      format: ann-benchmarks-hdf5

Text-retrieval sets in BEIR layout (``datasets/beir.yaml``), fetched as a zip and unpacked
to ``$VECBENCH_CACHE/datasets/beir/<name>/``:

    - name: scifact
      url: https://public.ukp.informatik.tu-darmstadt.de/thakur/BEIR/datasets/scifact.zip
      md5: 5f7d1de60b170fc8027bb7898e2efca1   # 32 hex digits (what BEIR publishes), or null
      docs: 5183              # documents in corpus.jsonl
      queries: 300            # queries judged in qrels/<split>.tsv
      split: test
      subsets: []             # optional: sub-collections, each a BEIR folder (cqadupstack)
      format: beir-zip

Either format takes ``sha256``, ``md5``, ``size``, ``approx_size_mb`` and ``description``.

A text set shipped with vecbench (``datasets/cranfield.yaml``) names a folder next to its
manifest instead of a url; it is used in place, never fetched or cached:

    - name: cranfield
      path: cranfield         # relative to the manifest's folder; BEIR layout, *.gz allowed
      sha256: 554b...         # of corpus, queries and qrels as read (decompressed), in that order
      docs: 1400
      queries: 225
      split: test
      format: beir-packaged

    >>> get_manifest("glove-25-angular").metric
    <Metric.COSINE: 'cosine'>
    >>> get_manifest("scifact").kind
    'text/beir'
    >>> get_manifest("cranfield").packaged
    True
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from vecbench.errors import ConfigError, UnknownNameError
from vecbench.metrics import Metric
from vecbench.util.validation import is_int

__all__ = [
    "Manifest",
    "FORMATS",
    "KINDS",
    "manifest_dir",
    "list_manifests",
    "get_manifest",
    "parse_manifest",
    "cached_path",
    "is_cached",
]

FORMATS = {"ann-benchmarks-hdf5": ".hdf5", "beir-zip": ".zip", "beir-packaged": ""}
"""Known file formats and the suffix the fetched file gets (none for a packaged folder)."""

KINDS = {"ann-benchmarks-hdf5": "vector", "beir-zip": "text/beir", "beir-packaged": "text/beir"}
"""What each format holds: vectors with ground truth, or a text collection with qrels."""

_REQUIRED = {
    "ann-benchmarks-hdf5": ("name", "url", "dim", "n", "nq", "metric", "format"),
    "beir-zip": ("name", "url", "docs", "queries", "split", "format"),
    "beir-packaged": ("name", "path", "sha256", "docs", "queries", "split", "format"),
}
_OPTIONAL = {
    "ann-benchmarks-hdf5": ("sha256", "md5", "size", "approx_size_mb", "description"),
    "beir-zip": ("sha256", "md5", "size", "approx_size_mb", "description", "subsets"),
    "beir-packaged": ("approx_size_mb", "description"),
}
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_DIGEST = {"sha256": re.compile(r"^[0-9a-f]{64}$"), "md5": re.compile(r"^[0-9a-f]{32}$")}


@dataclass(frozen=True)
class Manifest:
    """One data set known by name. ``sha256``/``md5``/``size`` are None when not pinned (unverified).

    Vector sets fill ``dim``, ``n``, ``nq`` and ``metric``; BEIR sets fill ``docs``,
    ``queries``, ``split`` and, for a collection of collections, ``subsets``. A set shipped
    with vecbench has no ``url`` but a ``folder`` (absolute, inside the installed package);
    its ``sha256`` is of the collection's files as read, decompressed, in the order corpus,
    queries, qrels (what ``RagDataset.checksum`` reports).
    """

    name: str
    url: str = ""
    dim: int | None = None
    n: int | None = None
    nq: int | None = None
    metric: Metric | None = None
    format: str = "ann-benchmarks-hdf5"
    sha256: str | None = None
    size: int | None = None
    approx_size_mb: int | None = None
    description: str = ""
    md5: str | None = None
    docs: int | None = None
    queries: int | None = None
    split: str | None = None
    subsets: tuple[str, ...] = ()
    folder: Path | None = None

    @property
    def filename(self) -> str:
        """The downloaded file's name: ``<name><suffix>``."""
        return self.name + FORMATS.get(self.format, "")

    @property
    def kind(self) -> str:
        """``vector`` or ``text/beir``."""
        return KINDS.get(self.format, "vector")

    @property
    def is_beir(self) -> bool:
        """A text collection in BEIR layout, fetched or packaged."""
        return self.kind == "text/beir"

    @property
    def packaged(self) -> bool:
        """Shipped inside vecbench: used in place, nothing to fetch."""
        return self.format == "beir-packaged"

    @property
    def verified(self) -> bool:
        """Whether a download can be checked against a pinned sha256 or md5."""
        return self.sha256 is not None or self.md5 is not None

    def local_path(self, cache: Path) -> Path:
        """Where ``fetch`` puts this set under cache root ``cache``: the file for a vector
        set (``datasets/<name>.hdf5``), the unpacked folder for a BEIR set (``datasets/beir/<name>``).
        A packaged set lives in the package, whatever the cache."""
        if self.folder is not None:
            return self.folder
        if self.is_beir:
            return cache / "datasets" / "beir" / self.name
        return cache / "datasets" / self.filename


def manifest_dir() -> Path:
    """The folder of manifest YAML files (package data, or the source tree when editable)."""
    # The installed folder has no __init__.py: a namespace package, for which
    # importlib.resources.files() gives a MultiplexedPath whose str() is not a path.
    import importlib

    try:
        package = importlib.import_module("vecbench.datasets.manifests")
    except ImportError:
        package = None
    for entry in getattr(package, "__path__", ()):
        if any(Path(entry).glob("*.yaml")):
            return Path(entry)
    import vecbench

    return Path(vecbench.__file__).resolve().parent.parent / "datasets"


def _line(node: yaml.Node | None) -> str:
    return f" (line {node.start_mark.line + 1})" if node is not None else ""


def _positive_int(value: Any) -> bool:
    return is_int(value) and value > 0


def _entry(raw: Any, node: yaml.Node | None, where: str, base: Path | None) -> Manifest:
    at = f"{where}{_line(node)}"
    if not isinstance(raw, dict):
        raise ConfigError(f"{at}: a manifest entry must be a mapping, got {type(raw).__name__}")
    fmt = raw.get("format", "ann-benchmarks-hdf5")
    if fmt not in FORMATS:
        raise ConfigError(f"{at}: {raw.get('name')}: format must be one of {sorted(FORMATS)}, got {fmt!r}")
    required, optional = _REQUIRED[fmt], _OPTIONAL[fmt]
    unknown = sorted(set(raw) - set(required) - set(optional))
    if unknown:
        raise ConfigError(f"{at}: unknown key(s) {unknown}; allowed: {sorted(required + optional)}")
    missing = [key for key in required if key not in raw]
    if missing:
        raise ConfigError(f"{at}: missing key(s) {missing}")
    name = raw["name"]
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(f"{at}: name must be lower-case letters, digits, '.', '_' or '-', got {name!r}")
    url = raw.get("url", "")
    if "url" in required and (not isinstance(url, str) or not url.startswith(("http://", "https://"))):
        raise ConfigError(f"{at}: {name}: url must be http(s), got {url!r}")
    counts = ("dim", "n", "nq") if fmt == "ann-benchmarks-hdf5" else ("docs", "queries")
    for key in counts:
        if not _positive_int(raw[key]):
            raise ConfigError(f"{at}: {name}: {key} must be a positive integer, got {raw[key]!r}")
    for algorithm, pattern in _DIGEST.items():
        digest = raw.get(algorithm)
        if digest is not None and (not isinstance(digest, str) or not pattern.match(digest)):
            width = 64 if algorithm == "sha256" else 32
            raise ConfigError(
                f"{at}: {name}: {algorithm} must be {width} lower-case hex digits or null, got {digest!r}"
            )
    for key in ("size", "approx_size_mb"):
        if raw.get(key) is not None and not _positive_int(raw[key]):
            raise ConfigError(f"{at}: {name}: {key} must be a positive integer or null, got {raw[key]!r}")
    common: dict[str, Any] = {
        "name": name,
        "url": url,
        "format": fmt,
        "sha256": raw.get("sha256"),
        "md5": raw.get("md5"),
        "size": raw.get("size"),
        "approx_size_mb": raw.get("approx_size_mb"),
        "description": str(raw.get("description") or ""),
    }
    if fmt == "beir-packaged":
        common["folder"] = _packaged_folder(raw["path"], base, f"{at}: {name}")
        if raw["sha256"] is None:
            raise ConfigError(f"{at}: {name}: a packaged set pins its sha256")
    if fmt in ("beir-zip", "beir-packaged"):
        split = raw["split"]
        if not isinstance(split, str) or not _NAME.match(split):
            raise ConfigError(f"{at}: {name}: split must be a qrels file name like test, got {split!r}")
        subsets = raw.get("subsets") or []
        if not isinstance(subsets, list) or not all(isinstance(s, str) and _NAME.match(s) for s in subsets):
            raise ConfigError(f"{at}: {name}: subsets must be a list of folder names, got {subsets!r}")
        if len(set(subsets)) != len(subsets):
            raise ConfigError(f"{at}: {name}: subsets repeat a name")
        return Manifest(
            docs=raw["docs"], queries=raw["queries"], split=split, subsets=tuple(subsets), **common
        )
    try:
        metric = Metric.parse(raw["metric"])
    except ConfigError as exc:
        raise ConfigError(f"{at}: {name}: {exc}") from None
    return Manifest(dim=raw["dim"], n=raw["n"], nq=raw["nq"], metric=metric, **common)


def _packaged_folder(path: Any, base: Path | None, at: str) -> Path:
    """``path`` of a packaged set: a plain relative folder name, resolved against ``base``."""
    rel = Path(path) if isinstance(path, str) and path else None
    if rel is None or rel.is_absolute() or ".." in rel.parts:
        raise ConfigError(f"{at}: path must be a folder relative to the manifest's folder, got {path!r}")
    return (manifest_dir() if base is None else base) / rel


def parse_manifest(text: str, source: str = "<manifest>", base: Path | None = None) -> list[Manifest]:
    """Manifests in one YAML document; any problem raises ConfigError naming the line.

    ``base`` is the folder a packaged set's ``path`` is relative to (default: the
    manifest folder)."""
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
        manifest = _entry(raw, node, source, base)
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
        for manifest in parse_manifest(path.read_text(encoding="utf-8"), source=str(path), base=folder):
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
    """Where ``fetch`` puts data set ``name``: ``$VECBENCH_CACHE/datasets/<name><suffix>``
    for a vector set, the folder ``$VECBENCH_CACHE/datasets/beir/<name>`` for a BEIR set."""
    from vecbench.util.paths import cache_dir

    return get_manifest(name).local_path(cache_dir())


def is_cached(name: str) -> bool:
    """Whether data set ``name`` is on disk: fetched (``fetch`` verified it then; a BEIR
    folder appears in one rename, only once fully unpacked), or packaged."""
    from vecbench.util.paths import cache_dir

    manifest = get_manifest(name)
    path = manifest.local_path(cache_dir())
    return path.is_dir() if manifest.is_beir else path.is_file()
