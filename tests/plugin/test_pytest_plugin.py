"""The vb_dataset, vb_store and vb_search fixtures, each exercised by an inner pytest run."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("faiss")

HEAVY = ["faiss", "chromadb", "qdrant_client", "qdrant_edge", "pymilvus", "psycopg", "redis", "torch"]


def test_plugin_is_loaded_through_its_entry_point(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--trace-config", "--co", "-q")
    result.stdout.fnmatch_lines(["*PLUGIN registered: <module 'vecbench.pytest_plugin'*"])


def test_importing_the_plugin_loads_no_heavy_module() -> None:
    code = (
        "import json, sys\nimport vecbench.pytest_plugin\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_markers_are_registered_for_strict_markers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.vb_dataset("synthetic", n=200, dim=8, nq=5)
        @pytest.mark.vb_index("flat")
        @pytest.mark.vb_store_config(store="faiss", threads=1)
        def test_marked(vb_store):
            assert vb_store.spec.index_type == "flat"
        """
    )
    pytester.runpytest("--strict-markers").assert_outcomes(passed=1)
    listed = pytester.runpytest("--markers")
    listed.stdout.fnmatch_lines(["*vb_dataset(*", "*vb_index(*", "*vb_store_config(*"])


def test_vb_dataset_default_marker_and_indirect(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        def test_default(vb_dataset):
            assert (vb_dataset.n, vb_dataset.dim, vb_dataset.nq) == (2000, 32, 100)
            assert vb_dataset.metric.value == "euclidean"

        @pytest.mark.vb_dataset("synthetic", n=300, dim=8, nq=7, metric="cosine")
        def test_marker(vb_dataset):
            assert (vb_dataset.n, vb_dataset.dim, vb_dataset.nq) == (300, 8, 7)
            assert vb_dataset.metric.value == "cosine"

        @pytest.mark.parametrize(
            "vb_dataset, shape", [({"n": 150, "dim": 4}, (150, 4, 100)), ("synthetic", (2000, 32, 100))],
            indirect=["vb_dataset"],
        )
        def test_indirect(vb_dataset, shape):
            assert (vb_dataset.n, vb_dataset.dim, vb_dataset.nq) == shape
        """
    )
    pytester.runpytest().assert_outcomes(passed=4)


def test_vb_store_builds_searches_and_drops(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import numpy as np
        import pytest
        from vecbench.errors import StoreError
        from vecbench.measures.groundtruth import exact_knn

        USED = []

        @pytest.mark.vb_dataset("synthetic", n=500, dim=16, nq=20)
        @pytest.mark.vb_index("flat")
        @pytest.mark.parametrize("vb_store", ["faiss", "bruteforce"], indirect=True)
        def test_search(vb_store, vb_dataset, vb_index_info):
            truth = exact_knn(vb_dataset.base, vb_dataset.queries, 10, vb_dataset.metric)
            got = np.stack([vb_store.search(q, 10) for q in vb_dataset.queries])
            assert np.array_equal(got, truth.ids)
            assert vb_index_info.store_name == vb_store.info.name
            assert vb_index_info.index_type == "flat"
            assert vb_index_info.collection == vb_store.spec.name
            assert vb_index_info.timings["ingest_s"] >= 0
            USED.append(vb_store)

        def test_dropped_afterwards():
            assert len(USED) == 2
            for store in USED:
                assert store.spec is None
                with pytest.raises(StoreError):
                    store.search(np.zeros(16, dtype=np.float32), 1)
        """
    )
    pytester.runpytest().assert_outcomes(passed=3)


def test_server_store_collection_is_dropped_on_the_server(pytester: pytest.Pytester) -> None:
    if not os.environ.get("VECBENCH_REDIS_URL"):
        pytest.skip("needs a Redis Stack server: set VECBENCH_REDIS_URL (`vecbench services up redis`)")
    pytester.makepyfile(
        """
        import os
        import pytest
        from vecbench import CollectionSpec
        from vecbench.registry import get_store

        BUILT = []

        @pytest.mark.vb_dataset("synthetic", n=300, dim=8, nq=5)
        @pytest.mark.vb_index("flat")
        @pytest.mark.parametrize("vb_store", ["redis"], indirect=True)
        def test_on_server(vb_store, vb_dataset, vb_index_info):
            assert len(vb_store.search(vb_dataset.queries[0], 5)) == 5
            BUILT.append(vb_index_info)

        def test_gone_from_server():
            (info,) = BUILT
            # create() without drop_old refuses an index left on the server.
            with get_store("redis", {"url": os.environ["VECBENCH_REDIS_URL"]}) as store:
                store.create(CollectionSpec(info.collection, dim=8, index_type="flat"))
                store.drop()
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)


def test_missing_client_and_missing_server_skip_with_reason(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # None in sys.modules is how Python marks a module as not importable: find_spec says so.
    monkeypatch.setitem(sys.modules, "chromadb", None)
    monkeypatch.delenv("VECBENCH_REDIS_URL", raising=False)
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("vb_store", ["chroma-embedded", "redis"], indirect=True)
        def test_store(vb_store):
            pass
        """
    )
    result = pytester.runpytest_inprocess("-rs")
    result.assert_outcomes(skipped=2)
    out = result.stdout.str()
    assert "store 'chroma-embedded': client (chromadb) not installed; pip install 'vecbench[chroma]'" in out
    assert (
        "store 'redis' needs a server: set VECBENCH_REDIS_URL (start one with `vecbench services up redis`)"
        in out
    )


