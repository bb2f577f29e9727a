"""Where vecbench keeps files: ``$VECBENCH_CACHE`` (default ``~/.cache/vecbench``)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """The cache root; read from the environment on every call, never at import time."""
    root = os.environ.get("VECBENCH_CACHE")
    return Path(root).expanduser() if root else Path.home() / ".cache" / "vecbench"
