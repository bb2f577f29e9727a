"""Connecting to a Ray cluster and describing it: the address checked before any work,
the CPUs counted against what a run asks, the cluster's shape for the records.

    ray = require_ray()                      # MissingDependencyError without vecbench[ray]
    connect("10.0.0.5:6379")                 # ConfigError at once if nothing answers there
    info = cluster_info()                    # {"ray_version", "nodes": [...], "cpus": ...}
    check_cpus(8, "8 open-loop load actors") # ConfigError when the cluster has fewer CPUs
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

from vecbench.errors import ConfigError, MissingDependencyError

__all__ = ["require_ray", "connect", "cluster_info", "check_cpus", "alive_nodes", "CONNECT_TIMEOUT_S"]

CONNECT_TIMEOUT_S = 5.0  # one TCP connect to the head's GCS port; Ray's own retries take minutes


def require_ray() -> Any:
    """The ``ray`` module; MissingDependencyError naming the extra when it is not installed."""
    try:
        import ray
    except ImportError:
        raise MissingDependencyError("ray", "ray") from None
    return ray


def _host_port(address: str) -> tuple[str, int] | None:
    """(host, port) of a ``host:port`` address; None for ``auto``/``local`` (Ray resolves those)."""
    if address in ("auto", "local"):
        return None
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ConfigError(f"ray address {address!r} is not host:port (e.g. 10.0.0.5:6379), 'auto' or 'local'")
    return host.strip("[]"), int(port)


def _check_reachable(address: str) -> None:
    target = _host_port(address.removeprefix("ray://"))
    if target is None:
        return
    try:
        with socket.create_connection(target, timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(
            f"ray address {address} is unreachable ({reason}); start the head with "
            "'ray start --head' and pass its address, or drop --ray-address for a local cluster"
        ) from None


def connect(address: str | None = None, *, num_cpus: int | None = None) -> Any:
    """Join the cluster at ``address`` (None: this process's cluster if one is joined, else a
    local one started here with ``num_cpus``). The address is checked with one quick TCP
    connect first, so an unreachable head is a ConfigError before any work."""
    ray = require_ray()
    if ray.is_initialized():
        return ray
    if address is None:
        address = os.environ.get("RAY_ADDRESS") or None
    if address is not None:
        _check_reachable(address)
    # Ray's own INFO/WARNING lines on joining would break the CLI's one-line errors.
    kwargs: dict[str, Any] = {
        "ignore_reinit_error": True,
        "log_to_driver": False,
        "logging_level": logging.ERROR,
    }
    if address is None:
        kwargs.update(num_cpus=num_cpus, include_dashboard=False)
    try:
        ray.init(address=address, **kwargs)
    except ConnectionError as exc:
        raise ConfigError(f"cannot join the Ray cluster at {address}: {exc}") from None
    return ray


def alive_nodes() -> list[dict[str, Any]]:
    """The cluster's live nodes: ``{"node_id", "cpus"}`` each, in Ray's order."""
    ray = require_ray()
    out = []
    for node in ray.nodes():
        if node.get("Alive"):
            cpus = node.get("Resources", {}).get("CPU", 0)
            out.append({"node_id": str(node["NodeID"]), "cpus": float(cpus)})
    return out


def cluster_info() -> dict[str, Any]:
    """What the records say about the cluster: Ray's version, its live nodes and their CPUs."""
    ray = require_ray()
    nodes = alive_nodes()
    return {
        "executor": "ray",
        "ray_version": ray.__version__,
        "nodes": len(nodes),
        "cpus_per_node": [n["cpus"] for n in nodes],
        "node_ids": [n["node_id"] for n in nodes],
    }


def check_cpus(needed: int, what: str) -> None:
    """ConfigError, before any work, when the cluster's CPUs are fewer than ``needed``."""
    total = sum(n["cpus"] for n in alive_nodes())
    if total < needed:
        raise ConfigError(
            f"the Ray cluster has {total:g} CPU(s) on {len(alive_nodes())} node(s), fewer than the "
            f"{needed} that {what} need; add nodes or ask for fewer workers"
        )
