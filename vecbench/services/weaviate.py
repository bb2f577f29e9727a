"""Weaviate: ``weaviate-server`` built once with ``go install`` at a pinned tag, then run directly.

Weaviate publishes no server package on PyPI or Debian, but its module builds with the
machine's Go toolchain (its go.mod has no replace directives), through the Go module proxy
the machine's own Go environment names. The binary lands in a build cache of its own,
``$VECBENCH_BUILD_CACHE`` (default ``$VECBENCH_CACHE/build``), as
``weaviate-<tag>/weaviate-server``, with ``build.json`` saying what built it and how long it
took; a second ``up`` builds nothing. Go's own module and build caches are the machine's.

The server runs as a single node: anonymous access, no vectorizer module, telemetry off,
asynchronous indexing on (the ``dynamic`` index needs it, and ``wait_ready`` then times the
HNSW build), its data under ``$VECBENCH_CACHE/services/weaviate/data``. Ports: HTTP from
``VECBENCH_WEAVIATE_PORT`` (bound to 127.0.0.1), gRPC from ``VECBENCH_WEAVIATE_GRPC_PORT``,
Prometheus metrics (read by the adapter's footprint) from ``VECBENCH_WEAVIATE_METRICS_PORT``;
the cluster's gossip, data and Raft ports are free ports kept from one start to the next
(Raft remembers its address).

Surprises (also shown by ``vecbench services status``): Weaviate listens on all interfaces
for gRPC, the cluster data port and the metrics port (no bind option); the HTTP API, gossip
and Raft listen on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from vecbench.engines import ENGINES
from vecbench.errors import ConfigError, StoreError
from vecbench.services._proc import free_port, http_get, port_open
from vecbench.services.base import EngineNotInstalledError, Launch, Note, Service, State
from vecbench.util.paths import cache_dir

WEAVIATE_TAG = "v1.35.2"  # its go.mod asks for go 1.25
GO_PACKAGE = "github.com/weaviate/weaviate/cmd/weaviate-server"
MIN_GO = (1, 25)
BUILD_CACHE_VAR = "VECBENCH_BUILD_CACHE"
GRPC_PORT_VAR = "VECBENCH_WEAVIATE_GRPC_PORT"
METRICS_PORT_VAR = "VECBENCH_WEAVIATE_METRICS_PORT"
DEFAULT_GRPC_PORT = 15051
BUILD_TIMEOUT_S = 3600.0
# Weaviate finds a node's data port at gossip + 1 and its Raft RPC port at raft + 1.
INTERNAL_PORTS = ("gossip", "data", "raft", "raft_rpc")
GO_HINT = (
    "install Go 1.25 or newer (the Go toolchain from its project's downloads or your distribution's "
    "backports; `go version` must answer), then rerun"
)


def build_root() -> Path:
    """Where built servers are kept: ``$VECBENCH_BUILD_CACHE``, else ``$VECBENCH_CACHE/build``."""
    raw = os.environ.get(BUILD_CACHE_VAR)
    return Path(raw).expanduser() if raw else cache_dir() / "build"


def server_binary() -> Path:
    return build_root() / f"weaviate-{WEAVIATE_TAG}" / "weaviate-server"


def build_record() -> dict[str, object] | None:
    """What ``build.json`` says about the built binary (tag, Go version, seconds), or None."""
    try:
        return json.loads((server_binary().parent / "build.json").read_text())  # type: ignore[no-any-return]
    except (FileNotFoundError, ValueError):
        return None


def go_version(go: str) -> tuple[int, int] | None:
    """(major, minor) of the Go toolchain ``go`` (``go env GOVERSION``), or None."""
    try:
        out = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.match(r"go(\d+)\.(\d+)", out.stdout.strip())
    return (int(m.group(1)), int(m.group(2))) if m else None


def find_go() -> str:
    """The ``go`` command, new enough to build the pinned tag; EngineNotInstalledError otherwise."""
    go = shutil.which("go")
    if go is None:
        raise EngineNotInstalledError(
            "go", f"weaviate: building the server needs the Go toolchain; {GO_HINT}"
        )
    got = go_version(go)
    if got is None or got < MIN_GO:
        shown = "unknown" if got is None else f"{got[0]}.{got[1]}"
        raise EngineNotInstalledError(
            "go", f"weaviate {WEAVIATE_TAG} needs Go >= {MIN_GO[0]}.{MIN_GO[1]}, {go} is {shown}; {GO_HINT}"
        )
    return go


def build_server(note: Note, timeout_s: float = BUILD_TIMEOUT_S) -> Path:
    """``go install`` the pinned tag into the build cache (once); returns the binary's path."""
    target = server_binary()
    if target.exists():
        return target
    go = find_go()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    log = target.parent / "build.log"
    note(f"weaviate: building {GO_PACKAGE}@{WEAVIATE_TAG} with {go} (first start only; minutes on 2 cores)")
    env = {**os.environ, "GOBIN": str(staging)}
    t0 = time.monotonic()
    try:
        with open(log, "wb") as out:
            proc = subprocess.run(  # noqa: S603 - fixed argv
                ["nice", "-n", "10", go, "install", f"{GO_PACKAGE}@{WEAVIATE_TAG}"],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=str(staging),
                timeout=timeout_s,
            )
    except subprocess.TimeoutExpired:
        shutil.rmtree(staging, ignore_errors=True)
        raise StoreError(f"weaviate: go install did not finish in {timeout_s:g} s (log: {log})") from None
    seconds = time.monotonic() - t0
    built = staging / "weaviate-server"
    if proc.returncode != 0 or not built.exists():
        tail = " | ".join(log.read_text(errors="replace").strip().splitlines()[-4:])
        shutil.rmtree(staging, ignore_errors=True)
        raise StoreError(f"weaviate: go install failed (exit {proc.returncode}): {tail} (log: {log})")
    os.replace(built, target)
    shutil.rmtree(staging, ignore_errors=True)
    record = {
        "tag": WEAVIATE_TAG,
        "package": GO_PACKAGE,
        "go": str(go_version(go)),
        "build_s": round(seconds, 1),
    }
    (target.parent / "build.json").write_text(json.dumps(record))
    note(f"weaviate: built in {seconds:.0f} s -> {target}")
    return target


