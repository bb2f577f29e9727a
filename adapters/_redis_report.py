"""What ``RedisStore`` reads back for ``footprint()`` and ``describe()``: index memory from
``FT.INFO``, hash memory sampled with ``MEMORY USAGE``, the index's state, and how filters
are stored and sent."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from vecbench.store import FootprintStats

from ._redis_commands import VECTOR_FIELD, as_float, as_map, field_descriptions, parse_search_ids, text

FOOTPRINT_SAMPLE_KEYS = 16
# FT.INFO fields whose sum is the index's own memory (RediSearch 2.10: total_index_memory_sz_mb
# leaves the vector index out, so the parts are summed instead).
INDEX_MEMORY_FIELDS = (
    "vector_index_sz_mb",
    "inverted_sz_mb",
    "offset_vectors_sz_mb",
    "doc_table_size_mb",
    "sortable_values_size_mb",
    "key_table_size_mb",
    "tag_overhead_sz_mb",
    "text_overhead_sz_mb",
    "geoshapes_sz_mb",
)


def footprint(cmd: Callable[..., Any], info: Mapping[str, Any], index: str, prefix: str) -> FootprintStats:
    """Index memory plus num_docs x the mean ``MEMORY USAGE`` of a few sampled hashes."""
    index_bytes = int(sum(as_float(info.get(f, 0)) for f in INDEX_MEMORY_FIELDS) * 1024 * 1024)
    num_docs = int(info.get("num_docs", 0))
    hash_bytes = 0
    sampled = 0
    if num_docs:
        reply = cmd("FT.SEARCH", index, "*", "NOCONTENT", "LIMIT", 0, FOOTPRINT_SAMPLE_KEYS, "DIALECT", 2)
        keys = [f"{prefix}{i}" for i in parse_search_ids(reply, prefix)]
        sizes = [int(cmd("MEMORY", "USAGE", key, "SAMPLES", 0) or 0) for key in keys]
        sampled = len(sizes)
        if sizes:
            hash_bytes = int(round(num_docs * (sum(sizes) / len(sizes))))
    return FootprintStats(
        memory_bytes=index_bytes + hash_bytes,
        disk_bytes=None,
        method=(
            f"FT.INFO index memory ({' + '.join(INDEX_MEMORY_FIELDS)}) + num_docs x mean MEMORY USAGE "
            f"of {sampled} sampled hashes (the vectors are held twice: in the hashes and in the index); "
            "in-memory engine, persistence files not counted"
        ),
    )


def index_state(info: Mapping[str, Any]) -> dict[str, Any]:
    """The vector field's attributes and the indexing counters of ``FT.INFO``."""
    attrs = [as_map(a) for a in info.get("attributes", [])]
    vector = next((a for a in attrs if text(a.get("identifier")) == VECTOR_FIELD), {})
    out: dict[str, Any] = {"index_attributes": {k: text(v) for k, v in vector.items() if k not in ("flags",)}}
    for key in ("num_docs", "percent_indexed", "hash_indexing_failures", "indexing", "vector_index_sz_mb"):
        out[key] = text(info.get(key))
    return out


def filter_section(attributes: Mapping[str, str], search_params: Mapping[str, Any]) -> dict[str, Any]:
    """How the declared attributes are stored and a filter is sent."""
    policy = search_params.get("hybrid_policy")
    return {
        "fields": field_descriptions(attributes),
        "query": "(@tag:{a | b} @num:[lo (hi])=>[KNN $k @embedding $vec ...]: a pre-filter, DIALECT 2",
        "hybrid_policy": policy or "not sent: RediSearch picks ADHOC_BF or BATCHES per query",
        "batch_size": search_params.get("batch_size"),
    }
