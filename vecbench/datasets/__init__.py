"""Data sets: loaders, manifests and exact ground truth. See ``load``."""

from vecbench.datasets.base import Dataset, GroundTruth

__all__ = ["Dataset", "GroundTruth", "load"]


def load(name_or_path, **params):  # placeholder replaced by the loaders module
    from vecbench.datasets.loaders import load as _load

    return _load(name_or_path, **params)
