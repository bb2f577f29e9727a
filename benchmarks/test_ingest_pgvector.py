"""Ingest through the pgvector adapter vs psycopg's own binary COPY, same process, same data.

    VECBENCH_PG_DSN=postgresql://vecbench@127.0.0.1:15432/vecbench \\
        pytest benchmarks/test_ingest_pgvector.py -s --benchmark-only

Data: 20k x 128 float32 (seeded normal), ids 0..n-1, loaded in 10k-row batches (the
harness's default batch size) into a fresh ``(id bigint PRIMARY KEY, embedding vector(128))``
table each round. Timed per path, table creation excluded:

- ``adapter``: ``PgVectorStore.upsert`` per batch (input validation, then one binary COPY per
  batch, encoded with numpy, straight into the table);
- ``native_rows``: psycopg's documented binary COPY, ``copy.set_types(["int8", "vector"])``
  and ``copy.write_row((id, ndarray))`` per row with pgvector's binary dumper, one COPY and
  one transaction per batch;
- ``native_block``: the fastest client-side route found: the binary COPY stream built
  for the whole batch with numpy here (independently of the adapter's code) and written
  with ``copy.write``.

Rounds interleave the paths (rotating which goes first). Reported in ``extra_info`` and
printed: median rows/s per path and ``throughput_ratio`` = adapter / best native (median
over rounds of the per-round ratio; goal >= 0.9).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from vecbench.registry import get_store
from vecbench.spec import CollectionSpec

N, DIM, BATCH = 20_000, 128, 10_000
ROUNDS = 5
GOAL_RATIO = 0.9
DSN = os.environ.get("VECBENCH_PG_DSN", "")

if not DSN:
    pytest.skip("set VECBENCH_PG_DSN (e.g. `vecbench services up pgvector`)", allow_module_level=True)
psycopg = pytest.importorskip("psycopg")
pgvector_psycopg = pytest.importorskip("pgvector.psycopg")

_ADAPTER_TABLE = "vb_bench_ingest_adapter"
_NATIVE_TABLE = "vb_bench_ingest_native"


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return np.arange(N, dtype=np.int64), rng.normal(size=(N, DIM)).astype(np.float32)


@pytest.fixture(scope="module")
def conn() -> Iterator[Any]:
    with psycopg.connect(DSN, autocommit=True) as c:
        pgvector_psycopg.register_vector(c)
        yield c
        c.execute(f"DROP TABLE IF EXISTS {_NATIVE_TABLE}")


def _fresh_native_table(conn: Any) -> None:
    conn.execute(f"DROP TABLE IF EXISTS {_NATIVE_TABLE}")
    conn.execute(f"CREATE TABLE {_NATIVE_TABLE} (id bigint PRIMARY KEY, embedding vector({DIM}))")


def _native_rows(conn: Any, ids: np.ndarray, vectors: np.ndarray) -> None:
    for start in range(0, N, BATCH):
        with conn.transaction(), conn.cursor() as cur:
            with cur.copy(f"COPY {_NATIVE_TABLE} (id, embedding) FROM STDIN WITH (FORMAT BINARY)") as copy:
                copy.set_types(["int8", "vector"])
                for i in range(start, min(N, start + BATCH)):
                    copy.write_row((int(ids[i]), vectors[i]))


_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)


def _native_block(conn: Any, ids: np.ndarray, vectors: np.ndarray) -> None:
    dt = np.dtype(
        [
            ("nf", ">i2"),
            ("l1", ">i4"),
            ("id", ">i8"),
            ("l2", ">i4"),
            ("dim", ">u2"),
            ("z", ">u2"),
            ("v", ">f4", (DIM,)),
        ]
    )
    for start in range(0, N, BATCH):
        stop = min(N, start + BATCH)
        rec = np.zeros(stop - start, dtype=dt)
        rec["nf"], rec["l1"], rec["l2"], rec["dim"] = 2, 8, 4 + 4 * DIM, DIM
        rec["id"], rec["v"] = ids[start:stop], vectors[start:stop]
        with conn.transaction(), conn.cursor() as cur:
            with cur.copy(f"COPY {_NATIVE_TABLE} (id, embedding) FROM STDIN WITH (FORMAT BINARY)") as copy:
                copy.write(_HEADER + rec.tobytes() + b"\xff\xff")


def test_ingest_adapter_vs_native(benchmark: Any, conn: Any, data: tuple[np.ndarray, np.ndarray]) -> None:
    ids, vectors = data
    store = get_store("pgvector", {"dsn": DSN})
    spec = CollectionSpec(_ADAPTER_TABLE, dim=DIM, metric="euclidean", index_type="flat")
    count = "SELECT count(*) FROM {}"
    rounds: list[dict[str, float]] = []
    paths = ("adapter", "native_rows", "native_block")

    def run(path: str) -> float:
        if path == "adapter":
            store.create(spec, drop_old=True)
            t0 = time.perf_counter()
            for start in range(0, N, BATCH):
                store.upsert(ids[start : start + BATCH], vectors[start : start + BATCH])
            elapsed = time.perf_counter() - t0
            assert conn.execute(count.format(_ADAPTER_TABLE)).fetchone()[0] == N
            return elapsed
        _fresh_native_table(conn)
        t0 = time.perf_counter()
        (_native_rows if path == "native_rows" else _native_block)(conn, ids, vectors)
        elapsed = time.perf_counter() - t0
        assert conn.execute(count.format(_NATIVE_TABLE)).fetchone()[0] == N
        return elapsed

    def one_round() -> None:
        shift = len(rounds) % len(paths)
        order = paths[shift:] + paths[:shift]
        rounds.append({p: run(p) for p in order})

    with store:
        run("adapter")  # warm-up: connection, prepared catalogs, server caches
        run("native_block")
        benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1, warmup_rounds=0)
        store.drop()

    rate = {p: np.array([N / r[p] for r in rounds]) for p in paths}
    best_native = (
        "native_block" if np.median(rate["native_block"]) >= np.median(rate["native_rows"]) else "native_rows"
    )
    ratio = float(np.median(rate["adapter"] / rate[best_native]))
    ratio_rows = float(np.median(rate["adapter"] / rate["native_rows"]))
    benchmark.extra_info.update(
        {
            "n": N,
            "dim": DIM,
            "batch": BATCH,
            "rounds": ROUNDS,
            **{f"{p}_rows_per_s_median": float(np.median(rate[p])) for p in paths},
            "best_native": best_native,
            "throughput_ratio": ratio,
            "ratio_vs_native_rows": ratio_rows,
            "goal_ratio": GOAL_RATIO,
        }
    )
    print(
        f"\npgvector ingest {N} x {DIM}: adapter {np.median(rate['adapter']):.0f} rows/s, "
        f"native write_row {np.median(rate['native_rows']):.0f} rows/s, "
        f"native block {np.median(rate['native_block']):.0f} rows/s; "
        f"adapter / best native ({best_native}) = {ratio:.3f} (goal >= {GOAL_RATIO}); "
        f"adapter / native write_row = {ratio_rows:.3f}"
    )