def _port_from(var: str, default: int) -> int:
    raw = os.environ.get(var)
    if not raw:
        return default
    try:
        port = int(raw)
    except ValueError:
        raise ConfigError(f"{var}={raw!r} is not a port number") from None
    if not 0 < port < 65536:
        raise ConfigError(f"{var}={port} is not a port number (1-65535)")
    return port


def _free_pair(tries: int = 50) -> int:
    """A port P with P and P + 1 both free."""
    for _ in range(tries):
        port = free_port()
        if port < 65535 and not port_open(port + 1):
            return port
    raise StoreError("weaviate: found no two free consecutive ports for its cluster")


class WeaviateService(Service):
    engine = ENGINES["weaviate"]
    package = "weaviate-server"
    start_timeout = 60.0
    stop_grace = 20.0
    notes = (
        "gRPC, the cluster data port and the metrics port listen on all interfaces (Weaviate has no "
        "bind option for them); HTTP, gossip and Raft on 127.0.0.1"
    )

    def check_installed(self) -> None:
        if not server_binary().exists():
            find_go()  # it will be built at the first start: say now if it cannot be

    def grpc_port(self) -> int:
        return _port_from(GRPC_PORT_VAR, DEFAULT_GRPC_PORT)

    def _saved_ports(self) -> dict[str, int]:
        """The cluster ports of the last start when all are still free, else new free ones."""
        saved = self.home() / "ports.json"
        try:
            ports = {k: int(v) for k, v in json.loads(saved.read_text()).items()}
            pairs_ok = ports["data"] == ports["gossip"] + 1 and ports["raft_rpc"] == ports["raft"] + 1
            if pairs_ok and not any(port_open(p) for p in ports.values()):
                return ports
        except (FileNotFoundError, ValueError, AttributeError, KeyError):
            pass
        gossip, raft = _free_pair(), _free_pair()
        ports = {
            "gossip": gossip,
            "data": gossip + 1,
            "raft": raft,
            "raft_rpc": raft + 1,
            "metrics": free_port(),
        }
        saved.write_text(json.dumps(ports))
        return ports

    def prepare(self, note: Note) -> None:
        build_server(note)
        grpc = self.grpc_port()
        if port_open(grpc):
            raise ConfigError(
                f"weaviate: gRPC port {grpc} is already in use by another process; set {GRPC_PORT_VAR} to a free port"
            )

    def launch(self, port: int) -> Launch:
        ports = self._saved_ports()
        ports["metrics"] = _port_from(METRICS_PORT_VAR, ports["metrics"])
        grpc = self.grpc_port()
        env = {
            "PERSISTENCE_DATA_PATH": str(self.data_dir()),
            "AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED": "true",
            "DEFAULT_VECTORIZER_MODULE": "none",
            "ENABLE_MODULES": "",
            "API_BASED_MODULES_DISABLED": "true",  # 1.35 enables the cloud-API vectorizers by default
            "DISABLE_TELEMETRY": "true",
            "ASYNC_INDEXING": "true",
            "GRPC_PORT": str(grpc),
            "CLUSTER_HOSTNAME": "vecbench",
            "CLUSTER_IN_LOCALHOST": "true",
            "CLUSTER_BIND_ADDR": "127.0.0.1",
            "CLUSTER_ADVERTISE_ADDR": "127.0.0.1",
            "CLUSTER_GOSSIP_BIND_PORT": str(ports["gossip"]),
            "CLUSTER_DATA_BIND_PORT": str(ports["data"]),
            "RAFT_PORT": str(ports["raft"]),
            "RAFT_INTERNAL_RPC_PORT": str(ports["raft_rpc"]),
            "RAFT_BOOTSTRAP_EXPECT": "1",
            "GO_PROFILING_DISABLE": "true",
            "PROMETHEUS_MONITORING_ENABLED": "true",
            "PROMETHEUS_MONITORING_PORT": str(ports["metrics"]),
            "LOG_LEVEL": "info",
        }
        argv = [str(server_binary()), "--scheme", "http", "--host", "127.0.0.1", "--port", str(port)]
        argv += ["--read-timeout", "600s", "--write-timeout", "600s"]
        return Launch(argv, env=env, cwd=self.home(), ports={"grpc": grpc, **ports})

    def url(self, port: int) -> str:
        return f"http://127.0.0.1:{port}?grpc_port={self.grpc_port()}"

    def healthy(self, state: State) -> bool:
        got = http_get(f"http://127.0.0.1:{state.port}/v1/.well-known/ready")
        return bool(got and got[0] == 200) and port_open(int(state.ports.get("grpc", 0)))

    def startup_failure_hint(self, log_lines: list[str]) -> str | None:
        for line in log_lines:
            if "address already in use" in line:
                return f"weaviate: a port it needs is taken ({line[:200]}); free it or move it with {GRPC_PORT_VAR}"
        return None
