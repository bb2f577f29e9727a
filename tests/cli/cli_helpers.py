"""Checks shared by the command-line tests (no tests here)."""

from __future__ import annotations

import subprocess


def one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    """The CLI failed as users should see it: exit code 2, one line on stderr holding every
    needle, no traceback."""
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
