import json
import os

import numpy as np
import pytest

from vecbench.errors import ConfigError, ResultsFormatError
from vecbench.results import (
    MEASURED,
    RAG_RECORD_KEYS,
    RECORD_KEYS,
    ResultsWriter,
    cell_id,
    completed_cells,
    make_record,
    public_config,
    read_results,
    read_sidecar,
    upgrade_record,
    validate_record,
    write_sidecar,
)


def _record(cell="c1", error=None, **measured):
    common = dict(
        run_id="r1",
        cell_id=cell,
        created_at="2025-01-01T00:00:00+00:00",
        versions={"vecbench": "0"},
        machine={"cpu_model": "x"},
        store={"name": "bruteforce", "config": {}, "describe": {}},
        dataset={"name": "synthetic", "checksum": "abc"},
        index={"type": "flat", "params": {}},
        search={"params": {}, "k": 10},
    )
    if error is None:
        measured = {
            "timings": {"create_s": 0.1, "ingest_s": 0.2, "build_s": 0.0, "vectors_per_s": 5.0},
            "quality": {"k": 10, "recall_at_k": 1.0, "tie_aware_recall_at_k": 1.0},
            "latency": {"p50_ms": 0.1},
            "qps": {"serial": 10.0, "batch": None},
            "footprint": None,
            **measured,
        }
    return make_record(**common, error=error, **measured)


def test_record_has_exactly_the_schema_keys():
    rec = _record()
    assert tuple(rec) == RECORD_KEYS
    assert rec["schema"] == "vecbench.result" and rec["schema_version"] == 3 and rec["kind"] == "vector"
    assert rec["load"] is None and rec["cost"] is None and rec["ci"] is None
    assert rec["status"] == "ok" and rec["error"] is None


def test_failed_record_has_no_numbers():
    rec = _record(error=ValueError("boom"), timings={"create_s": 1.0})
    assert rec["status"] == "failed"
    assert rec["error"] == {"type": "ValueError", "message": "boom"}
    for section in MEASURED:
        assert rec[section] is None
    assert rec["sidecar"] is None
    bad = dict(rec, quality={"recall_at_k": 0.5})
    with pytest.raises(ResultsFormatError):
        validate_record(bad)


def test_append_and_read_roundtrip(tmp_path):
    path = tmp_path / "deep" / "dir" / "run.jsonl"
    w = ResultsWriter(path)
    w.append(_record("a"))
    w.append(_record("b", error=RuntimeError("x")))
    raw = path.read_bytes()
    assert raw.count(b"\n") == 2 and raw.endswith(b"\n")
    recs = read_results(path)
    assert [r["cell_id"] for r in recs] == ["a", "b"]
    assert completed_cells(path) == {"a"}
    # appending again from a new writer keeps what is there
    ResultsWriter(path).append(_record("c"))
    assert completed_cells(path) == {"a", "c"}


def test_each_append_is_one_write_on_append_fd(tmp_path, monkeypatch):
    path = tmp_path / "run.jsonl"
    calls = []
    real_write, real_open = os.write, os.open

    def spy_open(p, flags, *a):
        fd = real_open(p, flags, *a)
        if str(p) == str(path):
            assert flags & os.O_APPEND
        return fd

    def spy_write(fd, data):
        calls.append(bytes(data))
        return real_write(fd, data)

    monkeypatch.setattr(os, "open", spy_open)
    monkeypatch.setattr(os, "write", spy_write)
    ResultsWriter(path).append(_record("a"))
    assert len(calls) == 1 and calls[0].endswith(b"\n") and calls[0].count(b"\n") == 1
    json.loads(calls[0])


