"""PgVectorStore without a server: lazy import, config checks, identifier safety, the COPY
stream encoding, DSN redaction, and the unreachable-server message."""

from __future__ import annotations

import pickle
import struct
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from vecbench.adapters.pgvector import DSN_ENV, PgVectorStore, copy_payload, redact_dsn
from vecbench.errors import ConfigError, InvalidParameterError, StoreError
from vecbench.spec import CollectionSpec

INJECTION = 'x"; DROP TABLE t; --'


def test_info() -> None:
    info = PgVectorStore.info
    assert (info.name, info.engine, info.extra, info.embedded) == (
        "pgvector",
        "postgresql+pgvector",
        "pgvector",
        False,
    )
    assert set(info.index_types) == {"flat", "hnsw", "ivfflat"}
    assert info.index_types["flat"].exact and not info.index_types["hnsw"].exact
    assert dict(info.index_types["hnsw"].build) == {"m": 16, "ef_construction": 64}
    assert dict(info.index_types["hnsw"].search) == {
        "ef_search": 40,
        "iterative_scan": "off",
        "max_scan_tuples": None,
        "scan_mem_multiplier": None,
    }
    assert dict(info.index_types["ivfflat"].build) == {"lists": 100}
    assert dict(info.index_types["ivfflat"].search) == {
        "probes": 1,
        "iterative_scan": "off",
        "max_probes": None,
    }
    assert set(info.config_keys) == {
        "dsn",
        "schema",
        "halfvec",
        "maintenance_work_mem",
        "max_parallel_maintenance_workers",
    }


@pytest.mark.parametrize(
    "config",
    [
        {"schema": INJECTION},
        {"schema": "1abc"},
        {"halfvec": "yes"},
        {"maintenance_work_mem": "lots"},
        {"maintenance_work_mem": "512MB; DROP TABLE t"},
        {"max_parallel_maintenance_workers": -1},
        {"dsn": ""},
        {"no_such_key": 1},
    ],
)
def test_bad_config_is_refused_without_io(config: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        PgVectorStore(config)


def test_good_config_is_normalized() -> None:
    store = PgVectorStore({"maintenance_work_mem": "512 MB", "max_parallel_maintenance_workers": 0})
    assert store._config["maintenance_work_mem"] == "512MB"
    assert store._config["schema"] == "public"


def test_injection_in_collection_name_is_refused_before_any_store() -> None:
    with pytest.raises(ConfigError, match="invalid collection name"):
        CollectionSpec(INJECTION, dim=4)


class _RecordingConnection:
    """Stands in for a psycopg connection: records every statement, runs none."""

    def __init__(self) -> None:
        self.statements: list[Any] = []
        self.closed = False

    def execute(self, query: Any, params: Any = None, **kw: Any) -> Any:
        self.statements.append(query)
        raise AssertionError(f"SQL ran: {query!r}")

    def transaction(self) -> Any:
        raise AssertionError("a transaction was opened")

    def cursor(self, *a: Any, **kw: Any) -> Any:
        raise AssertionError("a cursor was opened")

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[PgVectorStore, _RecordingConnection]]:
    """A 'connected' store whose connection refuses to run anything."""
    psycopg = pytest.importorskip("psycopg")
    conn = _RecordingConnection()

    def fake_connect(self: PgVectorStore) -> None:
        self._pg, self._conn, self._where = psycopg, conn, "offline:0"

    monkeypatch.setattr(PgVectorStore, "_connect", fake_connect)
    store = PgVectorStore({"dsn": "postgresql://u@offline/db"})
    with store:
        yield store, conn


def test_smuggled_injection_name_is_refused_before_sql(
    offline: tuple[PgVectorStore, _RecordingConnection],
) -> None:
    store, conn = offline
    spec = CollectionSpec("ok_name", dim=4)
    object.__setattr__(spec, "name", INJECTION)  # bypass CollectionSpec's own check
    with pytest.raises(ConfigError, match="invalid collection name"):
        store.create(spec)
    assert conn.statements == []
    assert store.spec is None


@pytest.mark.parametrize(
    ("index_type", "params", "match"),
    [
        ("hnsw", {"m": 1}, "m must be"),
        ("hnsw", {"m": 16, "ef_construction": 20}, "ef_construction must be"),
        ("ivfflat", {"lists": 0}, "lists must be"),
    ],
)
def test_bad_build_params(
    offline: tuple[PgVectorStore, _RecordingConnection], index_type: str, params: dict[str, Any], match: str
) -> None:
    store, conn = offline
    with pytest.raises(InvalidParameterError, match=match):
        store.create(CollectionSpec("c", dim=4, index_type=index_type, index_params=params))
    assert conn.statements == []


