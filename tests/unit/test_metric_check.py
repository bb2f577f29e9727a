"""Which metric a data set's own neighbours match: checked on a sample before a run, a
disagreeing run refused with the evidence (unless turned off), unit-length vectors noted."""

from __future__ import annotations

import warnings

import h5py
import numpy as np
import pytest
import yaml

from vecbench.config import RunConfig, Settings
from vecbench.datasets import load
from vecbench.errors import ConfigError
from vecbench.measures.groundtruth import exact_knn
from vecbench.measures.metric_check import (
    MetricNote,
    check_dataset_metric,
    metric_section,
    neighbours_metric,
    unit_length,
)

pytestmark = pytest.mark.usefixtures("vb_cache")


def vectors(n, dim=12, seed=0, unit=False):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dim)).astype(np.float32) * rng.uniform(0.2, 4.0, (n, 1)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True) if unit else x


def hdf5_with_truth(path, metric="cosine", distance="angular", unit=False, nq=60):
    train, test = vectors(800, unit=unit), vectors(nq, seed=1, unit=unit)
    gt = exact_knn(train, test, 20, metric)
    with h5py.File(path, "w") as f:
        f.attrs["distance"] = distance
        f.create_dataset("train", data=train)
        f.create_dataset("test", data=test)
        f.create_dataset("neighbors", data=gt.ids)
        f.create_dataset("distances", data=gt.distances)
    return path


def test_angular_neighbours_refuse_a_euclidean_run_with_the_evidence(tmp_path):
    path = hdf5_with_truth(tmp_path / "g.hdf5")
    ds = load(path, metric="euclidean")
    check = neighbours_metric(ds)
    assert (check.sampled, check.k) == (50, 10)
    assert check.matches["cosine"] == 50 and check.matches["euclidean"] < 25 and not check.agrees
    with pytest.raises(ConfigError) as info:
        check_dataset_metric(ds)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("data set g: its neighbours match cosine on 50/50 sampled queries, ")
    assert f"euclidean on {check.matches['euclidean']}/50" in message
    assert "run it with metric cosine" in message and "metric_check: off" in message
    assert ds.metric_check is None  # refused: nothing recorded as checked


def test_agreeing_metric_is_recorded(tmp_path):
    ds = load(hdf5_with_truth(tmp_path / "g.hdf5"))
    section = check_dataset_metric(ds)
    assert section["status"] == "agrees" and section["matches"]["cosine"] == 50
    assert section["seconds"] >= 0 and "note" not in section
    assert ds.describe()["metric_check"] == section


def test_npy_ground_truth_of_inner_product(tmp_path):
    base, queries = vectors(500), vectors(30, seed=2)
    np.save(tmp_path / "b.npy", base)
    np.save(tmp_path / "q.npy", queries)
    np.save(tmp_path / "gt.npy", exact_knn(base, queries, 10, "ip").ids)
    ds = load(tmp_path / "b.npy", queries=tmp_path / "q.npy", groundtruth=tmp_path / "gt.npy")
    with pytest.raises(ConfigError, match=r"neighbours match ip on 30/30 sampled queries"):
        check_dataset_metric(ds)
    assert check_dataset_metric(ds, enabled=False)["status"] == "off"
    ip = load(tmp_path / "b.npy", queries=tmp_path / "q.npy", groundtruth=tmp_path / "gt.npy", metric="ip")
    assert check_dataset_metric(ip)["status"] == "agrees"


def test_neighbours_of_no_metric(tmp_path):
    base, queries = vectors(300), vectors(20, seed=3)
    np.save(tmp_path / "b.npy", base)
    np.save(tmp_path / "q.npy", queries)
    np.save(tmp_path / "gt.npy", np.random.default_rng(0).integers(0, 300, (20, 10)))
    ds = load(tmp_path / "b.npy", queries=tmp_path / "q.npy", groundtruth=tmp_path / "gt.npy")
    section = metric_section(ds)
    assert section["status"] == "disagrees"
    assert "check that the neighbours belong to these vectors" in section["refusal"]


def test_no_stored_neighbours_and_off():
    ds = load("synthetic", n=500, dim=8, nq=10)
    assert check_dataset_metric(ds) == {"status": "no stored neighbours"}
    assert check_dataset_metric(ds, enabled=False) == {"status": "off"}
    assert ds.describe()["metric_check"] == {"status": "off"}


def test_unit_length_euclidean_run_is_noted_as_cosine(tmp_path):
    ds = load(hdf5_with_truth(tmp_path / "u.hdf5", metric="euclidean", distance="euclidean", unit=True))
    assert unit_length(ds)
    with pytest.warns(MetricNote, match="equals a cosine run"):
        section = check_dataset_metric(ds)
    assert section["status"] == "agrees"  # on unit vectors all three metrics rank alike
    assert section["matches"] == {"euclidean": 50, "cosine": 50, "ip": 50}
    assert "euclidean distance ranks neighbours exactly as cosine" in section["note"]
    cosine = load(tmp_path / "u.hdf5", metric="cosine")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert "note" not in check_dataset_metric(cosine)
    plain = load("synthetic", n=500, dim=8, nq=10)
    assert not unit_length(plain) and "note" not in check_dataset_metric(plain)


def test_metric_check_setting():
    assert Settings().metric_check is True
    cfg = yaml.safe_load("metric_check: off\ndatasets: [synthetic]\nstores: {bruteforce: {}}\n")
    run = RunConfig.from_dict(cfg)
    assert run.settings.metric_check is False
    assert RunConfig.from_dict(run.to_dict()).settings.metric_check is False
    assert "metric_check" not in Settings().as_dict()
    with pytest.raises(ConfigError, match="metric_check must be on or off"):
        Settings(metric_check="sometimes")


def test_a_run_is_refused_before_any_build(tmp_path, monkeypatch):
    import vecbench.api as api
    import vecbench.harness.executor as executor  # the local executor builds every index

    path = hdf5_with_truth(tmp_path / "g.hdf5")
    built = []
    real = executor.run_index
    monkeypatch.setattr(executor, "run_index", lambda *a, **kw: built.append(a) or real(*a, **kw))
    with pytest.raises(ConfigError, match="neighbours match cosine on 50/50"):
        api.benchmark(str(path), ["bruteforce"], index="flat", dataset_params={"metric": "euclidean"})
    assert built == []
    results = api.benchmark(
        str(path), ["bruteforce"], index="flat", dataset_params={"metric": "euclidean"}, metric_check=False
    )
    assert len(built) == 1 and results[0].ok
    assert results[0].record["dataset"]["metric_check"] == {"status": "off"}
    ok = api.benchmark(str(path), ["bruteforce"], index="flat")
    assert ok[0].recall == 1.0 and ok[0].record["dataset"]["metric_check"]["status"] == "agrees"
