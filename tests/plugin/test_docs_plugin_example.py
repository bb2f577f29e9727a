"""The plugin page's user test (docs/pytest-plugin.md), run as a user would: a real pytest process."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[2] / "docs" / "pytest-plugin.md"
MARKER = "<!-- plugin-example -->"
EXTRA_INFO_KEYS = ("recall_at_k", "tie_aware_recall_at_k", "p50_ms", "p95_ms", "p99_ms", "qps")


def page_example() -> str:
    """The python code block right after the marker comment."""
    text = PAGE.read_text(encoding="utf-8")
    assert MARKER in text, f"{PAGE} lost its {MARKER} marker"
    found = re.match(r"\s*```python\n(.*?)\n```", text.split(MARKER, 1)[1], re.DOTALL)
    assert found, f"no ```python block right after {MARKER} in {PAGE}"
    return found.group(1) + "\n"


def test_page_example_is_a_short_user_test() -> None:
    code = page_example()
    assert len(code.strip().splitlines()) <= 12
    compile(code, "test_my_index.py", "exec")


def test_page_example_runs_under_pytest_with_benchmark_json(tmp_path: Path) -> None:
    pytest.importorskip("faiss")
    pytest.importorskip("pytest_benchmark")
    (tmp_path / "test_my_index.py").write_text(page_example(), encoding="utf-8")
    # The private cache of conftest's _own_cache (VECBENCH_CACHE, VECBENCH_PROGRESS) comes along.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--benchmark-json=bench.json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    benchmarks = json.loads((tmp_path / "bench.json").read_text())["benchmarks"]
    assert len(benchmarks) == 2  # ef_search 16 and 64
    for bench in benchmarks:
        info = bench["extra_info"]
        for key in EXTRA_INFO_KEYS:
            assert isinstance(info[key], float), (bench["name"], key, info.get(key))
        assert info["p50_ms"] <= info["p95_ms"] <= info["p99_ms"]
        assert (info["store"], info["index_type"]) == ("faiss", "hnsw")
        assert info["rounds"] == bench["stats"]["rounds"] == 2
