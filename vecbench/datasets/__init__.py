"""Data sets: loaders, manifests and exact ground truth. See ``load``."""

from __future__ import annotations

import os
from typing import Any

from vecbench.datasets.base import Dataset, GroundTruth

__all__ = ["Dataset", "GroundTruth", "load"]


def load(name_or_path: str | os.PathLike[str], **params: Any) -> Dataset:
    """A Dataset by name ("synthetic", a manifest name) or path; see ``vecbench.datasets.loaders.load``."""
    from vecbench.datasets.loaders import load as _load

    return _load(name_or_path, **params)
