"""Milvus 2.3 standalone from the ``milvus`` pip package (milvus-lite's predecessor; offline).

The package ships the server binary and its libraries xz-compressed, plus a config template.
Rather than its ``milvus-server`` wrapper (a Python parent that does not pass SIGTERM on and
always picks the health port itself), vecbench unpacks the binary once into the data dir,
renders the config with its own ports and runs ``milvus run standalone`` directly.

Surprises (also shown by ``vecbench services status``):

- Milvus listens on ALL interfaces for the proxy port, its internal gRPC ports (root/query/
  data/index coord and node ports, proxy internal port; free ports chosen at each start) and
  the health/metrics HTTP port; 2.3 has no option to bind them to 127.0.0.1. Its embedded etcd
  always listens on 127.0.0.1:2379 and 127.0.0.1:2380, whatever the config says: one Milvus
  per machine, and none next to a real etcd.
- After collections were loaded, the server can ignore SIGTERM for 20-60 s; ``down`` waits a
  grace period and then SIGKILLs the whole process group.
"""

from __future__ import annotations

import json
import lzma
import os
import re
import shutil
from pathlib import Path

from vecbench.engines import ENGINES
from vecbench.errors import ConfigError, StoreError
from vecbench.services._proc import free_port, http_get, port_open
from vecbench.services.base import Launch, Note, Service, State, package_version

ETCD_PORT = 2379
HEALTH_PORT_VAR = "VECBENCH_MILVUS_HEALTH_PORT"
# Internal gRPC ports of the template; each gets a free port at start. (etcd_port is left at
# 2379: the embedded etcd listens on 127.0.0.1:2379 and :2380 whatever the config says.)
INTERNAL_PORTS = (
    "root_coord_port",
    "proxy_internal_port",
    "query_coord_port",
    "query_node_port",
    "index_coord_port",
    "index_node_port",
    "data_coord_port",
    "data_node_port",
)
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_]+)\s*(?:\(\s*\w+\s*\))?\s*(?::\s*([^}]*?))?\s*\}\}")


class MilvusService(Service):
    engine = ENGINES["milvus"]
    package = "milvus"
    module = "milvus"
    start_timeout = 120.0
    stop_grace = 15.0
    notes = (
        "listens on all interfaces (proxy, internal gRPC and health ports; no bind option in 2.3); "
        "embedded etcd always takes 127.0.0.1:2379 and 2380 (one Milvus per machine)"
    )

    def base(self) -> Path:
        return self.data_dir()

    def binary(self) -> Path:
        return self.base() / "bin" / "milvus"

    def prepare(self, note: Note) -> None:
        if port_open(ETCD_PORT):
            raise ConfigError(
                f"milvus: 127.0.0.1:{ETCD_PORT} is in use (another Milvus or an etcd?); Milvus 2.3's "
                f"embedded etcd always takes ports {ETCD_PORT} and {ETCD_PORT + 1}"
            )
        src = self.package_dir() / "data"
        bindir = self.base() / "bin"
        bindir.mkdir(parents=True, exist_ok=True)
        marker = bindir / ".unpacked"
        stamp = f"milvus {package_version('milvus')} from {src}"
        if not (marker.exists() and marker.read_text() == stamp and self.binary().exists()):
            note("milvus: unpacking the server binaries (first start, ~10 s)")
            for packed in sorted((src / "bin").glob("*.lzma")):
                target = bindir / packed.name[: -len(".lzma")]
                tmp = target.with_name(target.name + ".tmp")
                with lzma.open(packed, "rb") as fin, open(tmp, "wb") as fout:
                    shutil.copyfileobj(fin, fout, 1 << 20)
                tmp.chmod(0o755)
                os.replace(tmp, target)
            marker.write_text(stamp)
        for sub in ("configs", "logs", "data", "run"):
            (self.base() / sub).mkdir(parents=True, exist_ok=True)

    def _render_config(self, values: dict[str, object]) -> str:
        src = self.package_dir() / "data"
        template = (src / "config.yaml.template").read_text(encoding="utf-8")
        unresolved: list[str] = []

        def sub(m: re.Match[str]) -> str:
            key, default = m.group(1), m.group(2)
            if key in values:
                v = values[key]
                return ("true" if v else "false") if isinstance(v, bool) else str(v)
            if default is None or default == "":
                unresolved.append(key)
                return ""
            return default

        text = _PLACEHOLDER.sub(sub, template)
        # Register every component as 127.0.0.1 rather than the machine's first address (which
        # may change); the gRPC servers still listen on all interfaces.
        text = re.sub(r"(?m)^(  ip:)[ \t]*(#.*)?$", r"\1 127.0.0.1 \2", text)
        if unresolved:
            raise StoreError(f"milvus: config template values not set: {', '.join(unresolved)}")
        return text

    def _internal_ports(self) -> dict[str, int]:
        """The ports of the last start when all are still free, else new free ports.

        Stable ports matter: after a kill, the sessions the previous process left in etcd name
        its ports; with the same ports the new process answers for them at once instead of
        waiting about a minute for those sessions to expire.
        """
        saved = self.base() / "vecbench-ports.json"
        try:
            ports = {k: int(v) for k, v in json.loads(saved.read_text()).items()}
            if set(ports) == set(INTERNAL_PORTS) and not any(port_open(p) for p in ports.values()):
                return ports
        except (FileNotFoundError, ValueError, AttributeError):
            pass
        ports = {key: free_port() for key in INTERNAL_PORTS}
        saved.write_text(json.dumps(ports))
        return ports

    def health_port(self) -> int:
        raw = os.environ.get(HEALTH_PORT_VAR)
        return int(raw) if raw else free_port()

    def launch(self, port: int) -> Launch:
        base = self.base()
        ports = self._internal_ports()
        health = self.health_port()
        values: dict[str, object] = {
            **ports,
            "proxy_port": port,
            "etcd_log_path": str(base / "logs" / "etcd.log"),
            "system_log_path": str(base / "logs"),
            "etcd_data_dir": str(base / "data" / "etcd.data"),
            "local_storage_dir": str(base / "data"),
            "rocksmq_data_dir": str(base / "data" / "rocksmq"),
        }
        configs = base / "configs"
        (configs / "milvus.yaml").write_text(self._render_config(values), encoding="utf-8")
        shutil.copy(self.package_dir() / "data" / "glog.conf", configs / "glog.conf")
        env = {
            "DEPLOY_MODE": "STANDALONE",
            "METRICS_PORT": str(health),
            "MILVUS_RUN_DIR": str(base / "run"),
            "MILVUSCONF": str(configs) + "/",
            "LD_LIBRARY_PATH": os.pathsep.join(
                p for p in (str(base / "bin"), os.environ.get("LD_LIBRARY_PATH", "")) if p
            ),
        }
        return Launch(
            [str(self.binary()), "run", "standalone"], env=env, cwd=base, ports={"health": health, **ports}
        )

    def healthy(self, state: State) -> bool:
        health = state.ports.get("health")
        if not health:
            return False
        got = http_get(f"http://127.0.0.1:{health}/healthz")
        return bool(got and got[0] == 200 and b"OK" in got[1]) and port_open(state.port)
