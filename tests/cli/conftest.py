from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture
def vb(tmp_path: Path, vb_cache: Path):
    """Run the vecbench CLI in a subprocess, in tmp_path, with a private cache (``vb_cache``)."""
    env = dict(os.environ)  # vb_cache has set VECBENCH_CACHE and VECBENCH_PROGRESS

    def run(
        *args: str, check: bool | None = None, extra_env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "vecbench", *args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env={**env, **(extra_env or {})},
            timeout=600,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"vecbench {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
        return proc

    return run
