"""Equal-effort grids (vecbench.sweeps): every grid is valid for its store, efforts are equal."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest
import yaml

from vecbench.cli import main as cli
from vecbench.config import RunConfig, expand_grid
from vecbench.errors import ConfigError, UnknownNameError
from vecbench.metrics import Metric
from vecbench.registry import store_class, store_names
from vecbench.sweeps import (
    apply_grid,
    check_grid,
    equal_effort_config,
    grid_names,
    load_grid,
    store_indexes,
)

ROOT = Path(__file__).resolve().parents[2]
BENCH_STORES = ["faiss", "chroma-embedded", "qdrant-edge", "pgvector", "redis", "milvus"]


def test_the_packaged_grid_is_found_by_name():
    assert "equal-effort" in grid_names()
    with pytest.raises(UnknownNameError, match="equal-effort"):
        load_grid("nosuch")


def test_every_grid_names_parameters_its_store_declares():
    grid = load_grid()
    for store, families in grid["stores"].items():
        types = store_class(store).info.index_types
        for family, entry in families.items():
            assert entry["type"] in types, f"{store}.{family}: no index type {entry['type']!r}"
            it = types[entry["type"]]
            # unknown keys raise InvalidParameterError
            it.build_params(dict.fromkeys(entry.get("build") or {}))
            it.search_params(dict.fromkeys(entry.get("search") or {}))
            assert {Metric.EUCLIDEAN, Metric.COSINE} <= set(it.metrics)
            if family == "flat":
                assert it.exact, f"{store}.flat must be an exact scan"


def test_every_store_has_the_same_number_of_build_and_search_settings_per_family():
    grid = load_grid()
    for family, spec in grid["families"].items():
        counts = set()
        for families in grid["stores"].values():
            if family in families:
                entry = families[family]
                counts.add((len(expand_grid(entry.get("build"))), len(expand_grid(entry.get("search")))))
        assert counts == {(spec["build_settings"], spec["search_settings"])}, family
    assert grid["families"]["hnsw"] == {"build_settings": 2, "search_settings": 5}
    assert grid["families"]["ivf"] == {"build_settings": 2, "search_settings": 5}


def test_every_registered_hnsw_store_has_an_hnsw_grid():
    grid = load_grid()
    with_hnsw = {s for s in store_names() if "hnsw" in store_class(s).info.index_types}
    assert with_hnsw <= {s for s, fams in grid["stores"].items() if "hnsw" in fams}
    assert set(grid["stores"]) <= set(store_names())


def test_hnsw_beam_widths_and_graph_degrees_match_across_stores():
    grid = load_grid()
    beams, degrees = set(), set()
    for families in grid["stores"].values():
        if "hnsw" in families:
            (beam,) = families["hnsw"]["search"].values()
            build = families["hnsw"]["build"]
            degree = next(build[k] for k in ("m", "max_neighbors", "max_connections") if k in build)
            beams.add(tuple(beam))
            degrees.add(tuple(degree))
    assert beams == {(16, 32, 64, 128, 256)} and degrees == {(16, 32)}


def test_an_unequal_grid_is_refused_naming_the_store():
    grid = load_grid()
    bad = copy.deepcopy(grid)
    bad["stores"]["redis"]["hnsw"]["search"]["ef_runtime"] = [16, 64]
    with pytest.raises(ConfigError, match=r"stores\.redis\.hnsw: 2 build x 2 search"):
        check_grid(bad, "g")
    bad = copy.deepcopy(grid)
    bad["stores"]["faiss"]["graph"] = {"type": "hnsw"}
    with pytest.raises(UnknownNameError, match="index family"):
        check_grid(bad, "g")
    with pytest.raises(ConfigError, match="families"):
        check_grid(["not", "a", "mapping"], "g")


def test_a_grid_file_path_is_accepted(tmp_path):
    path = tmp_path / "mine.yaml"
    grid = {
        "families": {"hnsw": {"build_settings": 1, "search_settings": 2}},
        "stores": {"faiss": {"hnsw": {"type": "hnsw", "build": {"m": 8}, "search": {"ef_search": [8, 16]}}}},
    }
    path.write_text(yaml.safe_dump(grid), encoding="utf-8")
    assert store_indexes("faiss", grid=path) == [
        {"type": "hnsw", "build": {"m": 8}, "search": {"ef_search": [8, 16]}}
    ]
    with pytest.raises(ConfigError, match="not found"):
        load_grid(tmp_path / "missing.yaml")


def test_equal_effort_config_is_a_valid_run_config_with_equal_cells_per_store():
    cfg = equal_effort_config(
        BENCH_STORES, metric=["euclidean", "cosine"], dataset_params={"n": 20_000, "dim": 128}, k=10
    )
    run = RunConfig.from_dict(cfg)
    assert [d.params["metric"] for d in run.datasets] == ["euclidean", "cosine"]
    for store in run.stores:
        hnsw = [ix for ix in store.indexes if ix.type == "hnsw"]
        assert len(hnsw) == 1
        assert len(hnsw[0].build_settings()) * len(hnsw[0].search_settings()) == 10
    only_hnsw = equal_effort_config(["faiss", "redis"], families=["hnsw"])
    assert [ix["type"] for s in only_hnsw["stores"].values() for ix in s["indexes"]] == ["hnsw", "hnsw"]
    assert only_hnsw["datasets"] == [{"name": "synthetic", "params": {}}]


def test_equal_effort_config_refuses_stores_without_a_grid():
    with pytest.raises(ConfigError, match="no hnsw grid"):
        equal_effort_config(["bruteforce"], families=["hnsw"])
    with pytest.raises(UnknownNameError, match="index family"):
        equal_effort_config(["faiss"], families=["graph"])
    with pytest.raises(ConfigError, match="at least one store"):
        equal_effort_config([])


def test_the_benchmark_config_is_the_equal_effort_grid_written_out():
    written = RunConfig.from_yaml(ROOT / "benchmarks" / "configs" / "equal-effort.yaml")
    expected = RunConfig.from_dict(
        equal_effort_config(
            BENCH_STORES,
            metric=["euclidean", "cosine"],
            dataset_params={"n": 20_000, "dim": 128, "nq": 200, "seed": 0},
        )
    )
    assert written.to_dict() == expected.to_dict()
    assert written.n_cells() == 190


def test_apply_grid_keeps_data_and_store_configs():
    config = {
        "k": 5,
        "datasets": ["synthetic"],
        "stores": {"faiss": {"config": {"threads": 1}, "indexes": [{"type": "flat"}]}, "bruteforce": None},
    }
    out = apply_grid(config)
    assert out["k"] == 5 and out["datasets"] == ["synthetic"]
    assert out["stores"]["faiss"]["config"] == {"threads": 1}
    assert [ix["type"] for ix in out["stores"]["faiss"]["indexes"]] == ["flat", "hnsw", "ivf_flat"]
    assert out["stores"]["bruteforce"]["indexes"] == [{"type": "flat", "build": {}, "search": {}}]
    assert config["stores"]["faiss"]["indexes"] == [{"type": "flat"}]  # not modified
    RunConfig.from_dict(out)
    with pytest.raises(UnknownNameError, match="grid"):
        apply_grid({"stores": {"qdrant-local-x": {}}})


def test_pyproject_packages_the_grid():
    if sys.version_info < (3, 11):
        pytest.skip("tomllib needs Python 3.11")
    import tomllib

    setup = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    assert "vecbench.sweeps" in setup["packages"] and "vecbench.report" in setup["packages"]
    assert "*.yaml" in setup["package-data"]["vecbench.sweeps"]


def test_cli_grid_runs_the_equal_effort_grid(tmp_path, capsys):
    out = tmp_path / "grid.jsonl"
    code = cli(
        ["run", "--grid", "equal-effort", "--stores", "bruteforce", "--dataset-param", "n=300",
         "--dataset-param", "dim=8", "--dataset-param", "nq=5", "--out", str(out), "--quiet"]
    )  # fmt: skip
    assert code == 0
    assert "1 cell(s), 0 failed" in capsys.readouterr().out
    assert cli(["run", "--grid", "nosuch", "--quiet"]) == 2
    assert "unknown grid 'nosuch'" in capsys.readouterr().err
    assert cli(["run", "--grid", "equal-effort", "--index", "hnsw", "--quiet"]) == 2
    assert "--grid cannot be combined" in capsys.readouterr().err
