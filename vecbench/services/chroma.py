"""Chroma: ``chroma run`` from the ``chromadb`` pip package (a Rust server; ready in about 1 s)."""

from __future__ import annotations

import shutil
from pathlib import Path

from vecbench.engines import ENGINES
from vecbench.services._proc import http_get
from vecbench.services.base import (
    INSTALL_SCRIPT,
    EngineNotInstalledError,
    Launch,
    Service,
    State,
    scripts_dir,
)


class ChromaService(Service):
    engine = ENGINES["chroma"]
    package = "chromadb"
    module = "chromadb"
    start_timeout = 30.0
    stop_grace = 10.0

    def _chroma_cli(self) -> Path:
        self.package_dir()
        script = scripts_dir() / "chroma"
        if script.exists():
            return script
        found = shutil.which("chroma")
        if found:
            return Path(found)
        raise EngineNotInstalledError(
            self.package,
            f"chroma: the 'chroma' command of chromadb is not in {scripts_dir()} nor on PATH; "
            f"reinstall with {INSTALL_SCRIPT} (or pip install chromadb)",
        )

    def check_installed(self) -> None:
        self._chroma_cli()

    def launch(self, port: int) -> Launch:
        argv = [
            str(self._chroma_cli()),
            "run",
            "--path",
            str(self.data_dir()),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        return Launch(argv, env={"ANONYMIZED_TELEMETRY": "False"}, cwd=self.home())

    def healthy(self, state: State) -> bool:
        # Chroma >= 0.6 answers /api/v2/heartbeat; older servers only /api/v1 (v1 is 410 Gone on 1.x).
        for path in ("/api/v2/heartbeat", "/api/v1/heartbeat"):
            got = http_get(f"http://127.0.0.1:{state.port}{path}")
            if got and got[0] == 200 and b"heartbeat" in got[1]:
                return True
        return False
