"""Import optional client libraries on first use, with an install hint when missing."""

from __future__ import annotations

import importlib
from types import ModuleType

from vecbench.errors import MissingDependencyError


def import_optional(module: str, extra: str) -> ModuleType:
    """``importlib.import_module(module)``, raising MissingDependencyError naming the extra."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(module.split(".")[0], extra) from exc
