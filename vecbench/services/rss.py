"""Resident memory of the engine a store talks to, when ``vecbench services`` started it here.

A server store's own footprint figures (``Footprint``) cover its collection; this module adds
what the whole engine process takes. ``service_footprint`` maps a store to a local service
only when the store's address (config, or the ``VECBENCH_*`` default the adapter would use)
is a loopback address (or, for Postgres, the service's Unix socket directory) on the port
of a service whose recorded process still runs. A remote engine, or one started some other
way, gives ``None``: its memory cannot be read from here.

    >>> service_footprint("redis", {"url": "redis://127.0.0.1:16379"})  # doctest: +SKIP
    {'name': 'redis', 'pid': 17633, 'rss_bytes': 15728640, 'method': 'sum of VmRSS over ...'}

Standard library only (``/proc``); no engine client is imported.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from vecbench.engines import ENGINES
from vecbench.services import _proc
from vecbench.services.base import Service, State

__all__ = [
    "with_service",
    "STORE_SERVICES",
    "local_service",
    "process_tree",
    "pss_bytes",
    "service_footprint",
    "store_address",
    "tree_rss_bytes",
]

# Store name -> service name, for the engines vecbench services can start (the server store,
# the service and the engine share one name; vecbench.engines holds the facts).
STORE_SERVICES = {e.name: e.service for e in ENGINES.values() if e.local}
_LOOPBACK = {"127.0.0.1", "localhost", "::1", "0.0.0.0", "::"}
_KEYVALUE = re.compile(r"(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|\S+)")


def _pg_host_port(dsn: str) -> tuple[str | None, str | None]:
    """(host, port) of a libpq URI or key=value string, before libpq's environment defaults."""
    if dsn.startswith(("postgresql://", "postgres://")):
        parts = urlsplit(dsn)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        netloc = parts.netloc.rpartition("@")[2]
        if "," in netloc:
            return None, None  # several hosts: libpq picks one at connect time
        host = query.get("host") or (unquote(parts.hostname) if parts.hostname else None)
        try:
            port = query.get("port") or (str(parts.port) if parts.port else None)
        except ValueError:
            return None, None
        return host, port
    pairs = {k: v.strip("'").replace("\\'", "'") for k, v in _KEYVALUE.findall(dsn)}
    return pairs.get("host") or pairs.get("hostaddr"), pairs.get("port")


def store_address(store_name: str, store_config: Mapping[str, Any] | None) -> tuple[str, int] | None:
    """(host, port) the store's client would connect to; None when unknown or not TCP/socket.

    For pgvector the host may be a Unix socket directory (a path).
    """
    engine = ENGINES.get(store_name)
    if store_name not in STORE_SERVICES or engine is None or engine.client_port is None:
        return None
    default_port = engine.client_port
    address = engine.address(store_config)
    if not isinstance(address, str) or not address:
        return None
    if store_name == "pgvector":
        host, port = _pg_host_port(address)
        host = host or os.environ.get("PGHOST")
        port = port or os.environ.get("PGPORT")
        if not host or "," in host:
            return None  # libpq's default socket directory: not where a vecbench service listens
        try:
            return host, int(port) if port else default_port
        except ValueError:
            return None
    parts = urlsplit(address)
    if parts.scheme not in ("http", "https", "tcp", "grpc", "redis", "rediss") or not parts.hostname:
        return None  # e.g. redis unix:// sockets: the redis service listens on TCP only
    try:
        url_port = parts.port
    except ValueError:
        return None
    if url_port is None and parts.scheme == "https":
        url_port = 443
    return parts.hostname, url_port or default_port


def _is_local(store_name: str, host: str, svc: Service) -> bool:
    if host.startswith("/"):
        return store_name == "pgvector" and _same_path(host, svc.home() / "run")
    return host.strip("[]").lower() in _LOOPBACK


def _same_path(a: str, b: Path) -> bool:
    try:
        return Path(a).resolve() == b.resolve()
    except OSError:
        return False