def test_index_dimension_limit_suggests_halfvec(offline: tuple[PgVectorStore, _RecordingConnection]) -> None:
    store, _ = offline
    with pytest.raises(InvalidParameterError, match="halfvec"):
        store.create(CollectionSpec("c", dim=3000, index_type="hnsw"))


def _decode(stream: bytes, half: bool) -> tuple[list[int], list[np.ndarray]]:
    assert stream.startswith(b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8) and stream.endswith(b"\xff\xff")
    pos, ids, vecs = 19, [], []
    while stream[pos : pos + 2] != b"\xff\xff":
        (nfields,) = struct.unpack_from(">h", stream, pos)
        assert nfields == 2
        id_len, id_ = struct.unpack_from(">iq", stream, pos + 2)
        assert id_len == 8
        vec_len, dim, unused = struct.unpack_from(">iHH", stream, pos + 14)
        assert unused == 0 and vec_len == 4 + dim * (2 if half else 4)
        vec = np.frombuffer(stream, dtype=">f2" if half else ">f4", count=dim, offset=pos + 22)
        ids.append(id_)
        vecs.append(vec.astype(np.float32))
        pos += 22 + dim * (2 if half else 4)
    assert pos + 2 == len(stream)
    return ids, vecs


@pytest.mark.parametrize("half", [False, True])
def test_copy_payload_round_trips(half: bool) -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(37, 5)).astype(np.float32)
    ids = rng.choice(2**62, size=37, replace=False).astype(np.int64)
    pieces = list(copy_payload(ids, vectors, half=half, piece_bytes=100))  # several rows per piece at most
    assert len(pieces) > 3
    got_ids, got = _decode(b"".join(pieces), half)
    assert got_ids == ids.tolist()
    want = vectors.astype(np.float16).astype(np.float32) if half else vectors
    np.testing.assert_array_equal(np.stack(got), want)


def test_copy_payload_matches_pgvector_binary_format() -> None:
    pgvector = pytest.importorskip("pgvector")
    v = np.array([[1.5, -2.0, 3.25]], dtype=np.float32)
    stream = b"".join(copy_payload(np.array([7], dtype=np.int64), v))
    assert pgvector.Vector(v[0]).to_binary() in stream
    half = b"".join(copy_payload(np.array([7], dtype=np.int64), v, half=True))
    assert pgvector.HalfVector(v[0]).to_binary() in half


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://user:s3cr3t@db.example:5432/x",
        "postgresql://user@db.example/x?password=s3cr3t&sslmode=require",
        "host=db.example user=u password=s3cr3t dbname=x",
        "host=db.example password='s3 cr3t' dbname=x",
    ],
)
def test_redact_dsn(dsn: str) -> None:
    out = redact_dsn(dsn)
    assert "s3cr3t" not in out and "cr3t" not in out and "***" in out
    assert "db.example" in out
    assert "s3cr3t" not in repr(PgVectorStore({"dsn": dsn}))


def test_pickles_before_enter() -> None:
    store = PgVectorStore({"dsn": "postgresql://u@h/db", "halfvec": True})
    clone = pickle.loads(pickle.dumps(store))
    assert clone._config == store._config


def test_unreachable_server_names_host_port_not_password(closed_port: int) -> None:
    pytest.importorskip("psycopg")
    store = PgVectorStore({"dsn": f"postgresql://vecbench:hunter2secret@127.0.0.1:{closed_port}/vecbench"})
    with pytest.raises(StoreError) as err:
        store.__enter__()
    message = str(err.value)
    assert f"127.0.0.1:{closed_port}" in message
    assert "vecbench services up pgvector" in message
    assert "hunter2secret" not in message
    assert err.value.__cause__ is None and err.value.__suppress_context__
    assert "hunter2secret" not in repr(pickle.loads(pickle.dumps(err.value)))


def test_no_dsn_says_how_to_get_one(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("psycopg")
    monkeypatch.delenv(DSN_ENV, raising=False)
    with pytest.raises(ConfigError, match=DSN_ENV):
        PgVectorStore().__enter__()


def test_invalid_dsn_is_refused_without_echoing_it() -> None:
    pytest.importorskip("psycopg")
    with pytest.raises(ConfigError) as err:
        PgVectorStore({"dsn": "host=h password=topsecret nonsense"}).__enter__()
    assert "topsecret" not in str(err.value)
