"""What Elasticsearch and OpenSearch nodes share as local services: a JDK, a config, a user.

A node runs from its unpacked distribution (``vecbench.services._dist``, read-only) with its
own config directory, data, logs and temp dir under ``$VECBENCH_CACHE/services/NAME``:
bound to 127.0.0.1 (HTTP on the service port, transport on a free port), single-node
discovery, the disk watermarks off (a shared machine's full disk must not turn the
benchmark's indices read-only), a small fixed heap ($VECBENCH_<NAME>_HEAP, default 512m:
kNN search reads vectors and graphs off-heap, from the page cache), and the JDK from
``find_java_home`` set for the node alone. Both refuse to run as root: as root the node runs
as the system user ``vecbench`` (``vecbench.services._user``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
from pathlib import Path
from typing import ClassVar

from vecbench.errors import ConfigError, StoreError
from vecbench.services._dist import Distribution, find_java_home, installed_home
from vecbench.services._proc import free_port, http_get
from vecbench.services._user import chown_tree, ensure_traversable, ensure_user, run_user
from vecbench.services.base import Launch, Note, Service, State

DEFAULT_HEAP = "512m"
_HEAP = re.compile(r"^\d+[mMgG]$")


class JvmSearchService(Service):
    """A Lucene-based search node (Elasticsearch, OpenSearch) from a Maven Central archive."""

    dist: ClassVar[Distribution]
    env_prefix: ClassVar[str]  # ES or OPENSEARCH: the launcher's variables (ES_JAVA_HOME, ...)
    start_timeout = 180.0
    stop_grace = 30.0
    stop_signal = signal.SIGTERM

    # -- where things are ------------------------------------------------------------------
    def dist_home(self) -> Path:
        return installed_home(self.dist)

    def conf_dir(self) -> Path:
        return self.home() / "config"

    def logs_dir(self) -> Path:
        return self.home() / "logs"

    def tmp_dir(self) -> Path:
        return self.home() / "tmp"

    def heap(self) -> str:
        var = f"VECBENCH_{self.name.upper()}_HEAP"
        raw = os.environ.get(var, DEFAULT_HEAP)
        if not _HEAP.match(raw):
            raise ConfigError(f"{var}={raw!r} is not a heap size such as 512m or 2g")
        return raw

    def java_home(self) -> Path:
        return find_java_home(self.dist.java_min, self.dist.label)

    def check_installed(self) -> None:
        launcher = self.dist_home() / "bin" / self.name
        if not launcher.exists():
            raise StoreError(f"{self.name}: {launcher} is missing; reinstall it ({self.dist.label})")
        self.java_home()

    # -- start -------------------------------------------------------------------------------
    def prepare(self, note: Note) -> None:
        for d in (self.data_dir(), self.logs_dir(), self.tmp_dir()):
            d.mkdir(parents=True, exist_ok=True)
        conf = self.conf_dir()
        shutil.rmtree(conf, ignore_errors=True)  # fresh from the distribution at every start
        shutil.copytree(self.dist_home() / "config", conf)
        jvm_options = conf / "jvm.options"
        jvm_options.write_text(self._absolute_paths(jvm_options.read_text()))
        user = run_user()
        if user:
            pw = ensure_user(self.name, f"{self.name} refuses to run as root", note)
            ensure_traversable(self.name, self.dist_home(), note)
            ensure_traversable(self.name, self.home(), note)
            for d in (self.data_dir(), self.logs_dir(), self.tmp_dir(), conf):
                chown_tree(d, pw)

    def _absolute_paths(self, text: str) -> str:
        """jvm.options with its log and heap-dump paths moved into the service's logs dir
        (relative paths there resolve against the read-only distribution)."""
        logs = str(self.logs_dir())
        text = re.sub(r"(file=|ErrorFile=|-Xloggc:)logs/", rf"\g<1>{logs}/", text)
        return re.sub(r"HeapDumpPath=data\b", f"HeapDumpPath={logs}", text)

    def settings(self, port: int, transport_port: int) -> dict[str, str]:
        """The node settings passed as -E options (subclasses add their own)."""
        return {
            "node.name": "vecbench",
            "cluster.name": f"vecbench-{self.name}",
            "discovery.type": "single-node",
            "network.host": "127.0.0.1",
            "http.port": str(port),
            "transport.port": str(transport_port),
            "path.data": str(self.data_dir()),
            "path.logs": str(self.logs_dir()),
            "cluster.routing.allocation.disk.threshold_enabled": "false",
        }

    def launch(self, port: int) -> Launch:
        transport = free_port()
        argv = [str(self.dist_home() / "bin" / self.name)]
        argv += [f"-E{k}={v}" for k, v in self.settings(port, transport).items()]
        heap = self.heap()
        env = {
            f"{self.env_prefix}_JAVA_HOME": str(self.java_home()),
            f"{self.env_prefix}_PATH_CONF": str(self.conf_dir()),
            f"{self.env_prefix}_TMPDIR": str(self.tmp_dir()),
            f"{self.env_prefix}_JAVA_OPTS": f"-Xms{heap} -Xmx{heap}",
        }
        return Launch(argv, env=env, cwd=self.home(), user=run_user(), ports={"transport": transport})

    # -- health ----------------------------------------------------------------------------------
    def cluster_health(self, state: State) -> dict[str, object] | None:
        got = http_get(f"http://127.0.0.1:{state.port}/_cluster/health", timeout=2.0)
        if not got or got[0] != 200:
            return None
        try:
            body = json.loads(got[1])
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    def healthy(self, state: State) -> bool:
        health = self.cluster_health(state)
        return bool(health and health.get("status") in ("green", "yellow"))

    def startup_failure_hint(self, log_lines: list[str]) -> str | None:
        text = "\n".join(log_lines)
        if "as root" in text:
            return f"{self.name}: the node refuses to run as root (vecbench runs it as user 'vecbench' when root)"
        if "UnsupportedClassVersionError" in text or "requires Java" in text:
            return f"{self.name}: the JDK is too old for {self.dist.label}; set VECBENCH_JAVA_HOME to Java {self.dist.java_min}+"
        if "address already in use" in text.lower():
            return f"{self.name}: a port is in use (HTTP or transport); set {self.port_var} to a free port"
        return None