def local_service(store_name: str, store_config: Mapping[str, Any] | None) -> tuple[Service, State] | None:
    """The running ``vecbench services`` service the store's address points at, or None."""
    service_name = STORE_SERVICES.get(store_name)
    address = store_address(store_name, store_config)
    if service_name is None or address is None:
        return None
    from vecbench.services.manager import SERVICES, running_state

    svc = SERVICES[service_name]
    host, port = address
    if not _is_local(store_name, host, svc):
        return None
    state = running_state(svc)
    if state is None or state.port != port:
        return None
    return svc, state


def process_tree(pid: int) -> list[int]:
    """PID, its live descendants (by parent pid) and the live members of its process group.

    A service runs in its own session with the server as group leader; children that left
    the group (a daemonizing helper) are still found through their parent pid.
    """
    parents: dict[int, int] = {}
    groups: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _proc._stat_fields(int(entry))
        if fields is None or fields[0] in ("Z", "X"):
            continue
        parents[int(entry)] = int(fields[1])
        groups[int(entry)] = int(fields[2])
    found = {pid} if pid in parents else set()
    found.update(p for p, g in groups.items() if g == pid)
    frontier = list(found)
    while frontier:
        parent = frontier.pop()
        for child, ppid in parents.items():
            if ppid == parent and child not in found:
                found.add(child)
                frontier.append(child)
    return sorted(found)


def tree_rss_bytes(pid: int) -> tuple[int, list[int]]:
    """(sum of VmRSS over ``process_tree(pid)``, the pids summed)."""
    pids = process_tree(pid)
    return _proc.rss_bytes(pids), pids


def pss_bytes(pids: list[int]) -> int | None:
    """Sum of the proportional set sizes of PIDS (``/proc/PID/smaps_rollup``), None if unreadable.

    Shared pages (Postgres's shared buffers, libraries) are split among the processes that
    map them, so the sum counts them once, unlike a sum of RSS.
    """
    total = 0
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue  # exited since the tree was listed
        except OSError:
            return None  # not ours to read (another user without ptrace rights), or no such file
        for line in text.splitlines():
            if line.startswith("Pss:"):
                total += int(line.split()[1]) * 1024
                break
    return total


def service_footprint(store_name: str, store_config: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """RSS of the engine's process tree when ``vecbench services`` started it on this machine.

    Returns ``{"name", "pid", "rss_bytes", "pss_bytes", "method"}``, or None when the store is embedded,
    points to another machine or to a server not started by ``vecbench services``, or that
    service is not running.
    """
    found = local_service(store_name, store_config)
    if found is None:
        return None
    svc, state = found
    rss, pids = tree_rss_bytes(state.pid)
    if not pids:
        return None  # exited between the state check and the read
    return {
        "name": svc.name,
        "pid": state.pid,
        "rss_bytes": rss,
        "pss_bytes": pss_bytes(pids),
        "method": (
            f"sum of VmRSS (/proc/PID/status) over the {len(pids)} process(es) of the tree of pid "
            f"{state.pid} (descendants and process group) started by vecbench services: the whole "
            "engine with every collection in it; rss counts shared pages in each process that maps "
            "them, pss (smaps_rollup) splits them, so it counts them once"
        ),
    }


def service_pid(store_name: str, store_config: Mapping[str, Any] | None) -> int | None:
    """The pid of the engine serving this store when ``vecbench services`` started it on this
    machine (its process tree is the server's), else None."""
    found = local_service(store_name, store_config)
    return None if found is None else found[1].pid


def with_service(
    footprint: Mapping[str, Any] | None, store_name: str, store_config: Mapping[str, Any] | None
) -> dict[str, Any]:
    """A record's footprint: the engine's own figures plus ``service`` (``service_footprint``).

    A store without figures of its own gets None sizes and says so in ``method``; a failure
    to read the service is a missing figure (``service: None``), never a failed benchmark.
    """
    import warnings

    out: dict[str, Any] = (
        dict(footprint)
        if footprint
        else {
            "memory_bytes": None,
            "disk_bytes": None,
            "method": "the store reports no footprint",
        }
    )
    try:
        out["service"] = service_footprint(store_name, store_config)
    except Exception as exc:  # noqa: BLE001 - a missing figure is not a failed benchmark
        warnings.warn(f"{store_name}: reading the service's RSS failed: {exc}", stacklevel=2)
        out["service"] = None
    return out
