"""vecbench.services.rss: process trees read from /proc, and which stores map to a local service.

The service cases write the manager's state file (under a temporary VECBENCH_CACHE) for a
real process this test starts, listening on a real port: the lookup is the code under test,
the processes are real.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from vecbench.services import _proc
from vecbench.services.base import State
from vecbench.services.manager import SERVICES
from vecbench.services.rss import (
    local_service,
    process_tree,
    pss_bytes,
    service_footprint,
    store_address,
    tree_rss_bytes,
)

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")

# A server stand-in: listens on a port, starts a helper that leaves the process group
# (setsid, as a daemonizing helper would), prints "<port> <helper pid>" and waits.
_SERVER = """
import os, socket, subprocess, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
helper = subprocess.Popen([sys.executable, "-c", "import os, time; os.setsid(); time.sleep(120)"])
print(s.getsockname()[1], helper.pid, flush=True)
time.sleep(120)
"""


@pytest.fixture
def server() -> Iterator[tuple[subprocess.Popen[str], int, int]]:
    """(process, port, helper pid) of a server in its own session, like vecbench services starts."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVER], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    assert proc.stdout is not None
    port, helper = (int(x) for x in proc.stdout.readline().split())
    try:
        yield proc, port, helper
    finally:
        for pid in (helper, proc.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait(timeout=10)
        _proc.wait_until(lambda: not _proc.is_alive(helper), 10.0)


@pytest.fixture
def cache(vb_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The private cache (where the service state files go), no engine address from outside."""
    for var in ("VECBENCH_CHROMA_URL", "VECBENCH_MILVUS_URI", "VECBENCH_PG_DSN", "VECBENCH_REDIS_URL"):
        monkeypatch.delenv(var, raising=False)
    return vb_cache


def _record(name: str, pid: int, port: int) -> State:
    svc = SERVICES[name]
    state = State(
        name=name,
        pid=pid,
        start_ticks=_proc.start_time(pid),
        port=port,
        url=svc.url(port),
        env_var=svc.env_var,
        started_at=time.time(),
        command=["server"],
    )
    svc.home().mkdir(parents=True, exist_ok=True)
    svc.state_file().write_text(state.to_json())
    return state


# -- process trees ---------------------------------------------------------------------------


def test_process_tree_of_this_process_includes_itself_and_a_child() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        tree = process_tree(os.getpid())
        assert os.getpid() in tree and child.pid in tree
        rss, pids = tree_rss_bytes(os.getpid())
        assert child.pid in pids
        assert rss > 0  # (figures read at different moments are not compared: RSS moves)
        pss = pss_bytes(pids)
        assert pss is not None and pss > 0
    finally:
        child.kill()
        child.wait(timeout=10)
    assert child.pid not in process_tree(os.getpid())


def test_process_tree_follows_children_that_left_the_group(server) -> None:
    proc, _, helper = server
    # Once the helper has left the group (setsid), only its parent pid ties it to the server.
    assert _proc.wait_until(lambda: helper not in _proc.group_members(proc.pid), 10.0)
    assert _proc.is_alive(helper)
    tree = process_tree(proc.pid)
    assert proc.pid in tree and helper in tree
    assert os.getpid() not in tree


def test_process_tree_of_a_gone_process_is_empty() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=30)
    assert process_tree(child.pid) == []


# -- which store points at which service -----------------------------------------------------


@pytest.mark.parametrize(
    ("store", "config", "expected"),
    [
        ("milvus", {"uri": "http://127.0.0.1:29530"}, ("127.0.0.1", 29530)),
        ("milvus", {"uri": "tcp://localhost"}, ("localhost", 19530)),
        ("chroma", {"url": "http://127.0.0.1:18000"}, ("127.0.0.1", 18000)),
        ("chroma", {"url": "https://chroma.example"}, ("chroma.example", 443)),
        ("redis", {"url": "redis://:secret@127.0.0.1:16379/0"}, ("127.0.0.1", 16379)),
        ("redis", {"url": "unix:///tmp/redis.sock"}, None),
        ("pgvector", {"dsn": "postgresql://vecbench@127.0.0.1:15432/vecbench"}, ("127.0.0.1", 15432)),
        ("pgvector", {"dsn": "postgresql:///vecbench?host=/run/pg&port=15433"}, ("/run/pg", 15433)),
        ("pgvector", {"dsn": "host=127.0.0.1 port=15432 dbname=vecbench"}, ("127.0.0.1", 15432)),
        ("pgvector", {"dsn": "host='/a dir' dbname=x"}, ("/a dir", 5432)),
        ("pgvector", {"dsn": "postgresql://a:1,b:2/db"}, None),
        ("faiss", {}, None),
    ],
)
def test_store_address(cache: Path, store: str, config: dict[str, str], expected: object) -> None:
    assert store_address(store, config) == expected


def test_store_address_falls_back_to_the_adapters_variable(cache: Path, monkeypatch) -> None:
    monkeypatch.setenv("VECBENCH_REDIS_URL", "redis://127.0.0.1:16390")
    assert store_address("redis", {}) == ("127.0.0.1", 16390)
    assert store_address("redis", {"url": "redis://127.0.0.1:7000"}) == ("127.0.0.1", 7000)


def test_service_footprint_finds_the_service_and_its_whole_tree(cache: Path, server) -> None:
    proc, port, helper = server
    state = _record("redis", proc.pid, port)
    got = service_footprint("redis", {"url": f"redis://127.0.0.1:{port}"})
    assert got is not None
    assert got["name"] == "redis" and got["pid"] == state.pid
    assert got["rss_bytes"] > 0
    assert "over the 2 process(es)" in got["method"]  # the server and the helper that left its group
    assert got["pss_bytes"] is not None and got["pss_bytes"] > 0
    assert "VmRSS" in got["method"] and str(proc.pid) in got["method"]
    found = local_service("redis", {"url": f"redis://localhost:{port}"})
    assert found is not None and found[0].name == "redis"


def test_service_footprint_is_none_for_other_addresses(cache: Path, server, closed_port: int) -> None:
    proc, port, _ = server
    _record("milvus", proc.pid, port)
    assert service_footprint("milvus", {"uri": f"http://127.0.0.1:{port}"}) is not None
    assert service_footprint("milvus", {"uri": f"http://127.0.0.1:{closed_port}"}) is None  # not our port
    assert service_footprint("milvus", {"uri": f"http://milvus.example:{port}"}) is None  # remote
    assert service_footprint("chroma", {"url": f"http://127.0.0.1:{port}"}) is None  # no chroma state
    assert service_footprint("milvus", {}) is None  # no address at all
    assert service_footprint("faiss", {}) is None  # embedded: no service


def test_service_footprint_is_none_once_the_service_stopped(cache: Path, server) -> None:
    proc, port, helper = server
    _record("chroma", proc.pid, port)
    assert service_footprint("chroma", {"url": f"http://127.0.0.1:{port}"}) is not None
    for pid in (helper, proc.pid):
        os.kill(pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert _proc.wait_until(lambda: not _proc.is_alive(helper), 10.0)
    assert service_footprint("chroma", {"url": f"http://127.0.0.1:{port}"}) is None


def test_pgvector_socket_directory_counts_as_local(cache: Path, server) -> None:
    proc, port, _ = server
    _record("pgvector", proc.pid, port)
    run_dir = SERVICES["pgvector"].home() / "run"
    assert service_footprint("pgvector", {"dsn": f"host={run_dir} port={port} dbname=vecbench"}) is not None
    assert service_footprint("pgvector", {"dsn": f"host=/elsewhere port={port} dbname=vecbench"}) is None
