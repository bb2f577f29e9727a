"""Servers that refuse to run as root (PostgreSQL, Elasticsearch, OpenSearch) run as ``vecbench``.

When vecbench itself runs as root, such a server runs as the system user ``vecbench``
(created with ``useradd --system`` on first use), which owns the service's data, config and
log directories; the directories above them get ``o+x`` (pass through, no listing) so that
the user can reach them. As any other user, the server runs as that user.
"""

from __future__ import annotations

import os
import pwd
import stat
import subprocess
from pathlib import Path
from typing import Any

from vecbench.errors import ConfigError
from vecbench.services.base import Note

SYSTEM_USER = "vecbench"


def run_user() -> str | None:
    """The system user a server runs as when it must not run as us (root), else None."""
    return SYSTEM_USER if os.geteuid() == 0 else None


def ensure_user(service: str, why: str, note: Note) -> pwd.struct_passwd:
    """The ``vecbench`` system user, created when missing; ConfigError when that fails."""
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        pass
    note(f"{service}: creating system user {SYSTEM_USER!r} ({why})")
    argv = [
        "useradd",
        "--system",
        "--user-group",
        "--no-create-home",
        "--home-dir",
        "/nonexistent",
        "--shell",
        "/usr/sbin/nologin",
        SYSTEM_USER,
    ]
    try:
        subprocess.run(argv, check=True, capture_output=True, text=True, timeout=60)  # noqa: S603
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        raise ConfigError(
            f"{service}: {why} and creating user {SYSTEM_USER!r} failed: {detail.strip()}; "
            f"create it (useradd --system {SYSTEM_USER}) or run vecbench as a normal user"
        ) from exc
    return pwd.getpwnam(SYSTEM_USER)


def ensure_traversable(service: str, path: Path, note: Note) -> None:
    """Let other users pass through PATH's ancestors (o+x only, no listing)."""
    for parent in reversed(path.resolve().parents):
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            note(f"{service}: chmod o+x {parent} so that user {SYSTEM_USER!r} can reach {path}")
            parent.chmod(mode | stat.S_IXOTH)


def chown_tree(path: Path, user: pwd.struct_passwd) -> None:
    """Give PATH and everything below it to USER (its files are the server's to write)."""
    os.chown(path, user.pw_uid, user.pw_gid)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(root, name), user.pw_uid, user.pw_gid, follow_symlinks=False)


def as_user_kwargs(user: str | None) -> dict[str, Any]:
    """``subprocess`` keyword arguments that run a command as USER (nothing for None)."""
    if user is None:
        return {}
    pw = pwd.getpwnam(user)
    return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
