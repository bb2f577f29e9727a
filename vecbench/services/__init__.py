"""Real engines started locally from pip packages, without Docker: ``vecbench services``.

``up`` starts a server detached (its own session and process group), writes its pid and
state under ``$VECBENCH_CACHE/services/NAME`` and waits until it answers; ``down`` stops the
whole process group (the engine's stop signal, a grace period, then SIGKILL) and checks that
nothing is left; ``status`` and ``env`` read the state files, so they work from any process.

The variables ``env`` prints are the ones the adapters read, and the ones a docker compose
setup sets, so code and tests do not care which one runs the engine.

No engine client is imported here; server packages are located with ``find_spec``.
"""

from __future__ import annotations

from vecbench.services.base import INSTALL_SCRIPT, EngineNotInstalledError, ExternalService, Service, State
from vecbench.services.manager import (
    EXTERNAL,
    SERVICES,
    Started,
    Status,
    Stopped,
    all_names,
    env_lines,
    get_service,
    read_state,
    resolve,
    running_state,
    start,
    status,
    stop,
)

__all__ = [
    "EXTERNAL",
    "INSTALL_SCRIPT",
    "SERVICES",
    "EngineNotInstalledError",
    "ExternalService",
    "Service",
    "Started",
    "State",
    "Status",
    "Stopped",
    "all_names",
    "env_lines",
    "get_service",
    "read_state",
    "resolve",
    "running_state",
    "start",
    "status",
    "stop",
]
