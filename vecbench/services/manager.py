"""Start, stop and inspect local services; state lives in files, so any process can ask."""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vecbench.engines import ENGINES
from vecbench.errors import ConfigError, NotReadyError, StoreError, UnknownNameError
from vecbench.services import _proc
from vecbench.services.base import ExternalService, Launch, Note, Service, State
from vecbench.services.chroma import ChromaService
from vecbench.services.elasticsearch import ElasticsearchService
from vecbench.services.milvus import MilvusService
from vecbench.services.opensearch import OpenSearchService
from vecbench.services.pgvector import PgvectorService
from vecbench.services.redis import RedisService
from vecbench.services.weaviate import WeaviateService

SERVICES: dict[str, Service] = {
    s.name: s
    for s in (
        ChromaService(),
        MilvusService(),
        PgvectorService(),
        RedisService(),
        ElasticsearchService(),
        OpenSearchService(),
        WeaviateService(),
    )
}
# Why an engine has no local route, where it is not the usual one.
_NO_LOCAL_ROUTE = {
    "pinecone": "a cloud service; Pinecone Local, its emulator, is only a Docker image",
}
# Engines with no local route (no service port in vecbench.engines): docker compose only.
EXTERNAL: dict[str, ExternalService] = {
    e.service: ExternalService(
        e, _NO_LOCAL_ROUTE.get(e.name, "no server package on PyPI, Debian or Maven Central")
    )
    for e in ENGINES.values()
    if not e.local
}
ALIASES = {"es": "elasticsearch", "os": "opensearch", "pg": "pgvector", "postgres": "pgvector"}
# Servers this process started: kept so that they are reaped (no zombie, no ResourceWarning).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def _quiet(_: str) -> None:
    pass


def all_names() -> list[str]:
    return [*SERVICES, *EXTERNAL]


def resolve(name: str) -> Service | ExternalService:
    key = ALIASES.get(name.lower(), name.lower())
    if key in SERVICES:
        return SERVICES[key]
    if key in EXTERNAL:
        return EXTERNAL[key]
    raise UnknownNameError("service", name, all_names())


def get_service(name: str) -> Service:
    """The local service NAME; ConfigError for an engine with no local route."""
    svc = resolve(name)
    if isinstance(svc, ExternalService):
        raise ConfigError(svc.message())
    return svc


# -- state files -------------------------------------------------------------------------
def read_state(svc: Service) -> State | None:
    try:
        return State.from_json(svc.state_file().read_text())
    except FileNotFoundError:
        return None
    except (ValueError, TypeError, KeyError) as exc:
        raise StoreError(f"{svc.name}: unreadable state file {svc.state_file()}: {exc}") from exc


def _write_state(svc: Service, state: State) -> None:
    svc.home().mkdir(parents=True, exist_ok=True)
    tmp = svc.state_file().with_suffix(".tmp")
    tmp.write_text(state.to_json())
    os.replace(tmp, svc.state_file())
    svc.pid_file().write_text(f"{state.pid}\n")


def _clear_state(svc: Service) -> None:
    for path in (svc.state_file(), svc.pid_file()):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def running_state(svc: Service) -> State | None:
    """The recorded state when its server process still runs; a stale record is removed."""
    state = read_state(svc)
    if state is None:
        return None
    if _proc.is_alive(state.pid, state.start_ticks) or _proc.group_members(state.pid):
        return state
    _clear_state(svc)
    return None


# -- up ----------------------------------------------------------------------------------
@dataclass
class Started:
    name: str
    state: State
    already: bool = False
    ready_s: float = 0.0
    rss: int = 0
    notes: list[str] = field(default_factory=list)


def _rotate_log(path: Path) -> None:
    if path.exists():
        os.replace(path, path.with_name(path.name + ".1"))


def _spawn(svc: Service, launch: Launch) -> subprocess.Popen[bytes]:
    env = {**os.environ, **launch.env}
    kwargs: dict[str, Any] = {}
    if launch.user:
        import pwd

        pw = pwd.getpwnam(launch.user)
        kwargs.update(user=pw.pw_uid, group=pw.pw_gid, extra_groups=[])
        env.update(
            HOME=pw.pw_dir if os.path.isdir(pw.pw_dir) else str(svc.home()),
            USER=launch.user,
            LOGNAME=launch.user,
        )
    _rotate_log(svc.log_file())
    with open(svc.log_file(), "ab") as log:
        log.write(f"# vecbench services up {svc.name} at {time.ctime()}: {' '.join(launch.argv)}\n".encode())
        log.flush()
        return subprocess.Popen(  # noqa: S603 - argv built from installed package paths
            launch.argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=str(launch.cwd) if launch.cwd else None,
            start_new_session=True,
            close_fds=True,
            **kwargs,
        )


def _failure(svc: Service, what: str) -> str:
    lines = _proc.tail(svc.log_file(), 8)
    hint = svc.startup_failure_hint(lines)
    if hint:
        return hint
    shown = " | ".join(ln[:200] for ln in lines[-4:]) or "(empty log)"
    return f"{svc.name}: {what}; last log lines: {shown} (log: {svc.log_file()})"


