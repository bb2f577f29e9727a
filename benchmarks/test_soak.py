"""Staying power: 10 minutes at 8 workers against pgvector and redis; do memory, open files
and errors stay flat?

    eval "$(vecbench services up pgvector redis)"
    pytest benchmarks/test_soak.py -s --benchmark-only

Each store gets one soak (``vecbench.load.soak_run``): a seeded synthetic collection of
10k x 64 vectors (HNSW, euclidean), then 8 closed-loop worker processes for
``VECBENCH_SOAK_DURATION_S`` seconds (default 600) after a 5 s warm-up, sampled every 5 s.
A least-squares line is fitted to each series after the first 60 s; the slopes per minute
(client and server RSS in MB/min, open files in fds/min, throughput, errors) and the whole
series are written to ``$VECBENCH_SOAK_OUT`` (default ``vecbench-results/``) as
``soak-<store>.json``, and a summary of both stores to ``soak-summary.json``; they are also
in ``benchmark.extra_info`` and printed. A store whose server is not up (its env var unset)
is skipped.

The goal: every ``SoakBounds`` default holds (client RSS and server memory growth <= 1
MB/min, the server's judged on its private memory, RssAnon; open files <= 0.5 fds/min;
zero errors); the test fails when one does not, after writing the files. ``late`` slopes fit the second half of the
window alone (a leak keeps its slope there; a series still settling flattens).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from vecbench.engines import ENGINES
from vecbench.load.soak import MB
from vecbench.load.soak_run import SoakPlan, run_soak
from vecbench.util.atomic import write_atomic

STORES = ("pgvector", "redis")
DURATION_S = float(os.environ.get("VECBENCH_SOAK_DURATION_S", "600"))
CONCURRENCY = 8


def _out_dir() -> Path:
    out = Path(os.environ.get("VECBENCH_SOAK_OUT", "vecbench-results"))
    out.mkdir(parents=True, exist_ok=True)
    return out


def _write_json(path: Path, data: Any) -> None:
    write_atomic(path, lambda f: json.dump(data, f, indent=1, allow_nan=False), text=True, mode=0o644)


def _summary(record: dict[str, Any]) -> dict[str, Any]:
    slopes = {}
    late = record["late_slopes"]
    for name, fit in record["slopes"].items():
        scale, unit = (1 / MB, "MB/min") if fit["unit"] == "bytes/min" else (1.0, fit["unit"])
        slopes[name] = {
            "per_min": fit["per_min"] * scale,
            "stderr_per_min": None if fit["stderr_per_min"] is None else fit["stderr_per_min"] * scale,
            "late_per_min": late[name]["per_min"] * scale if name in late else None,
            "unit": unit,
            "n": fit["n"],
        }
    load = record["load"]
    return {
        "run_id": record["run_id"],
        "status": record["status"],
        "qps": load.get("qps"),
        "p99_ms": load.get("p99_ms"),
        "errors": load.get("errors"),
        "slopes": slopes,
        "verdict": record["verdict"],
    }


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:+.4f}"


@pytest.mark.parametrize("store", STORES)
def test_soak(benchmark: Any, store: str) -> None:
    if not os.environ.get(ENGINES[store].env_var):
        pytest.skip(f"set {ENGINES[store].env_var} (`vecbench services up {store}`)")
    plan = SoakPlan(store, concurrency=CONCURRENCY, duration_s=DURATION_S)
    records: list[dict[str, Any]] = []
    benchmark.pedantic(lambda: records.append(run_soak(plan)), rounds=1, iterations=1, warmup_rounds=0)
    record = records[0]
    out = _out_dir()
    _write_json(out / f"soak-{store}.json", record)
    summary_path = out / "soak-summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    summary[store] = _summary(record)
    _write_json(summary_path, summary)
    benchmark.extra_info.update(_summary(record))
    lines = [
        f"  {n:<20} {s['per_min']:+.4f} (late {_fmt(s['late_per_min'])}) {s['unit']}"
        for n, s in summary[store]["slopes"].items()
    ]
    print(f"\nsoak {store}: {DURATION_S:g} s x {CONCURRENCY} workers, slopes after {plan.settle_s:g} s:")
    print("\n".join(lines))
    assert record["status"] == "ok", record["error"]
    failed = [c for c in record["verdict"]["checks"] if c["status"] == "failed"]
    assert not failed, failed
