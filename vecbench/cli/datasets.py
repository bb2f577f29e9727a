"""``vecbench datasets list|info|fetch|verify``.

Vector sets (ann-benchmarks HDF5) and text sets (BEIR zips, kind ``text/beir``) share the
commands: ``fetch scifact`` downloads, checks the md5 and unpacks; ``info scifact`` prints
the manifest and where the set lives; ``verify scifact`` re-hashes the unpacked files.
A set shipped with vecbench (``cranfield``) is listed as packaged and needs no fetch.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from vecbench.util.progress import Progress


def main(args: argparse.Namespace) -> int:
    from vecbench.datasets import catalog

    if args.action == "list":
        from rich.table import Table

        from vecbench.analysis.summary import stdout_console
        from vecbench.util.paths import cache_dir

        root = cache_dir()
        table = Table(title="data sets (vecbench datasets fetch NAME)")
        for col in ("name", "kind", "metric", "dim", "n", "queries", "size", "cached"):
            table.add_column(col)
        table.add_row("synthetic", "vector", "any", "any", "any", "any", "-", "generated")
        table.add_row("embedlike:minilm", "vector", "cosine", "384 or less", "any", "any", "-", "generated")
        table.add_row("vdb:FOLDER", "vector", "by name", "-", "-", "-", "-", "local folder")
        for m in catalog.list_manifests():
            n, nq = (m.docs, m.queries) if m.is_beir else (m.n, m.nq)
            local = m.local_path(root)
            if m.packaged:
                size, cached = f"{_folder_bytes(local) / 1e6:,.1f} MB", "packaged"
            else:
                size = (
                    f"{m.size / 1e6:,.0f} MB"
                    if m.size
                    else (f"~{m.approx_size_mb:,.0f} MB" if m.approx_size_mb else "?")
                )
                cached = "yes" if (local.is_dir() if m.is_beir else local.is_file()) else "no"
            table.add_row(
                m.name,
                m.kind,
                str(m.metric) if m.metric is not None else "-",
                str(m.dim) if m.dim is not None else "-",
                f"{n:,}" if n else "?",
                f"{nq:,}" + (f" ({m.split})" if m.is_beir else "") if nq else "?",
                size,
                cached,
            )
        stdout_console().print(table)
        return 0
    if args.action == "fetch":
        from vecbench.datasets.fetch import fetch

        path = fetch(args.name.removeprefix("beir:"), progress=Progress())
        print(path)
        return 0
    beir = _beir_manifest(args.name)
    if beir is not None:
        return _beir_action(args.action, beir)
    from vecbench.datasets import load

    dataset = load(args.name)
    if args.action == "info":
        info = dataset.describe()
        info["ground_truth_k"] = dataset.ground_truth.k if dataset.ground_truth is not None else None
        info["attributes"] = {name: str(col.dtype) for name, col in dataset.attributes.items()}
        from vecbench.measures.metric_check import metric_section

        info["metric_check"] = metric_section(dataset)
        print(json.dumps(info, indent=2, default=str))
        return 0
    from vecbench.measures.groundtruth import verify

    report = verify(dataset, sample=args.sample)
    print(json.dumps(report, indent=2, default=str))
    return 0 if report.get("ok") else 1


def _folder_bytes(folder: Any) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _beir_manifest(name: str) -> Any:
    """The manifest when ``name`` is a BEIR set's name (``scifact`` or ``beir:scifact``), else None."""
    from vecbench.datasets.catalog import list_manifests

    bare = name.removeprefix("beir:")
    for m in list_manifests():
        if m.name == bare and m.is_beir:
            return m
    return None


def _beir_action(action: str, manifest: Any) -> int:
    from vecbench.datasets.fetch import FETCH_RECORD, verify_fetched
    from vecbench.util.paths import cache_dir

    if action == "verify":
        report = verify_fetched(manifest)
        print(json.dumps(report, indent=2))
        return 0 if report["ok"] else 1
    path = manifest.local_path(cache_dir())
    info = {
        "name": manifest.name,
        "kind": manifest.kind,
        "url": manifest.url,
        "md5": manifest.md5,
        "sha256": manifest.sha256,
        "approx_size_mb": manifest.approx_size_mb,
        "docs": manifest.docs,
        "queries": manifest.queries,
        "split": manifest.split,
        "subsets": list(manifest.subsets),
        "description": manifest.description,
        "fetched": path.is_dir(),
        "path": str(path),
        "use_as": f"beir:{manifest.name}" + (f"/{manifest.subsets[0]}" if manifest.subsets else ""),
    }
    if manifest.packaged:
        info["packaged"] = True
        for key in ("url", "md5", "approx_size_mb", "fetched"):
            del info[key]
    elif path.is_dir():
        try:
            record = json.loads((path / FETCH_RECORD).read_text(encoding="utf-8"))
            info["fetch"] = {k: record.get(k) for k in ("status", "md5", "sha256", "size", "fetched_at")}
        except (OSError, ValueError):
            info["fetch"] = None
    else:
        info["fetch_command"] = f"vecbench datasets fetch {manifest.name}"
    print(json.dumps(info, indent=2))
    return 0
