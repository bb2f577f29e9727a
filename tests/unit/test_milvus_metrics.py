"""adapters/_milvus_metrics: reading Milvus's Prometheus page (the live check is in
tests/integration/test_footprint_engines.py)."""

from __future__ import annotations

from pathlib import Path

from vecbench.adapters import _milvus_metrics as mm

# Lines as Milvus 2.3.5 writes them (copied from a running server's /metrics), plus a
# dropped segment (1001) whose gauge lingers and another collection.
PAGE = """\
# HELP milvus_datacoord_stored_binlog_size binlog size of healthy segments.
# TYPE milvus_datacoord_stored_binlog_size gauge
milvus_datacoord_stored_binlog_size{collection_id="7",segment_id="1000"} 1.423182e+06
milvus_datacoord_stored_binlog_size{collection_id="7",segment_id="1001"} 99
milvus_datacoord_stored_binlog_size{collection_id="8",segment_id="2000"} 5
milvus_querynode_entity_num{collection_id="7",indexed_field_count="1",node_id="3",partition_id="9",segment_state="Sealed"} 5000
milvus_querynode_entity_size{collection_id="7",node_id="3",segment_state="Sealed"} 1.4e+06
milvus_querynode_entity_size{collection_id="7",node_id="3",segment_state="Growing"} 1000
milvus_querynode_entity_size{collection_id="8",node_id="3",segment_state="Sealed"} 3
process_resident_memory_bytes 2.80522752e+08
"""


def test_parse_samples_keeps_the_wanted_gauges_with_labels() -> None:
    samples = mm.parse_samples(PAGE)
    assert {s.name for s in samples} == {mm.BINLOG_SIZE, mm.ENTITY_SIZE, mm.ENTITY_NUM}
    first = samples[0]
    assert first.labels == {"collection_id": "7", "segment_id": "1000"} and first.value == 1423182.0
    assert mm.parse_samples('x{a="q\\"uote"} 1', ["x"])[0].labels == {"a": 'q\\"uote'}
    assert mm.parse_samples('x 1\nx{a="b"} NaN\nx bad', ["x"])[0].value == 1.0


def test_collection_figures_sum_one_collection_and_the_segments_asked_for() -> None:
    figures = mm.collection_figures(mm.parse_samples(PAGE), 7, [1000, 1002])
    assert figures.binlog_bytes == 1423182 and figures.binlog_segments == {1000}
    assert figures.entity_bytes == 1401000 and figures.entity_rows == 5000
    none = mm.collection_figures(mm.parse_samples(PAGE), 9, [])
    assert none.entity_bytes is None and none.binlog_bytes == 0


def test_metrics_url_prefers_config_then_the_service_then_port_9091() -> None:
    assert mm.metrics_url({"metrics_url": "http://m:1/metrics"}, "http://h:19530", {"health": 5}) == (
        "http://m:1/metrics",
        "config metrics_url",
    )
    assert mm.metrics_url({}, "http://127.0.0.1:29530", {"health": 42881})[0] == (
        "http://127.0.0.1:42881/metrics"
    )
    assert mm.metrics_url({}, "https://milvus.example:443", None)[0] == "https://milvus.example:9091/metrics"
    assert mm.metrics_url({}, "tcp://[::1]:19530", None)[0] == "http://[::1]:9091/metrics"


def test_index_file_bytes_counts_the_segments_files_only(tmp_path: Path) -> None:
    mine = tmp_path / "b1" / "1" / "9" / "1000"
    other = tmp_path / "b2" / "1" / "9" / "1001"
    for d, size in ((mine, 300), (other, 7)):
        d.mkdir(parents=True)
        (d / "HNSW").write_bytes(b"x" * size)
    assert mm.index_file_bytes(tmp_path, [(9, 1000)]) == (300, 1)
    assert mm.index_file_bytes(tmp_path / "missing", [(9, 1000)]) == (0, 0)
