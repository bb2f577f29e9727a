"""``vecbench services up|down|status|env``: real engines started locally, without Docker.

``up`` prints progress on stderr and the ``export VAR=URL`` lines on stdout, so both
``vecbench services up chroma`` and ``eval "$(vecbench services up chroma)"`` work.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from typing import Any

ACTIONS = ("up", "down", "status", "env")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Subcommands of ``vecbench services`` (no import of the services package)."""
    names_help = (
        "chroma, milvus, pgvector, redis, elasticsearch, opensearch, weaviate (qdrant, pinecone: compose)"
    )
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=type(p))
    up = sub.add_parser("up", help="start engines and wait until they answer")
    up.add_argument("names", nargs="+", metavar="NAME", help=names_help)
    up.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="S",
        help="seconds to wait for each engine to be healthy (default per engine: 20-120)",
    )
    down = sub.add_parser("down", help="stop engines (default: all running)")
    down.add_argument("names", nargs="*", metavar="NAME", help=names_help)
    down.add_argument(
        "--timeout",
        "--grace",
        dest="timeout",
        type=float,
        default=None,
        metavar="S",
        help="seconds to wait after the stop signal before SIGKILL (default per engine: 10-15)",
    )
    st = sub.add_parser("status", help="running?, pid, port, URL, uptime, memory, last log lines")
    st.add_argument("names", nargs="*", metavar="NAME", help=names_help)
    st.add_argument("--lines", type=int, default=3, metavar="N", help="log lines to show (default 3)")
    st.add_argument("--json", action="store_true", help="machine-readable output")
    env = sub.add_parser(
        "env", help='print export lines for running engines (eval "$(vecbench services env)")'
    )
    env.add_argument("names", nargs="*", metavar="NAME", help=names_help)


def _err(msg: str) -> None:
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.0f} MiB"


def _uptime(s: float | None) -> str:
    if s is None:
        return "-"
    s = int(s)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def _local(names: list[str]) -> list[Any]:  # list[Service]
    from vecbench.services import get_service

    seen: dict[str, Any] = {}
    for n in names:
        svc = get_service(n)
        seen.setdefault(svc.name, svc)
    return list(seen.values())


def _up(args: argparse.Namespace) -> int:
    from vecbench.errors import StoreError, VecbenchError
    from vecbench.services import start

    services = _local(args.names)  # every name is checked before anything starts
    for svc in services:
        svc.check_installed()
    failed: list[str] = []
    up_names: list[str] = []
    for svc in services:
        _err(f"{svc.name}: starting on 127.0.0.1:{svc.port()} ...")
        try:
            got = start(svc, timeout=args.timeout, note=_err)
        except VecbenchError as exc:
            failed.append(str(exc))
            if len(services) > 1:
                _err(f"{svc.name}: FAILED: {exc}")
            continue
        st = got.state
        if got.already:
            _err(f"{svc.name}: already running at {st.url} (pid {st.pid}, {_mib(got.rss)})")
        else:
            _err(
                f"{svc.name}: up at {st.url} (pid {st.pid}, ready in {got.ready_s:.1f} s, "
                f"{_mib(got.rss)} RSS, log {svc.log_file()})"
            )
        if svc.notes:
            _err(f"{svc.name}: note: {svc.notes}")
        up_names.append(svc.name)
        print(f"export {st.env_var}={shlex.quote(st.url)}", flush=True)
    if failed:
        if up_names:
            _err(f"still running: {', '.join(up_names)} (vecbench services down to stop)")
        raise StoreError(
            failed[0] if len(failed) == 1 else f"{len(failed)} engines failed to start: " + "; ".join(failed)
        )
    return 0


def _down(args: argparse.Namespace) -> int:
    from vecbench.services import SERVICES, read_state, stop

    if args.names:
        services = _local(args.names)
    else:
        services = [s for s in SERVICES.values() if read_state(s) is not None]
        if not services:
            _err("no engine is running")
            return 0
    for svc in services:
        got = stop(svc, grace=args.timeout)
        if not got.was_running:
            _err(f"{svc.name}: not running")
        else:
            how = "killed (SIGKILL after the grace period)" if got.killed else "stopped"
            _err(f"{svc.name}: {how} in {got.seconds:.1f} s")
    return 0


def _status(args: argparse.Namespace) -> int:
    from vecbench.services import EXTERNAL, SERVICES, resolve, status
    from vecbench.services.base import ExternalService

    targets: list[Any] = (
        [resolve(n) for n in args.names] if args.names else [*SERVICES.values(), *EXTERNAL.values()]
    )
    rows: list[dict[str, Any]] = []
    for t in targets:
        if isinstance(t, ExternalService):
            rows.append({"name": t.name, "running": None, "env_var": t.env_var, "note": t.message()})
            continue
        s = status(t, lines=args.lines)
        rows.append(
            {
                "name": s.name,
                "running": s.running,
                "healthy": s.healthy,
                "pid": s.pid,
                "port": s.port,
                "url": s.url,
                "uptime_s": None if s.uptime_s is None else round(s.uptime_s, 1),
                "rss_bytes": s.rss,
                "ports": s.ports,
                "log": s.log,
                "log_tail": s.log_tail,
                "env_var": t.env_var,
                "note": s.notes,
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        if r["running"] is None:
            print(f"{r['name']:<14} n/a      {r['note']}")
            continue
        if not r["running"]:
            print(f"{r['name']:<14} stopped  (port {r['port']})")
        else:
            health = "healthy" if r["healthy"] else "NOT HEALTHY"
            print(
                f"{r['name']:<14} running  {health}  pid {r['pid']}  {r['url']}  up {_uptime(r['uptime_s'])}  "
                f"{_mib(r['rss_bytes'])} RSS"
            )
            if r["ports"]:
                print(f"{'':<14} ports: " + ", ".join(f"{k} {v}" for k, v in r["ports"].items()))
            if r["note"]:
                print(f"{'':<14} note: {r['note']}")
        if r["log_tail"] and (args.names or r["running"]):
            print(f"{'':<14} log {r['log']}:")
            for line in r["log_tail"]:
                print(f"{'':<16}{line[:160]}")
    return 0


def _env(args: argparse.Namespace) -> int:
    from vecbench.services import SERVICES, env_lines, resolve
    from vecbench.services.base import ExternalService

    targets = [resolve(n) for n in args.names] if args.names else list(SERVICES.values())
    local = [t.name for t in targets if not isinstance(t, ExternalService)]
    for t in targets:
        if isinstance(t, ExternalService):
            _err(f"# {t.message()}")
    lines = env_lines(local)
    running = {ln.split("=", 1)[0].split()[-1] for ln in lines}
    for name in local:
        if SERVICES[name].env_var not in running and args.names:
            _err(f"# {name}: not running (vecbench services up {name})")
    for line in lines:
        print(line)
    if not lines and not args.names:
        _err("# no engine is running (vecbench services up NAME...)")
    return 0


def main(args: argparse.Namespace) -> int:
    action = getattr(args, "action", None)
    if action == "up":
        return _up(args)
    if action == "down":
        return _down(args)
    if action == "status":
        return _status(args)
    if action == "env":
        return _env(args)
    from vecbench.errors import ConfigError

    raise ConfigError(f"unknown services action {action!r}; valid: {', '.join(ACTIONS)}")
