"""Process, port and HTTP helpers for local services (Linux /proc; standard library only)."""

from __future__ import annotations

import os
import re
import signal
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

POLL_S = 0.1
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (field 3 onwards), or None."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return raw.rsplit(")", 1)[1].split()


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (tells a reused pid apart)."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def is_alive(pid: int, started: int | None = None) -> bool:
    """True when PID runs (a zombie counts as gone) and, if given, started at ``started``."""
    fields = _stat_fields(pid)
    if fields is None or fields[0] in ("Z", "X"):
        return False
    return started is None or int(fields[19]) == started


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes whose process group is PGID."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        if fields and int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            members.append(int(entry))
    return members


def rss_bytes(pids: list[int]) -> int:
    """Sum of the resident set sizes of PIDS (processes that vanished count 0)."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
                    break
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


def wait_until(predicate: Callable[[], bool], timeout: float, poll: float = POLL_S) -> bool:
    """Poll PREDICATE until it is true or TIMEOUT seconds pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(poll, remaining))


def signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop_group(pgid: int, first_signal: int, grace: float, kill_wait: float = 10.0) -> tuple[bool, float]:
    """Send FIRST_SIGNAL to the group, wait GRACE s, then SIGKILL what is left.

    Returns (killed, seconds): killed is True when SIGKILL was needed. Raises TimeoutError
    when processes of the group are still there after the SIGKILL wait.
    """
    t0 = time.monotonic()
    signal_group(pgid, first_signal)
    if wait_until(lambda: not group_members(pgid), grace):
        return False, time.monotonic() - t0
    signal_group(pgid, signal.SIGKILL)
    if not wait_until(lambda: not group_members(pgid), kill_wait):
        raise TimeoutError(f"processes {group_members(pgid)} survived SIGKILL")
    return True, time.monotonic() - t0


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on HOST:PORT."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _listening_inodes(port: int) -> set[str]:
    """Socket inodes listening on PORT (TCP, IPv4 and IPv6), from /proc/net/tcp{,6}."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            # local_address is HEXIP:HEXPORT; state 0A is LISTEN
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def port_holder(port: int) -> str | None:
    """``"pid 123 (name)"`` of a process listening on PORT, or None when it cannot be told
    (nothing listens, or the process is another user's and its fds are unreadable)."""
    wanted = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    if not wanted:
        return None
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fds = os.listdir(f"/proc/{entry}/fd")
            if any(os.readlink(f"/proc/{entry}/fd/{fd}") in wanted for fd in fds):
                name = Path(f"/proc/{entry}/comm").read_text().strip()
                return f"pid {entry} ({name})"
        except OSError:
            continue
    return None


def free_port() -> int:
    """A TCP port nothing listens on now (any interface), chosen by the kernel."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("", 0))
        return int(s.getsockname()[1])


def http_get(url: str, timeout: float = 1.0) -> tuple[int, bytes] | None:
    """(status, body) of a GET, or None when the server cannot be reached."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - local URLs only
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""
    except (urllib.error.URLError, OSError):
        return None


def resp_command(port: int, *args: str, timeout: float = 1.0) -> bytes | None:
    """Send one RESP command to a Redis server and return the raw reply (None if unreachable)."""
    payload = f"*{len(args)}\r\n".encode() + b"".join(
        f"${len(a.encode())}\r\n".encode() + a.encode() + b"\r\n" for a in args
    )
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(payload)
            chunks = []
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                try:
                    data = s.recv(65536)
                except TimeoutError:
                    break
                if not data:
                    break
                chunks.append(data)
                if data.endswith(b"\r\n"):
                    s.settimeout(0.05)  # the rest of a multi-part reply, if any, follows at once
            return b"".join(chunks)
    except OSError:
        return None


def tail(path: Path, lines: int) -> list[str]:
    """The last LINES lines of a text file (empty when it does not exist)."""
    if lines <= 0:
        return []
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 64 * 1024))
            data = fh.read()
    except FileNotFoundError:
        return []
    text = _ANSI.sub("", data.decode("utf-8", errors="replace"))
    out = [ln.rstrip() for ln in text.splitlines() if ln.strip()]
    return out[-lines:]
