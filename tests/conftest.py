"""Fixtures shared by every test folder."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def vb_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private ``$VECBENCH_CACHE`` (``tmp_path / "cache"``, not created) and no progress bars.

    Tests that write data, ground truth or service state ask for it (or name it in
    ``pytestmark = pytest.mark.usefixtures("vb_cache")``), so nothing lands in the
    developer's cache. Not autouse: some tests use what the real cache already holds (the
    distilled static model, Redis's native libraries).
    """
    cache = tmp_path / "cache"
    monkeypatch.setenv("VECBENCH_CACHE", str(cache))
    monkeypatch.setenv("VECBENCH_PROGRESS", "0")
    return cache
