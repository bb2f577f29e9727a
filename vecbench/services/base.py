"""What a local service is: the pieces each engine fills in, and the files it keeps.

A service keeps everything under ``$VECBENCH_CACHE/services/NAME``:

- ``data/``          the engine's data directory
- ``service.log``    the server's stdout and stderr (the previous run's is ``service.log.1``)
- ``service.pid``    the server's pid (also its process group: it runs in its own session)
- ``state.json``     pid, ports, URL, start time: what ``status``, ``env`` and ``down`` read
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import sys
import sysconfig
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from vecbench.engines import Engine
from vecbench.errors import ConfigError, MissingDependencyError
from vecbench.util.paths import cache_dir

INSTALL_SCRIPT = "scripts/install-engines.sh"

Note = Callable[[str], None]


class EngineNotInstalledError(MissingDependencyError):
    """A server package (not a client library) that is missing, with how to install it."""

    def __init__(self, package: str, message: str) -> None:
        self.package = package
        self.extra = ""
        Exception.__init__(self, message)


@dataclass
class State:
    """What ``up`` records about a running service (``state.json``)."""

    name: str
    pid: int
    start_ticks: int | None
    port: int
    url: str
    env_var: str
    started_at: float
    command: list[str]
    ports: dict[str, int] = field(default_factory=dict)
    ready_s: float | None = None
    user: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> State:
        raw = json.loads(text)
        known = {k: raw[k] for k in cls.__dataclass_fields__ if k in raw}
        return cls(**known)


@dataclass
class Launch:
    """How to start the server process."""

    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)  # added to (a copy of) os.environ
    cwd: Path | None = None
    user: str | None = None  # run as this system user (needs root)
    ports: dict[str, int] = field(default_factory=dict)  # extra ports worth showing


class Service:
    """One engine. Subclasses fill in the class attributes and the hooks below.

    ``engine`` (from ``vecbench.engines``) gives the name, the variable ``env`` prints (the
    one the adapter reads), the default port and the variable that moves it.
    """

    engine: ClassVar[Engine]
    package: str = ""  # the pip distribution that carries the server
    module: str = ""  # its import name (found with find_spec, never imported here)
    stop_signal: int = signal.SIGTERM
    start_timeout: float = 30.0
    stop_grace: float = 10.0
    notes: str = ""  # shown by ``status``: anything surprising about the engine

    # -- where things are --------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.engine.service

    @property
    def env_var(self) -> str:
        """The variable adapters read, e.g. VECBENCH_CHROMA_URL."""
        return self.engine.env_var

    @property
    def default_port(self) -> int:
        if self.engine.service_port is None:
            raise ConfigError(f"{self.engine.name} has no local service port (it runs in docker compose)")
        return self.engine.service_port

    @property
    def port_var(self) -> str:
        return self.engine.port_var

    def port(self) -> int:
        raw = os.environ.get(self.port_var)
        if not raw:
            return self.default_port
        try:
            port = int(raw)
        except ValueError:
            raise ConfigError(f"{self.port_var}={raw!r} is not a port number") from None
        if not 0 < port < 65536:
            raise ConfigError(f"{self.port_var}={port} is not a port number (1-65535)")
        return port

    def home(self) -> Path:
        return cache_dir() / "services" / self.name

    def data_dir(self) -> Path:
        return self.home() / "data"

    def log_file(self) -> Path:
        return self.home() / "service.log"

    def pid_file(self) -> Path:
        return self.home() / "service.pid"

    def state_file(self) -> Path:
        return self.home() / "state.json"

    # -- hooks -------------------------------------------------------------------------
    def package_dir(self) -> Path:
        """The installed package's directory; raises EngineNotInstalledError when absent."""
        spec = importlib.util.find_spec(self.module) if self.module else None
        if spec is None or not spec.submodule_search_locations:
            raise EngineNotInstalledError(
                self.package,
                f"{self.name}: the server package {self.package!r} is not installed in {sys.prefix}; "
                f"run {INSTALL_SCRIPT} (or pip install {self.package})",
            )
        return Path(next(iter(spec.submodule_search_locations)))

    def check_installed(self) -> None:
        """Raise EngineNotInstalledError (naming what to install) when the server can't run."""
        self.package_dir()

    def prepare(self, note: Note) -> None:
        """First-start work (init a data dir, unpack binaries); idempotent."""

    def launch(self, port: int) -> Launch:
        raise NotImplementedError

    def healthy(self, state: State) -> bool:
        raise NotImplementedError

    def after_ready(self, state: State, note: Note) -> None:
        """Work once the server answers (create a database, check a module)."""

    def url(self, port: int) -> str:
        return f"http://127.0.0.1:{port}"

    def startup_failure_hint(self, log_lines: list[str]) -> str | None:
        """A clearer explanation of a start that failed, read from the log's last lines."""
        return None


class ExternalService:
    """An engine with no local route on this kind of machine: point at a server instead."""

    def __init__(self, engine: Engine, why: str) -> None:
        self.engine = engine
        self.name = engine.service
        self.env_var = engine.env_var
        self.compose_url = engine.compose_url
        self.why = why

    def message(self) -> str:
        return (
            f"{self.name} cannot be started by vecbench services ({self.why}); set {self.env_var} "
            f"to a running server, or start it with docker compose ({self.env_var}={self.compose_url})"
        )


def scripts_dir() -> Path:
    """The running interpreter's scripts (bin) directory."""
    return Path(sysconfig.get_path("scripts"))


def package_version(dist: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def describe(state: State) -> dict[str, Any]:
    return asdict(state)