def test_torn_final_line_ignored_on_read_and_cut_on_write(tmp_path):
    path = tmp_path / "run.jsonl"
    ResultsWriter(path).append(_record("a"))
    line = json.dumps(_record("b"), separators=(",", ":"))
    with open(path, "ab") as f:
        f.write(line[: len(line) // 2].encode())  # a crash mid-write
    with pytest.warns(UserWarning, match="torn"):
        assert [r["cell_id"] for r in read_results(path)] == ["a"]
    with pytest.warns(UserWarning, match="torn"):
        w = ResultsWriter(path)
    w.append(_record("c"))
    assert [r["cell_id"] for r in read_results(path)] == ["a", "c"]


def test_only_a_torn_line(tmp_path):
    path = tmp_path / "run.jsonl"
    path.write_bytes(b'{"schema":"vecbench.result","sche')
    with pytest.warns(UserWarning):
        assert read_results(path) == []
    with pytest.warns(UserWarning):
        ResultsWriter(path).append(_record("a"))
    assert completed_cells(path) == {"a"}


@pytest.mark.parametrize(
    "content",
    [b"id,recall\n1,0.5\n", b'{"schema": "other"}\n', b"[1, 2]\n", b"hello", b'{"a": 1}\n'],
)
def test_not_vecbench_file_refused_before_writing(tmp_path, content):
    path = tmp_path / "other.jsonl"
    path.write_bytes(content)
    with pytest.raises(ResultsFormatError, match="not a vecbench results file"):
        ResultsWriter(path)
    assert path.read_bytes() == content
    with pytest.raises(ResultsFormatError):
        read_results(path)


def test_unknown_schema_version_refused(tmp_path):
    path = tmp_path / "run.jsonl"
    rec = dict(_record("a"), schema_version=99)
    path.write_text(json.dumps(rec) + "\n")
    with pytest.raises(ResultsFormatError, match="unknown schema version 99; this vecbench reads 1-3"):
        read_results(path)
    with pytest.raises(ResultsFormatError, match="schema version"):
        ResultsWriter(path)
    # a later line of another version is refused too
    path.write_text(json.dumps(_record("a")) + "\n" + json.dumps(rec) + "\n")
    with pytest.raises(ResultsFormatError, match=":2: unknown schema version 99"):
        read_results(path)


def _as_v1(rec):
    dropped = ("load", "cost", "ci", "machine_load") if rec["kind"] == "vector" else ("ci", "machine_load")
    return {**{k: v for k, v in rec.items() if k not in dropped}, "schema_version": 1}


def _as_v2(rec):
    return {**{k: v for k, v in rec.items() if k != "machine_load"}, "schema_version": 2}


def test_version_2_records_get_machine_load_as_null(tmp_path):
    path = tmp_path / "v2.jsonl"
    path.write_text(json.dumps(_as_v2(_record("a"))) + "\n")
    (rec,) = read_results(path)
    assert tuple(rec) == RECORD_KEYS and rec["schema_version"] == 3 and rec["machine_load"] is None


def test_version_1_records_are_upgraded_on_read(tmp_path):
    path = tmp_path / "old.jsonl"
    v1 = _as_v1(_record("a"))
    path.write_text(json.dumps(v1) + "\n" + json.dumps(_as_v1(_record("b", error=ValueError("x")))) + "\n")
    recs = read_results(path)
    assert [tuple(r) for r in recs] == [RECORD_KEYS, RECORD_KEYS]
    assert all(r["schema_version"] == 3 and r["load"] is r["cost"] is r["ci"] is None for r in recs)
    assert recs[0]["quality"] == v1["quality"]
    for r in recs:
        validate_record(r)
    # a v1 file can be appended to, and reads back whole
    ResultsWriter(path).append(_record("c"))
    assert [r["cell_id"] for r in read_results(path)] == ["a", "b", "c"]
    assert completed_cells(path) == {"a", "c"}


def test_upgrade_of_a_rag_record():
    rec = {k: None for k in RAG_RECORD_KEYS} | {"schema": "vecbench.result", "kind": "rag"}
    v1 = _as_v1(rec)
    assert "ci" not in v1
    up = upgrade_record(v1)
    assert tuple(up) == RAG_RECORD_KEYS and up["ci"] is None and up["schema_version"] == 3


def test_new_sections_are_null_in_a_failed_record():
    rec = _record(error=ValueError("x"))
    assert rec["load"] is rec["cost"] is rec["ci"] is None
    with pytest.raises(ResultsFormatError, match="cost"):
        validate_record(dict(rec, cost={"usd_per_month": 1.0}))


def test_corrupt_middle_line_refused(tmp_path):
    path = tmp_path / "run.jsonl"
    path.write_text(json.dumps(_record("a")) + "\n{not json\n" + json.dumps(_record("b")) + "\n")
    with pytest.raises(ResultsFormatError, match=":2: corrupt"):
        read_results(path)


def test_nan_refused(tmp_path):
    rec = _record("a", quality={"k": 10, "recall_at_k": float("nan"), "tie_aware_recall_at_k": 1.0})
    with pytest.raises(ResultsFormatError):
        ResultsWriter(tmp_path / "r.jsonl").append(rec)
    assert not (tmp_path / "r.jsonl").exists() or (tmp_path / "r.jsonl").read_bytes() == b""


def test_completed_cells_missing_file(tmp_path):
    assert completed_cells(tmp_path / "nope.jsonl") == set()


def test_cell_id_stable_and_sensitive():
    args = (
        "faiss",
        {"url": "x"},
        "sum",
        "cosine",
        "hnsw",
        {"m": 16, "ef_construction": 100},
        {"ef_search": 8},
        10,
    )
    a = cell_id(*args)
    reordered = (
        "faiss",
        {"url": "x"},
        "sum",
        "cosine",
        "hnsw",
        {"ef_construction": 100, "m": 16},
        {"ef_search": 8},
        10,
    )
    assert cell_id(*reordered) == a
    assert len(a) == 64 and int(a, 16) >= 0
    assert cell_id(*args[:-1], 5) != a
    assert cell_id(*args[:6], {"ef_search": 16}, 10) != a
    # secrets do not enter the id
    assert cell_id("faiss", {"api_key": "s1"}, *args[2:]) == cell_id("faiss", {"api_key": "s2"}, *args[2:])


def test_public_config_redacts():
    got = public_config(
        {"password": "p", "dsn": "postgresql://me:secret@h/db", "nested": {"token": "t"}, "n": 1}
    )
    assert got == {"password": "***", "dsn": "postgresql://me:***@h/db", "nested": {"token": "***"}, "n": 1}


def test_sidecar_roundtrip(tmp_path):
    path = tmp_path / "run-x.jsonl"
    ids = np.arange(20, dtype=np.int64).reshape(4, 5)
    lat = np.array([1, 2, 3, 4], dtype=np.int64)
    rel = write_sidecar(path, "abc123", ids, lat, batch_ids=ids[::-1])
    assert rel == "run-x.sidecar/abc123.npz"
    assert (tmp_path / rel).is_file()
    assert [p.name for p in (tmp_path / "run-x.sidecar").iterdir()] == ["abc123.npz"]  # no temp left
    data = read_sidecar(path, {"sidecar": rel, "cell_id": "abc123"})
    np.testing.assert_array_equal(data["ids"], ids)
    np.testing.assert_array_equal(data["latencies_ns"], lat)
    np.testing.assert_array_equal(data["batch_ids"], ids[::-1])
    assert data["ids"].dtype == np.int64
    # per-query figures and a (repeats, nq) latency matrix
    rel = write_sidecar(path, "cell2", ids, np.stack([lat, lat]), per_query={"recall_at_k": [1, 0.5, 0, 1]})
    data = read_sidecar(path, {"sidecar": rel})
    assert data["latencies_ns"].shape == (2, 4) and data["recall_at_k"].dtype == np.float64
    with pytest.raises(ConfigError, match="per-query array name"):
        write_sidecar(path, "cell3", ids, lat, per_query={"ids": [1, 2, 3, 4]})
    # rewriting replaces atomically
    write_sidecar(path, "abc123", ids * 2, lat)
    assert "batch_ids" not in read_sidecar(path, {"sidecar": rel})
