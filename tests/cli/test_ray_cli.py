"""`vecbench run --executor ray` bad input: one line, exit 2, before any cell."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.cli_helpers import one_line_error

pytest.importorskip("ray")
pytestmark = pytest.mark.usefixtures("vb_cache")

GRID = ["--stores", "bruteforce", "--index", "flat", "--dataset-param", "n=500", "--dataset-param", "nq=5"]


def test_unreachable_ray_address_is_one_line_exit_2_before_any_cell(vb, tmp_path: Path):
    out = tmp_path / "run.jsonl"
    proc = vb("run", *GRID, "--ray-address", "127.0.0.1:1", "--out", str(out), "-q")
    one_line_error(proc, "ray address 127.0.0.1:1 is unreachable", "ray start --head")
    assert not out.exists()


def test_ray_address_with_local_executor_is_refused(vb):
    proc = vb("run", *GRID, "--executor", "local", "--ray-address", "127.0.0.1:1", "-q")
    one_line_error(proc, "--ray-address needs --executor ray")


def test_a_bad_address_is_refused(vb):
    proc = vb("run", *GRID, "--ray-address", "no-port-here", "-q")
    one_line_error(proc, "is not host:port")


def test_executor_ray_without_ray_installed_names_the_extra(tmp_path: Path, vb_cache: Path):
    code = (
        "import sys; sys.modules['ray'] = None\n"
        "from vecbench.cli import main\n"
        f"sys.exit(main({['run', *GRID, '--executor', 'ray', '-q']!r}))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300
    )
    one_line_error(proc, "ray is not installed", "pip install 'vecbench[ray]'")


def test_too_few_cpus_for_the_load_workers_is_one_line_exit_2_before_any_cell(vb, tmp_path: Path):
    out = tmp_path / "run.jsonl"
    proc = vb(
        "run", *GRID, "--executor", "ray", "--concurrency", "1000", "--duration", "1", "--out", str(out), "-q"
    )
    one_line_error(proc, "fewer than the 1000 load workers")
    assert not out.exists()
