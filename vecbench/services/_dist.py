"""Server distributions fetched from Maven Central with Maven, unpacked once, and a JDK to run them.

Elasticsearch and OpenSearch have no pip package; Maven Central serves runnable archives of
both (see ``vecbench.services.elasticsearch`` and ``.opensearch``). ``install`` fetches an
archive with the machine's own ``mvn`` (``dependency:get``: whatever mirror and proxy the
machine's Maven settings name are used; vecbench names no host), checks it against the
SHA-256 pinned here (the archives carry no checksum of their own on the mirror), and unpacks
it into the engines directory:

    <venv>/lib/vecbench-engines/          ($VECBENCH_ENGINES_DIR moves it)
        maven/                            Maven's local repository: the archives (a second install
                                          downloads nothing)
        elasticsearch-9.5.3/              an unpacked distribution (read-only to the server)

The engines directory sits beside the pip-installed servers, in the venv, rather than in
``$VECBENCH_CACHE``: a run with a cache of its own (the tests) finds the engine without
fetching it again. Data, config and logs of a running server live in the service's cache dir.

Only ``install`` reaches the network; ``vecbench services up`` never does.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from vecbench.errors import StoreError
from vecbench.services.base import INSTALL_SCRIPT, EngineNotInstalledError, Note

ENGINES_DIR_VAR = "VECBENCH_ENGINES_DIR"
JAVA_HOME_VAR = "VECBENCH_JAVA_HOME"
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
_JDK_DIRS = (Path("/usr/lib/jvm"),)  # where Debian and the Temurin packages put JDKs
_STAMP = ".vecbench-installed"


@dataclass(frozen=True)
class Artifact:
    """One Maven artifact and the SHA-256 of the file vecbench was written against."""

    group: str
    artifact: str
    version: str
    sha256: str
    packaging: str = "zip"

    @property
    def coords(self) -> str:
        return f"{self.group}:{self.artifact}:{self.version}:{self.packaging}"

    @property
    def file_name(self) -> str:
        return f"{self.artifact}-{self.version}.{self.packaging}"


@dataclass(frozen=True)
class Distribution:
    """A server archive, the plugins to install into it, and the JDK it needs."""

    name: str  # the service name
    server: Artifact
    top_dir: str  # the archive's single top-level directory
    plugins: tuple[Artifact, ...] = ()
    plugin_cli: str = ""  # bin/<plugin_cli> install --batch file://...
    java_min: int = 21

    @property
    def label(self) -> str:
        return f"{self.name} {self.server.version}"


def engines_dir() -> Path:
    """Where distributions are unpacked: $VECBENCH_ENGINES_DIR, else <venv>/lib/vecbench-engines."""
    override = os.environ.get(ENGINES_DIR_VAR)
    return Path(override).expanduser() if override else Path(sys.prefix) / "lib" / "vecbench-engines"


def home_of(dist: Distribution) -> Path:
    return engines_dir() / dist.top_dir


def installed_home(dist: Distribution) -> Path:
    """The unpacked distribution; EngineNotInstalledError (saying how to install it) when absent."""
    home = home_of(dist)
    if not (home / _STAMP).exists():
        coords = ", ".join(a.coords for a in (dist.server, *dist.plugins))
        raise EngineNotInstalledError(
            dist.name,
            f"{dist.name}: the server ({coords}, from Maven Central) is not installed in {engines_dir()}; "
            f"run {INSTALL_SCRIPT} {dist.name} (it fetches it with mvn), or set {ENGINES_DIR_VAR}",
        )
    return home


# -- the JDK -----------------------------------------------------------------------------------
def java_major(java_home: Path) -> int | None:
    """The Java feature version of the JDK at JAVA_HOME (from its ``release`` file), or None."""
    try:
        text = (java_home / "release").read_text(errors="replace")
    except OSError:
        return None
    m = re.search(r'^JAVA_VERSION="(\d+)(?:\.(\d+))?', text, re.M)
    if not m or not (java_home / "bin" / "java").exists():
        return None
    major = int(m.group(1))
    return int(m.group(2) or 0) if major == 1 else major  # "1.8.0" is Java 8


def find_java_home(need: int, who: str) -> Path:
    """A JDK of Java NEED or newer: $VECBENCH_JAVA_HOME, else $JAVA_HOME, else the newest under
    /usr/lib/jvm. EngineNotInstalledError listing what was found when there is none."""
    explicit = os.environ.get(JAVA_HOME_VAR)
    if explicit:
        major = java_major(Path(explicit))
        if major is None or major < need:
            raise EngineNotInstalledError(
                "jdk", f"{who} needs Java {need} or newer; {JAVA_HOME_VAR}={explicit} is Java {major or '?'}"
            )
        return Path(explicit)
    found: dict[Path, int] = {}
    candidates = [Path(os.environ["JAVA_HOME"])] if os.environ.get("JAVA_HOME") else []
    for root in _JDK_DIRS:
        if root.is_dir():
            candidates += sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink())
    for home in candidates:
        major = java_major(home)
        if major is not None:
            found[home] = major
    good = [h for h, m in found.items() if m >= need]
    if good:
        return max(good, key=lambda h: found[h])
    seen = ", ".join(f"{h} (Java {m})" for h, m in found.items()) or "none"
    raise EngineNotInstalledError(
        "jdk",
        f"{who} needs a JDK of Java {need} or newer (it bundles none); found: {seen}. Install one "
        f"(e.g. a Temurin {need}+ JDK under /usr/lib/jvm) or point {JAVA_HOME_VAR} at one",
    )


# -- fetching and unpacking ----------------------------------------------------------------------
def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def repo_path(artifact: Artifact) -> Path:
    """Where ARTIFACT lies in the engines' Maven local repository."""
    group = artifact.group.replace(".", "/")
    return engines_dir() / "maven" / group / artifact.artifact / artifact.version / artifact.file_name


