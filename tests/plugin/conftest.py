"""Tests of vecbench's pytest plugin (vecbench/pytest_plugin.py), run through ``pytester``.

pytester itself is enabled by ``-p pytester`` in pyproject's addopts: a conftest below the
rootdir may not declare ``pytest_plugins``. The plugin under test is loaded the way users
get it, through its ``pytest11`` entry point (so vecbench must be installed, as CI does).
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _own_cache(vb_cache: Path) -> None:
    """Keep ground truth and data caches of the inner runs out of the developer's cache."""
