"""Where a figure came from: machine fingerprint, library versions, git commit, run ids.

Nothing here imports a store's client library: versions are read from installed
distribution metadata (``importlib.metadata``).
"""

from __future__ import annotations

import hashlib
import os
import platform
import secrets
import socket
import sys
from datetime import datetime, timezone
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["machine_info", "versions", "client_versions", "git_commit", "new_run_id", "utc_now_iso"]


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Hardware", "cpu model") and value.strip():
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _ram_total_bytes() -> int | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def _usable_cores() -> int | None:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count()


@lru_cache(maxsize=1)
def machine_info() -> dict[str, Any]:
    """A fingerprint of this machine; the hostname only as a short sha256 (never in clear).

    >>> sorted(machine_info())  # doctest: +NORMALIZE_WHITESPACE
    ['arch', 'cpu_model', 'hostname_sha256', 'logical_cores', 'os', 'python',
     'python_implementation', 'ram_total_bytes', 'usable_cores']
    """
    host = socket.gethostname()
    return {
        "cpu_model": _cpu_model(),
        "logical_cores": os.cpu_count(),
        "usable_cores": _usable_cores(),
        "ram_total_bytes": _ram_total_bytes(),
        "os": f"{platform.system()} {platform.release()}",
        "arch": platform.machine(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "hostname_sha256": hashlib.sha256(host.encode()).hexdigest()[:16],
    }


def _dist_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


@lru_cache(maxsize=1)
def _module_to_dists() -> dict[str, list[str]]:
    return {k: list(v) for k, v in metadata.packages_distributions().items()}


def client_versions(modules: list[str] | tuple[str, ...] | None = None) -> dict[str, str]:
    """Installed distributions (and versions) providing the given import names.

    With no argument, the client modules of every registered store. Modules that are not
    installed are left out. Nothing is imported.
    """
    if modules is None:
        modules = _registered_client_modules()
    found: dict[str, str] = {}
    dists = _module_to_dists()
    for mod in modules:
        for dist in dists.get(mod.split(".")[0], []):
            v = _dist_version(dist)
            if v is not None:
                found[dist] = v
    return dict(sorted(found.items()))


def _registered_client_modules() -> tuple[str, ...]:
    from vecbench.registry import store_class, store_names

    mods: dict[str, None] = {}
    for name in store_names():
        try:  # an adapter that fails to import says so when used, not here
            cls = store_class(name)
            for m in cls.info.client_modules:
                mods[m] = None
        except Exception:
            continue
    return tuple(mods)


def versions(client_modules: list[str] | tuple[str, ...] | None = None) -> dict[str, Any]:
    """vecbench, Python, numpy and client library versions.

    >>> sorted(versions([]))
    ['clients', 'numpy', 'python', 'vecbench']
    """
    from vecbench._version import __version__

    return {
        "vecbench": __version__,
        "python": sys.version.split()[0],
        "numpy": _dist_version("numpy"),
        "clients": client_versions(client_modules),
    }


def git_commit(path: str | Path | None = None) -> str | None:
    """The commit checked out in the git work tree holding ``path`` (default: cwd), or None.

    Read from ``.git`` directly (no subprocess): HEAD, then the loose ref or packed-refs.
    """
    start = Path(path or os.getcwd()).resolve()
    for d in (start, *start.parents):
        git = d / ".git"
        if git.is_file():  # a worktree or submodule: "gitdir: <path>"
            try:
                text = git.read_text(encoding="utf-8").strip()
            except OSError:
                return None
            if not text.startswith("gitdir:"):
                return None
            git = (d / text.split(":", 1)[1].strip()).resolve()
        if git.is_dir():
            return _read_head(git)
    return None


def _read_head(git: Path) -> str | None:
    try:
        head = (git / "HEAD").read_text(encoding="utf-8").strip()
        if not head.startswith("ref:"):
            return head or None
        ref = head.split(":", 1)[1].strip()
        # Linked worktrees keep refs in the common dir.
        common = git
        if (git / "commondir").is_file():
            common = (git / (git / "commondir").read_text(encoding="utf-8").strip()).resolve()
        for root in (git, common):
            loose = root / ref
            if loose.is_file():
                return loose.read_text(encoding="utf-8").strip() or None
        packed = common / "packed-refs"
        if packed.is_file():
            for line in packed.read_text(encoding="utf-8").splitlines():
                parts = line.split()
                if len(parts) == 2 and parts[1] == ref:
                    return parts[0]
    except OSError:
        return None
    return None


def utc_now_iso() -> str:
    """The current time as ISO-8601 UTC with microseconds, e.g. ``2025-01-31T12:00:00.123456+00:00``."""
    return datetime.now(timezone.utc).isoformat()


def new_run_id() -> str:
    """A run id that sorts by start time and is unique: ``YYYYMMDDTHHMMSSmmmZ-<8 hex>``.

    >>> rid = new_run_id()
    >>> len(rid), rid[18], rid[19]
    (28, 'Z', '-')
    """
    now = datetime.now(timezone.utc)
    return f"{now:%Y%m%dT%H%M%S}{now.microsecond // 1000:03d}Z-{secrets.token_hex(4)}"
