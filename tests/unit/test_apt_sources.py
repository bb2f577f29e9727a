"""scripts/apt-sources.sh: the Debian mirror comes from the machine's apt sources, not from
a host name written in the repository. Fake apt configurations in tmp_path; no network."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"

pytestmark = pytest.mark.skipif(
    shutil.which("bash") is None or shutil.which("awk") is None, reason="needs bash and awk"
)

MIRROR = "http://mirror.example/debian"
SECURITY = "http://security.example/debian-security"


def apt_etc(tmp_path: Path, sources_list: str | None = None, **parts: str) -> Path:
    """An apt etc folder: ``sources.list`` and ``sources.list.d/<name>`` (``_`` for ``.``)."""
    etc = tmp_path / "apt"
    (etc / "sources.list.d").mkdir(parents=True)
    if sources_list is not None:
        (etc / "sources.list").write_text(sources_list, encoding="utf-8")
    for name, text in parts.items():
        (etc / "sources.list.d" / name.replace("_", ".")).write_text(text, encoding="utf-8")
    return etc


def mirrors(etc: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("DEBIAN_MIRROR", "DEBIAN_SECURITY_MIRROR")}
    return subprocess.run(
        ["bash", str(SCRIPTS / "apt-sources.sh")],
        env={**clean, "VECBENCH_APT_ETC": str(etc), **env},
        capture_output=True,
        text=True,
        timeout=30,
    )


def found(etc: Path, **env: str) -> tuple[str, str]:
    proc = mirrors(etc, **env)
    assert proc.returncode == 0, proc.stderr
    values = dict(line.split("=", 1) for line in proc.stdout.splitlines())
    return values["DEBIAN_MIRROR"], values["DEBIAN_SECURITY_MIRROR"]


DEB822 = f"""\
Types: deb
# a comment inside a stanza
URIs: {MIRROR}
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: {SECURITY}
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""


def test_deb822_sources_give_mirror_and_security(tmp_path):
    etc = apt_etc(
        tmp_path,
        # before debian.sources in name order, but not Debian: skipped
        a_nodesource_sources="Types: deb\nURIs: https://node.example/node_20.x\nSuites: nodistro\n"
        "Components: main\n",
        debian_sources=DEB822,
        # not *.list or *.sources: not apt's, skipped
        zz_list_disabled="deb http://other.example/debian bookworm main\n",
    )
    assert found(etc) == (MIRROR, SECURITY)


def test_one_line_format_with_options_comments_and_deb_src(tmp_path):
    etc = apt_etc(
        tmp_path,
        "# deb http://commented.example/debian bookworm main\n"
        "deb-src http://src.example/debian bookworm main\n"
        f"deb [ arch=amd64 signed-by=/usr/share/keyrings/k.gpg ] {MIRROR}/ bookworm main  # trailing\n"
        f"deb [arch=amd64] {SECURITY} bookworm-security main\n",
    )
    assert found(etc) == (MIRROR, SECURITY)  # the trailing slash dropped


def test_old_style_security_suite_and_cdrom(tmp_path):
    etc = apt_etc(
        tmp_path,
        "deb cdrom:[Debian GNU/Linux 10]/ buster main\n"
        f"deb {MIRROR} buster main\n"
        "deb http://old-security.example/debian-security buster/updates main\n",
    )
    assert found(etc) == (MIRROR, "http://old-security.example/debian-security")


def test_sources_list_first_then_parts_in_name_order_non_debian_skipped(tmp_path):
    etc = apt_etc(
        tmp_path,
        "deb http://archive.example/ubuntu jammy main universe\n"
        "deb http://archive.example/ubuntu jammy-security main\n",
        b_second_sources="Types: deb\nURIs: http://second.example/debian\nSuites: trixie\n",
        a_first_list="deb http://first.example/debian trixie main\n",
    )
    assert found(etc) == ("http://first.example/debian", "http://first.example/debian-security")


def test_disabled_deb_src_and_continuation_lines_in_deb822(tmp_path):
    etc = apt_etc(
        tmp_path,
        debian_sources="Types: deb\nURIs: http://off.example/debian\nSuites: bookworm\nEnabled: no\n\n"
        "Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\n\n"
        "types: deb deb-src\n"
        "Signed-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n Suites: not-a-field\n .\n"
        " -----END PGP PUBLIC KEY BLOCK-----\n"
        f"uris: {MIRROR} http://backup.example/debian\n"
        "SUITES: stable stable-updates\n",
    )
    assert found(etc) == (MIRROR, "http://mirror.example/debian-security")


def test_no_debian_archive_is_a_clear_error(tmp_path):
    etc = apt_etc(tmp_path, "deb http://archive.example/ubuntu noble main\n")
    proc = mirrors(etc)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "no Debian archive" in proc.stderr and "DEBIAN_MIRROR" in proc.stderr
    assert mirrors(tmp_path / "no-such-dir").returncode == 2


def test_environment_overrides(tmp_path):
    etc = apt_etc(tmp_path, debian_sources=DEB822)
    # DEBIAN_MIRROR wins; the security archive then follows it, not the apt sources
    assert found(etc, DEBIAN_MIRROR="http://own.example/debian/") == (
        "http://own.example/debian",
        "http://own.example/debian-security",
    )
    assert found(etc, DEBIAN_SECURITY_MIRROR="http://sec.example/ds") == (MIRROR, "http://sec.example/ds")
    empty = apt_etc(tmp_path / "empty")
    assert found(empty, DEBIAN_MIRROR=MIRROR) == (MIRROR, "http://mirror.example/debian-security")


def test_install_engines_parses():
    proc = subprocess.run(
        ["bash", "-n", str(SCRIPTS / "install-engines.sh")], capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 0, proc.stderr
