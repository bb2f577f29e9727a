"""vecbench on a real two-node Ray cluster on this machine (``ray.cluster_utils.Cluster``:
a head and a worker node on loopback, one CPU each), started once for the module.

Checked: a sweep on two nodes gives the recall one process gives (exactly, for exact stores)
and uses both nodes; a load test on two nodes gives the local run's fields; sharded ground
truth equals ``exact_knn``; Ray Data embeds a corpus as the local loop does; a cluster with
too few CPUs for the load workers is refused before work; a node lost mid-run fails its
cells with the reason while the others finish (last: it changes the cluster).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import vecbench
from vecbench.errors import ConfigError
from vecbench.results import read_results

ray = pytest.importorskip("ray")
pytest.importorskip("hdrh")
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("vb_cache")]

DATA = {"n": 2000, "dim": 16, "nq": 40}
FAST = {"repeats": 1, "warmup": 0, "ci_resamples": 20, "disturbed_retries": 0}


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    from ray.cluster_utils import Cluster

    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    c.add_node(num_cpus=1)
    c.wait_for_nodes()
    ray.init(address=c.address, log_to_driver=False)
    try:
        yield c
    finally:
        ray.shutdown()
        c.shutdown()


def _grid(**settings: Any) -> list[Any]:
    return vecbench.benchmark(
        "synthetic", ["bruteforce", "faiss"], index="flat", dataset_params=DATA, **FAST, **settings
    )


def test_a_sweep_on_two_nodes_gives_one_process_s_recall_and_uses_both(cluster: Any, tmp_path: Path):
    settings = [("faiss", "ivf_flat", {"nlist": 16}, {"nprobe": [1, 4]})]
    local = _grid() + vecbench.benchmark(
        "synthetic",
        "faiss",
        index="ivf_flat",
        build={"nlist": 16},
        search={"nprobe": [1, 4]},
        dataset_params=DATA,
        **FAST,
    )
    out = tmp_path / "ray.jsonl"
    on_ray = _grid(executor="ray", out=out) + vecbench.benchmark(
        "synthetic",
        "faiss",
        index="ivf_flat",
        build={"nlist": 16},
        search={"nprobe": [1, 4]},
        dataset_params=DATA,
        executor="ray",
        out=tmp_path / "ivf.jsonl",
        **FAST,
    )
    assert settings and all(r.ok for r in on_ray), [r.error for r in on_ray]
    assert [r.cell_id for r in on_ray] == [r.cell_id for r in local]
    assert [r.recall for r in on_ray] == [r.recall for r in local]
    for a, b in zip(on_ray[:2], local[:2], strict=True):  # exact stores: the very same ids
        assert np.array_equal(a.ids, b.ids)
    written = read_results(out)
    assert sorted(w["cell_id"] for w in written) == sorted(r.cell_id for r in on_ray[:2])  # as cells finish
    assert all((tmp_path / w["sidecar"]).is_file() for w in written)
    cl = written[0]["machine"]["cluster"]
    assert cl["executor"] == "ray" and cl["nodes"] == 2 and cl["cpus_per_node"] == [1.0, 1.0]
    assert cl["ray_version"] == ray.__version__
    used = {r.record["machine"]["cluster"]["node_id"] for r in on_ray}
    assert used == set(cl["node_ids"])  # three index settings, two nodes: both ran cells


def test_a_load_test_on_two_nodes_gives_the_local_fields(cluster: Any):
    load = {"concurrency": [2], "rates": [200], "rate_workers": 2, "duration_s": 0.5, "warmup_s": 0.1}
    kw = {"index": "flat", "dataset_params": DATA, "load": load, **FAST}
    local = vecbench.benchmark("synthetic", "faiss", **kw)[0].record["load"]
    on_ray = vecbench.benchmark("synthetic", "faiss", executor="ray", **kw)[0].record["load"]
    for part, rows in (("closed_loop", "levels"), ("open_loop", "rates")):
        got, want = on_ray[part][rows][0], local[part][rows][0]
        assert want["status"] == "ok" and got["status"] == "ok", got["error"]
        assert list(got) == list(want)
        assert {k for k, v in got.items() if v is None} == {"error"}
        assert got["errors"] == 0
    assert on_ray["open_loop"]["rates"][0]["sent"] == local["open_loop"]["rates"][0]["sent"] == 100
    placed = on_ray["cluster"]["actor_nodes"]
    assert all(len(set(level)) == 2 for level in placed)  # each level's two actors on both nodes


def test_a_cluster_with_too_few_cpus_for_the_load_workers_is_refused_before_work(
    cluster: Any, tmp_path: Path
):
    out = tmp_path / "run.jsonl"
    with pytest.raises(ConfigError, match="2 CPU.* fewer than the 3 load workers"):
        vecbench.benchmark(
            "synthetic",
            "faiss",
            index="flat",
            dataset_params=DATA,
            executor="ray",
            out=out,
            load={"concurrency": [3], "duration_s": 0.5},
            **FAST,
        )
    assert not out.exists()


@pytest.mark.parametrize("metric", ["euclidean", "cosine", "ip"])
def test_sharded_ground_truth_equals_exact_knn(cluster: Any, metric: str):
    from vecbench.distributed.truth import sharded_knn_nodes
    from vecbench.measures.groundtruth import exact_knn

    rng = np.random.default_rng(7)
    base = rng.standard_normal((3001, 24)).astype(np.float32)
    queries = rng.standard_normal((50, 24)).astype(np.float32)
    want = exact_knn(base, queries, 10, metric)
    got, nodes = sharded_knn_nodes(base, queries, 10, metric, shards=4)
    assert np.array_equal(got.ids, want.ids)
    assert np.array_equal(got.distances, want.distances)
    assert len(nodes) == 4 and len(set(nodes)) == 2


def test_ray_data_embeds_a_corpus_as_the_local_loop_does(cluster: Any):
    from tests.unit.rag_helpers import cranfield_texts
    from vecbench.chunking.base import Chunk
    from vecbench.distributed.embed import embed_corpus_ray
    from vecbench.embedding.hashing import HashingEmbedder
    from vecbench.rag.corpus import ChunkedCorpus, embed_corpus
    from vecbench.rag.rerank import DocChunk

    texts = cranfield_texts(300)
    chunks = [DocChunk(str(i), Chunk(t, 0, len(t))) for i, t in enumerate(texts)]
    corpus = ChunkedCorpus(chunks, {"name": "whole", "params": {}}, 0.0, 0)
    local = embed_corpus(corpus, HashingEmbedder(dim=64), batch_size=32)
    on_ray = embed_corpus_ray(corpus, HashingEmbedder(dim=64), batch_size=32, concurrency=2)
    assert np.array_equal(on_ray.vectors, local.vectors)
    assert on_ray.tokens == local.tokens and on_ray.dim == 64


def test_a_rag_run_with_executor_ray_scores_as_the_local_run(cluster: Any):
    from tests.unit.rag_helpers import CRANFIELD
    from vecbench.rag.run import run_rag

    cfg = {
        "dataset": {"path": CRANFIELD, "max_queries": 30},
        "chunkers": [{"name": "recursive", "params": {"chunk_size": 400, "chunk_overlap": 0}}],
        "embedders": [{"name": "hashing", "params": {"dim": 256}}],
        "stores": ["bruteforce"],
        "k": [10],
        "k_chunks": 10,
        "embedding_cache": False,
        "ci_resamples": 20,
    }
    (local,) = run_rag(cfg)
    (on_ray,) = run_rag({**cfg, "executor": "ray"})
    assert local["status"] == on_ray["status"] == "ok", on_ray["error"]
    assert on_ray["quality"] == local["quality"]
    assert on_ray["counts"] == local["counts"]


def _running_a_cell(node: Any) -> bool:
    """Whether a worker of ``node`` (a child of its raylet) is executing a cell's task: Ray
    titles a worker process ``ray::<task>`` while it runs one."""
    import psutil

    raylet = psutil.Process(node.all_processes["raylet"][0].process.pid)
    for child in raylet.children(recursive=True):
        try:
            if child.cmdline()[:1] == ["ray::_index_task"]:
                return True
        except psutil.Error:
            continue
    return False


def _wait_for(check: Any, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def test_a_node_lost_mid_run_fails_its_cells_and_the_rest_finish(cluster: Any, tmp_path: Path):
    from vecbench.datasets import load
    from vecbench.measures.groundtruth import ground_truth

    data = {"n": 20000, "dim": 32, "nq": 50}
    ground_truth(load("synthetic", **data), 10)  # cached now: the node is lost during a cell, not here
    node = cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    killed = threading.Event()

    def kill_when_busy() -> None:
        if _wait_for(lambda: _running_a_cell(node), 300):
            time.sleep(0.5)  # well inside the index build
        cluster.remove_node(node)
        killed.set()

    killer = threading.Thread(target=kill_when_busy, daemon=True)
    killer.start()
    out = tmp_path / "run.jsonl"
    results = vecbench.benchmark(
        "synthetic",
        "faiss",
        index="hnsw",
        build={"m": [8, 12, 16, 24, 32, 48]},
        search={"ef_search": [16, 64]},
        dataset_params={"n": 20000, "dim": 32, "nq": 50},
        executor="ray",
        out=out,
        **FAST,
    )
    killer.join(timeout=60)
    assert killed.is_set()
    written = read_results(out)
    assert len(written) == len(results) == 12  # every cell recorded, ok or failed
    failed = [r for r in results if not r.ok]
    assert failed, "no cell ran on the lost node"
    assert all(r.error["type"] == "NodeLostError" for r in failed)
    assert all(len(r.error["message"]) > len("NodeLostError") for r in failed)
    assert len(failed) % 2 == 0  # whole index settings (both search settings) fail together
    assert any(r.ok for r in results)
    assert {w["status"] for w in written} == {"ok", "failed"}
