"""Search-node services without starting one: JDK discovery, archive checks, node settings.

The nodes themselves start in tests/integration/test_services.py (where scripts/install-engines.sh
installed them). Nothing here downloads: the archives are made in a temporary directory.
"""

from __future__ import annotations

import hashlib
import stat
import zipfile
from pathlib import Path

import pytest

from vecbench.errors import MissingDependencyError, StoreError
from vecbench.services import _dist, get_service
from vecbench.services._dist import Artifact, Distribution


def _jdk(root: Path, version: str) -> Path:
    home = root / f"jdk-{version}"
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "java").touch()
    (home / "release").write_text(f'IMPLEMENTOR="x"\nJAVA_VERSION="{version}"\n')
    return home


def test_java_major_reads_the_release_file(tmp_path: Path) -> None:
    assert _dist.java_major(_jdk(tmp_path, "25.0.1")) == 25
    assert _dist.java_major(_jdk(tmp_path, "1.8.0_392")) == 8
    assert _dist.java_major(tmp_path / "nothing") is None


def test_the_newest_jdk_that_is_new_enough_is_chosen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for v in ("17.0.15", "21.0.2", "25.0.1"):
        _jdk(tmp_path, v)
    monkeypatch.setattr(_dist, "_JDK_DIRS", (tmp_path,))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.delenv(_dist.JAVA_HOME_VAR, raising=False)
    assert _dist.find_java_home(21, "x").name == "jdk-25.0.1"
    with pytest.raises(MissingDependencyError, match=r"Java 26 or newer.*jdk-17.0.15 \(Java 17\)"):
        _dist.find_java_home(26, "x")
    monkeypatch.setenv(_dist.JAVA_HOME_VAR, str(tmp_path / "jdk-21.0.2"))
    assert _dist.find_java_home(21, "x").name == "jdk-21.0.2"  # the explicit choice wins
    monkeypatch.setenv(_dist.JAVA_HOME_VAR, str(tmp_path / "jdk-17.0.15"))
    with pytest.raises(MissingDependencyError, match="is Java 17"):
        _dist.find_java_home(21, "x")


def _zip(path: Path, entries: dict[str, tuple[bytes, int]]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, (data, mode) in entries.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFREG | mode) << 16
            zf.writestr(info, data)
    return path


def test_unpack_keeps_file_modes_and_refuses_foreign_entries(tmp_path: Path) -> None:
    archive = _zip(
        tmp_path / "a.zip",
        {"srv-1/bin/srv": (b"#!/bin/sh\n", 0o755), "srv-1/config/x.yml": (b"a: 1\n", 0o644)},
    )
    home = _dist.unpack(archive, tmp_path / "engines", "srv-1")
    assert (home / "bin" / "srv").stat().st_mode & 0o777 == 0o755
    assert (home / "config" / "x.yml").read_text() == "a: 1\n"
    for bad in ("other/x", "srv-1/../../escape"):
        with pytest.raises(StoreError, match="unexpected entry"):
            _dist.unpack(_zip(tmp_path / "bad.zip", {bad: (b"", 0o644)}), tmp_path / "engines", "srv-1")


def test_install_checks_the_pinned_sha256(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(_dist.ENGINES_DIR_VAR, str(tmp_path / "engines"))
    data = {"srv-1/bin/srv": (b"#!/bin/sh\n", 0o755)}
    probe = _zip(tmp_path / "probe.zip", data)
    digest = hashlib.sha256(probe.read_bytes()).hexdigest()
    good = Artifact("org.example", "srv", "1", digest)
    _zip(_repo_file(good), data)  # as if mvn had fetched it: no download happens
    dist = Distribution("srv", good, "srv-1")
    with pytest.raises(MissingDependencyError, match="scripts/install-engines.sh srv"):
        _dist.installed_home(dist)
    home = _dist.install(dist, note=lambda _: None)
    assert _dist.installed_home(dist) == home and (home / "bin" / "srv").exists()
    bad = Artifact("org.example", "srv", "2", "0" * 64)
    fetched: list[str] = []

    def fake_mvn_get(artifact: Artifact) -> None:  # what mvn leaves: a file whose digest differs
        fetched.append(artifact.coords)
        _zip(_repo_file(artifact), data)

    monkeypatch.setattr(_dist, "_mvn_get", fake_mvn_get)
    with pytest.raises(StoreError, match="not the pinned"):
        _dist.install(Distribution("srv", bad, "srv-2"), note=lambda _: None)
    assert fetched == [bad.coords] and not _dist.repo_path(bad).exists()  # removed, not kept


def _repo_file(artifact: Artifact) -> Path:
    path = _dist.repo_path(artifact)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def test_fetch_without_maven_says_how_to_get_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(_dist.ENGINES_DIR_VAR, str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(MissingDependencyError, match="install Maven"):
        _dist.fetch(Artifact("org.example", "srv", "1", "0" * 64), note=lambda _: None)


@pytest.mark.parametrize("name", ["elasticsearch", "opensearch"])
def test_node_settings_bind_loopback_and_keep_files_in_the_cache(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VECBENCH_CACHE", str(tmp_path))
    svc = get_service(name)
    settings = svc.settings(19999, 19998)  # type: ignore[attr-defined]
    assert settings["network.host"] == "127.0.0.1" and settings["discovery.type"] == "single-node"
    assert (settings["http.port"], settings["transport.port"]) == ("19999", "19998")
    assert settings["path.data"].startswith(str(tmp_path)) and settings["path.logs"].startswith(str(tmp_path))
    assert settings["cluster.routing.allocation.disk.threshold_enabled"] == "false"
    if name == "elasticsearch":
        assert settings["xpack.security.enabled"] == "false"
    monkeypatch.setenv(f"VECBENCH_{name.upper()}_HEAP", "2g")
    assert svc.heap() == "2g"  # type: ignore[attr-defined]
    monkeypatch.setenv(f"VECBENCH_{name.upper()}_HEAP", "lots")
    with pytest.raises(Exception, match="heap size"):
        svc.heap()  # type: ignore[attr-defined]


def test_jvm_options_paths_move_into_the_service_logs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VECBENCH_CACHE", str(tmp_path))
    svc = get_service("opensearch")
    text = (
        "-XX:HeapDumpPath=data\n-XX:ErrorFile=logs/hs_err_pid%p.log\n"
        "9-:-Xlog:gc*:file=logs/gc.log:utctime\n-javaagent:agent/opensearch-agent.jar\n"
    )
    logs = svc.logs_dir()  # type: ignore[attr-defined]
    got = svc._absolute_paths(text)  # type: ignore[attr-defined]
    assert f"HeapDumpPath={logs}\n" in got and f"ErrorFile={logs}/hs_err" in got
    assert f"file={logs}/gc.log" in got and "-javaagent:agent/opensearch-agent.jar" in got


def test_a_port_in_use_names_the_process_that_holds_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import socket

    from vecbench.errors import ConfigError
    from vecbench.services import _proc, start

    monkeypatch.setenv("VECBENCH_CACHE", str(tmp_path))
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        assert _proc.port_holder(port) == f"pid {os.getpid()} ({Path('/proc/self/comm').read_text().strip()})"
        svc = get_service("elasticsearch")
        monkeypatch.setenv(svc.port_var, str(port))
        with pytest.raises(
            ConfigError,
            match=rf"port {port} is already in use by pid {os.getpid()} .*VECBENCH_ELASTICSEARCH_PORT",
        ):
            start(svc)  # refused before anything is prepared or started
    assert _proc.port_holder(port) is None