def start(
    svc: Service, timeout: float | None = None, poll: float = _proc.POLL_S, note: Note = _quiet
) -> Started:
    """Start SVC (if not running) and wait until it is healthy; the caller checked it is installed."""
    current = running_state(svc)
    if current is not None:
        if not svc.healthy(current):
            raise StoreError(
                f"{svc.name}: already running (pid {current.pid}) but not healthy; "
                f"see {svc.log_file()} or run vecbench services down {svc.name}"
            )
        return Started(svc.name, current, already=True, rss=_rss(current))
    port = svc.port()
    if _proc.port_open(port):
        holder = _proc.port_holder(port) or "another process"
        raise ConfigError(
            f"{svc.name}: port {port} is already in use by {holder}; set {svc.port_var} to a free port"
        )
    svc.data_dir().mkdir(parents=True, exist_ok=True)
    svc.prepare(note)
    launch = svc.launch(port)
    t0 = time.monotonic()
    try:
        proc = _spawn(svc, launch)
    except OSError as exc:
        raise StoreError(f"{svc.name}: could not run {launch.argv[0]}: {exc}") from exc
    _CHILDREN[proc.pid] = proc
    state = State(
        name=svc.name,
        pid=proc.pid,
        start_ticks=_proc.start_time(proc.pid),
        port=port,
        url=svc.url(port),
        env_var=svc.env_var,
        started_at=time.time(),
        command=launch.argv,
        ports=dict(launch.ports),
        user=launch.user,
    )
    _write_state(svc, state)
    deadline_s = svc.start_timeout if timeout is None else timeout
    exited: list[int] = []

    def ready() -> bool:
        code = proc.poll()
        if code is not None:
            exited.append(code)
            return True
        return svc.healthy(state)

    ok = _proc.wait_until(ready, deadline_s, poll)
    try:
        if exited:
            raise StoreError(_failure(svc, f"exited with code {exited[0]} while starting"))
        if not ok:
            raise NotReadyError(_failure(svc, f"not healthy after {deadline_s:g} s (raise --timeout?)"))
        state.ready_s = round(time.monotonic() - t0, 2)
        svc.after_ready(state, note)
    except BaseException:
        _stop(svc, state, grace=2.0)
        raise
    _write_state(svc, state)
    return Started(svc.name, state, ready_s=state.ready_s or 0.0, rss=_rss(state))


def _rss(state: State) -> int:
    return _proc.rss_bytes(_proc.group_members(state.pid))


# -- down --------------------------------------------------------------------------------
@dataclass
class Stopped:
    name: str
    was_running: bool
    seconds: float = 0.0
    killed: bool = False


def _stop(svc: Service, state: State, grace: float) -> Stopped:
    try:
        killed, seconds = _proc.stop_group(state.pid, svc.stop_signal, grace)
    except TimeoutError as exc:
        raise StoreError(f"{svc.name}: could not stop pid {state.pid}: {exc}") from exc
    child = _CHILDREN.pop(state.pid, None)
    if child is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=5)
    if _proc.is_alive(state.pid, state.start_ticks):
        raise StoreError(f"{svc.name}: pid {state.pid} is still running after SIGKILL")
    # The port is the last check: a process that left our group (daemonized) would still hold it.
    if not _proc.wait_until(lambda: not _proc.port_open(state.port), 5.0):
        raise StoreError(
            f"{svc.name}: stopped pid {state.pid}, but port {state.port} still accepts connections"
        )
    _clear_state(svc)
    return Stopped(svc.name, True, round(seconds, 2), killed)


def stop(svc: Service, grace: float | None = None) -> Stopped:
    state = running_state(svc)
    if state is None:
        return Stopped(svc.name, False)
    return _stop(svc, state, svc.stop_grace if grace is None else grace)


# -- status / env ------------------------------------------------------------------------
@dataclass
class Status:
    name: str
    running: bool
    healthy: bool = False
    pid: int | None = None
    port: int | None = None
    url: str | None = None
    uptime_s: float | None = None
    rss: int = 0
    ports: dict[str, int] = field(default_factory=dict)
    log: str = ""
    log_tail: list[str] = field(default_factory=list)
    notes: str = ""


def status(svc: Service, lines: int = 3) -> Status:
    state = running_state(svc)
    tail = _proc.tail(svc.log_file(), lines)
    if state is None:
        return Status(
            svc.name, False, port=svc.port(), log=str(svc.log_file()), log_tail=tail, notes=svc.notes
        )
    return Status(
        svc.name,
        True,
        healthy=svc.healthy(state),
        pid=state.pid,
        port=state.port,
        url=state.url,
        uptime_s=time.time() - state.started_at,
        rss=_rss(state),
        ports=state.ports,
        log=str(svc.log_file()),
        log_tail=tail,
        notes=svc.notes,
    )


def env_lines(names: Iterable[str] | None = None) -> list[str]:
    """``export VAR=URL`` for each running local service (of NAMES, default all)."""
    out = []
    for svc in SERVICES.values() if names is None else [get_service(n) for n in names]:
        state = running_state(svc)
        if state is not None:
            out.append(f"export {state.env_var}={shlex.quote(state.url)}")
    return out
