"""pyproject.toml's explicit package list covers every folder of code and data it ships.

setuptools installs only the packages listed: a module folder left out works in the
editable checkout and is missing from a wheel (vecbench.distributed was, once).
"""

from __future__ import annotations

from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[2]


def _setuptools() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]


def test_every_code_folder_is_a_listed_package() -> None:
    packages = set(_setuptools()["packages"])
    code = {
        ".".join(("vecbench", *p.parent.relative_to(ROOT / "vecbench").parts))
        for p in (ROOT / "vecbench").rglob("__init__.py")
    }
    assert code - packages == set(), "add these to [tool.setuptools] packages"


def test_every_data_folder_is_listed_with_its_files() -> None:
    setup = _setuptools()
    data = setup["package-data"]
    for name in ("vecbench.datasets.profiles", "vecbench.sweeps", "vecbench.datasets.manifests"):
        assert name in setup["packages"] and name in data
    for pattern in data["vecbench.datasets.profiles"]:
        assert list((ROOT / "vecbench" / "datasets" / "profiles").glob(pattern)), pattern
