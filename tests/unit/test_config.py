import textwrap
from pathlib import Path

import pytest

from vecbench.config import RunConfig, default_config, default_config_dict, expand_grid, load_config_dict
from vecbench.errors import ConfigError, InvalidParameterError, UnknownNameError

BASE = {
    "datasets": [{"name": "synthetic", "params": {"n": 100, "dim": 8, "nq": 5}}],
    "stores": {
        "faiss": {
            "indexes": [{"type": "hnsw", "build": {"m": [8, 16]}, "search": {"ef_search": [8, 16, 32]}}]
        }
    },
}


def _with(**changes):
    d = {**BASE, **changes}
    return d


def test_grid_expansion_cartesian():
    assert expand_grid({"a": [1, 2], "b": [3, 4], "c": 5}) == [
        {"a": 1, "b": 3, "c": 5},
        {"a": 1, "b": 4, "c": 5},
        {"a": 2, "b": 3, "c": 5},
        {"a": 2, "b": 4, "c": 5},
    ]
    assert expand_grid(None) == [{}]
    with pytest.raises(ConfigError, match="empty list"):
        expand_grid({"a": []})


def test_build_once_per_build_setting_then_every_search():
    cfg = RunConfig.from_dict(BASE)
    (store,) = cfg.stores
    (ix,) = store.indexes
    assert ix.build_settings() == [{"m": 8}, {"m": 16}]
    assert ix.search_settings() == [{"ef_search": 8}, {"ef_search": 16}, {"ef_search": 32}]
    assert cfg.n_cells() == 6
    assert cfg.k == 10 and cfg.out is None


def test_roundtrip_to_dict():
    cfg = RunConfig.from_dict(BASE)
    assert RunConfig.from_dict(cfg.to_dict()) == cfg


def test_dataset_forms():
    cfg = RunConfig.from_dict(_with(datasets=["synthetic", {"name": "x.npy", "params": {"metric": "ip"}}]))
    assert [(d.name, dict(d.params)) for d in cfg.datasets] == [
        ("synthetic", {}),
        ("x.npy", {"metric": "ip"}),
    ]


def test_store_without_indexes_gets_every_index_type():
    cfg = RunConfig.from_dict(_with(stores={"bruteforce": None}))
    assert [ix.type for ix in cfg.stores[0].indexes] == ["flat"]


def test_unknown_top_level_key():
    with pytest.raises(ConfigError, match="unknown top-level key.*repeat.*valid: k, out"):
        RunConfig.from_dict(_with(repeat=3))


def test_unknown_store_lists_registered():
    with pytest.raises(UnknownNameError, match="unknown store 'nosuch'; valid: .*bruteforce.*faiss"):
        RunConfig.from_dict(_with(stores={"nosuch": {}}))


def test_unknown_index_type_lists_valid():
    with pytest.raises(
        UnknownNameError, match="unknown index type .*'faiss'.*'hnsww'; valid: flat, hnsw, ivf_flat"
    ):
        RunConfig.from_dict(_with(stores={"faiss": {"indexes": [{"type": "hnsww"}]}}))


def test_unknown_build_and_search_params_list_known():
    with pytest.raises(InvalidParameterError, match="efc.*known: ef_construction, m"):
        RunConfig.from_dict(_with(stores={"faiss": {"indexes": [{"type": "hnsw", "build": {"efc": 100}}]}}))
    with pytest.raises(InvalidParameterError, match="ef.*known: ef_search"):
        RunConfig.from_dict(
            _with(stores={"faiss": {"indexes": [{"type": "hnsw", "search": {"ef": [1, 2]}}]}})
        )


@pytest.mark.parametrize("k", [0, -1, "10", 2.5, True])
def test_bad_k(k):
    with pytest.raises(ConfigError, match="k must be a positive integer"):
        RunConfig.from_dict(_with(k=k))


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"datasets": []}, "datasets"),
        ({"stores": {}}, "stores"),
        ({"stores": {"faiss": {"indexs": []}}}, "unknown key.*indexs"),
        ({"stores": {"faiss": {"indexes": [{"type": "hnsw", "bild": {}}]}}}, "unknown key.*bild"),
        ({"warmup": -1}, "warmup"),
        ({"ready_timeout_s": 0}, "ready_timeout_s"),
    ],
)
def test_other_validation(changes, match):
    with pytest.raises(ConfigError, match=match):
        RunConfig.from_dict(_with(**changes))


def test_from_yaml(tmp_path):
    path = tmp_path / "sweep.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            k: 5
            out: results/sweep.jsonl
            datasets: [synthetic]
            stores:
              faiss:
                config: {threads: 1}
                indexes:
                  - type: ivf_flat
                    build: {nlist: [4, 8]}
                    search: {nprobe: [1, 2]}
            """
        )
    )
    cfg = RunConfig.from_yaml(path)
    assert cfg.k == 5 and cfg.out == "results/sweep.jsonl"
    assert dict(cfg.stores[0].config) == {"threads": 1}
    assert cfg.n_cells() == 4


def test_malformed_yaml_names_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("k: 10\ndatasets: [synthetic]\nstores:\n  faiss: {indexes: [\n  bad: : :\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: line \d+"):
        RunConfig.from_yaml(path)
    path.write_text("k: 10\ndatasets:\n  - synthetic\n\tstores: {}\n")  # a tab on line 4
    with pytest.raises(ConfigError, match=r"line 4"):
        load_config_dict(path)


def test_yaml_not_a_mapping(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping"):
        RunConfig.from_yaml(path)
    path.write_text("")
    with pytest.raises(ConfigError, match="empty"):
        RunConfig.from_yaml(path)
    with pytest.raises(ConfigError, match="cannot read"):
        RunConfig.from_yaml(tmp_path / "missing.yaml")


def test_default_config():
    cfg = default_config()
    metrics = [d.params["metric"] for d in cfg.datasets]
    assert metrics == ["euclidean", "cosine"]
    assert all(
        d.params["n"] == 20_000 and d.params["dim"] == 128 and d.params["nq"] == 200 for d in cfg.datasets
    )
    faiss = next(s for s in cfg.stores if s.name == "faiss")
    assert [ix.type for ix in faiss.indexes] == ["flat", "hnsw", "ivf_flat"]
    d = default_config_dict()
    d["k"] = 3
    assert default_config_dict()["k"] == 10  # a fresh copy each time


@pytest.mark.parametrize(
    "path",
    sorted(
        p
        for p in (Path(__file__).parents[2] / "benchmarks" / "configs").glob("*.yaml")
        if not p.name.startswith("rag")
    ),
    ids=lambda p: p.name,
)
def test_shipped_benchmark_configs_are_valid(path):
    from vecbench.config import RunConfig

    cfg = RunConfig.from_yaml(path)
    assert cfg.stores and cfg.datasets