def fetch(artifact: Artifact, note: Note) -> Path:
    """ARTIFACT in Maven's local repository (mvn downloads it when it is not there), checked.

    A file already there that does not match the pinned SHA-256 is removed and fetched again;
    a fetched file that does not match is removed and refused.
    """
    target = repo_path(artifact)
    if target.exists() and sha256_of(target) == artifact.sha256:
        return target
    target.unlink(missing_ok=True)  # mvn would keep a damaged file it finds in its repository
    note(f"mvn dependency:get {artifact.coords}")
    _mvn_get(artifact)
    if not target.exists():
        raise StoreError(f"mvn fetched {artifact.coords} but {target} is not there")
    got = sha256_of(target)
    if got != artifact.sha256:
        target.unlink()
        raise StoreError(
            f"{artifact.coords}: SHA-256 {got} is not the pinned {artifact.sha256}; the file was removed"
        )
    return target


def _mvn_get(artifact: Artifact) -> None:
    """``mvn dependency:get`` of ARTIFACT into the engines' local repository (the machine's
    Maven settings, mirrors and proxies apply)."""
    mvn = shutil.which("mvn")
    if mvn is None:
        raise EngineNotInstalledError("maven", "mvn not found: install Maven (Debian: apt-get install maven)")
    argv = [
        mvn,
        "-B",
        "-q",
        f"-Dmaven.repo.local={engines_dir() / 'maven'}",
        f"{DEPENDENCY_PLUGIN}:get",
        f"-Dartifact={artifact.coords}",
        "-Dtransitive=false",
    ]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=1800)  # noqa: S603
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "ERROR" in ln][:3]
        raise StoreError(f"mvn could not fetch {artifact.coords}: {' | '.join(lines) or proc.returncode}")


def unpack(archive: Path, dest_parent: Path, top_dir: str) -> Path:
    """Extract ARCHIVE (a zip with one top directory TOP_DIR) under DEST_PARENT, file modes kept."""
    dest = dest_parent / top_dir
    tmp = dest_parent / f".{top_dir}.unpacking"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            parts = Path(info.filename).parts
            if not parts or parts[0] != top_dir or ".." in parts or Path(info.filename).is_absolute():
                raise StoreError(f"{archive.name}: unexpected entry {info.filename!r}")
            path = zf.extract(info, tmp)
            mode = (info.external_attr >> 16) & 0o777
            if mode and not info.is_dir():
                os.chmod(path, mode)
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(tmp / top_dir, dest)
    tmp.rmdir()
    return dest


def install(dist: Distribution, note: Note) -> Path:
    """Fetch, check and unpack DIST with its plugins; nothing is done when it is installed already."""
    home = home_of(dist)
    stamp = " ".join(f"{a.coords}@{a.sha256}" for a in (dist.server, *dist.plugins))
    if (home / _STAMP).exists() and (home / _STAMP).read_text().strip() == stamp:
        note(f"{dist.label}: already installed in {home}")
        return home
    java = find_java_home(dist.java_min, dist.label) if dist.plugins else None
    archive = fetch(dist.server, note)
    plugin_files = [fetch(p, note) for p in dist.plugins]
    note(f"{dist.label}: unpacking into {home}")
    home = unpack(archive, engines_dir(), dist.top_dir)
    for plugin, path in zip(dist.plugins, plugin_files, strict=True):
        note(f"{dist.label}: installing plugin {plugin.artifact} {plugin.version}")
        env = {**os.environ, "JAVA_HOME": str(java), f"{dist.name.upper()}_JAVA_HOME": str(java)}
        proc = subprocess.run(  # noqa: S603
            [str(home / "bin" / dist.plugin_cli), "install", "--batch", path.resolve().as_uri()],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
        )
        if proc.returncode != 0:
            raise StoreError(f"{dist.label}: plugin {plugin.coords} failed to install: {proc.stderr[-500:]}")
    (home / _STAMP).write_text(stamp + "\n")
    return home