def test_index_type_a_store_lacks_skips_and_a_typo_errors(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.vb_index("hnsw")
        @pytest.mark.parametrize("vb_store", ["bruteforce"], indirect=True)
        def test_lacks(vb_store):
            pass

        @pytest.mark.vb_index("hsnw")
        @pytest.mark.parametrize("vb_store", ["faiss"], indirect=True)
        def test_typo(vb_store):
            pass

        @pytest.mark.parametrize("vb_store", ["no-such-store"], indirect=True)
        def test_unknown_store(vb_store):
            pass
        """
    )
    result = pytester.runpytest("-rs")
    result.assert_outcomes(skipped=1, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*UnknownNameError: unknown index type 'hsnw'*",
            "*UnknownNameError: unknown store 'no-such-store'*",
            "*store 'bruteforce' has no index type 'hnsw' (it has: flat)*",
        ]
    )


def test_vb_store_option_parametrizes_and_filters(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        pytestmark = [pytest.mark.vb_dataset("synthetic", n=200, dim=8, nq=5), pytest.mark.vb_index("flat")]

        def test_plain(vb_store, request):
            wanted = request.config.getoption("--vb-store") or ["faiss"]
            assert vb_store.info.name in ",".join(wanted).split(",")

        @pytest.mark.parametrize("vb_store", ["faiss", "bruteforce"], indirect=True)
        def test_both(vb_store):
            pass
        """
    )
    pytester.runpytest().assert_outcomes(passed=3)
    both = pytester.runpytest("-v", "--vb-store", "faiss,bruteforce")
    both.assert_outcomes(passed=4)
    both.stdout.fnmatch_lines(["*test_plain?faiss? PASSED*", "*test_plain?bruteforce? PASSED*"])
    only = pytester.runpytest("-v", "--vb-store", "bruteforce")
    only.assert_outcomes(passed=2, deselected=1)
    only.stdout.fnmatch_lines(["*test_both?bruteforce? PASSED*"])


def test_vb_search_fills_extra_info(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        from vecbench.errors import ConfigError

        @pytest.mark.vb_dataset("synthetic", n=400, dim=8, nq=30, metric="cosine")
        @pytest.mark.vb_index("hnsw", m=8)
        @pytest.mark.parametrize("vb_store", ["faiss", "bruteforce"], indirect=True)
        def test_hnsw(benchmark, vb_store, vb_dataset, vb_search):  # bruteforce: skipped, no hnsw
            result = vb_search(benchmark, vb_store, vb_dataset, k=5, search_params={"ef_search": 50}, rounds=2)
            assert result.latencies_ns.shape == (2 * 30,)
            assert result.ids.shape == (30, 5)
            assert benchmark.extra_info["p99_ms"] == result.p99_ms

        @pytest.mark.vb_dataset("synthetic", n=400, dim=8, nq=30)
        @pytest.mark.vb_index("flat")
        @pytest.mark.parametrize("vb_store", ["bruteforce"], indirect=True)
        def test_bad_input(benchmark, vb_store, vb_dataset, vb_search):
            with pytest.raises(ConfigError, match="rounds"):
                vb_search(benchmark, vb_store, vb_dataset, rounds=0)
            with pytest.raises(ConfigError):
                vb_search(benchmark, vb_store, vb_dataset, k=0)
            with pytest.raises(ConfigError, match="pytest-benchmark"):
                vb_search(object(), vb_store, vb_dataset)
        """
    )
    out = pytester.path / "bench.json"
    result = pytester.runpytest(f"--benchmark-json={out}")
    result.assert_outcomes(passed=2, skipped=1)
    (bench,) = [b for b in json.loads(out.read_text())["benchmarks"] if "faiss" in b["name"]]
    info = bench["extra_info"]
    assert (info["store"], info["index_type"], info["k"]) == ("faiss", "hnsw", 5)
    assert info["build_params"] == {"m": 8}
    assert info["search_params"] == {"ef_search": 50}
    assert (info["rounds"], info["queries"]) == (2, 30)
    assert bench["stats"]["rounds"] == 2
    assert 0.0 <= info["recall_at_k"] <= info["tie_aware_recall_at_k"] <= 1.0
    assert info["recall_at_k"] >= 0.9  # ef_search 50 on 400 vectors: close to exact
    assert 0.0 < info["p50_ms"] <= info["p95_ms"] <= info["p99_ms"] <= info["max_ms"]
    assert info["qps"] > 0
    assert info["dataset"]["n"] == 400 and info["dataset"]["metric"] == "cosine"
    assert info["ingest_s"] >= 0 and "build_s" in info


def test_exact_store_gets_recall_one(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.vb_dataset("synthetic", n=300, dim=8, nq=10)
        @pytest.mark.parametrize("vb_store", ["bruteforce"], indirect=True)
        def test_exact(benchmark, vb_store, vb_dataset, vb_search):
            result = vb_search(benchmark, vb_store, vb_dataset, k=10, rounds=1)
            assert result.recall_at_k == 1.0 and result.tie_aware_recall_at_k == 1.0
            assert result.index_type == "flat" and result.rounds == 1
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_without_pytest_benchmark_the_store_fixtures_still_work(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.vb_dataset("synthetic", n=200, dim=8, nq=5)
        @pytest.mark.parametrize("vb_store", ["bruteforce"], indirect=True)
        def test_store(vb_store, vb_dataset):
            assert len(vb_store.search(vb_dataset.queries[0], 3)) == 3

        def test_search(vb_search):
            pass
        """
    )
    result = pytester.runpytest("-p", "no:benchmark")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*vb_search needs pytest-benchmark: pip install pytest-benchmark*"])
