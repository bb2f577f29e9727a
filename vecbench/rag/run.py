"""Run a retrieval-harness grid and record one ``kind: "rag"`` result per cell.

    records = run_rag("rag.yaml", out="results/rag.jsonl")

A cell is chunker x embedder x store (index, build) x search params x reranker. Each
corpus is chunked and embedded once per (chunker, embedder) and indexed once per store
build; a step that fails marks every cell depending on it as failed (with the error) and
the run goes on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from vecbench.cost import PriceModel, rag_cost, resolve_prices
from vecbench.latency import LatencyStats
from vecbench.progress import Progress
from vecbench.rag.beir import RagDataset, load_beir
from vecbench.rag.config import ComponentConfig, RagConfig, StoreConfig, load_rag_config
from vecbench.rag.metrics import QualityReport
from vecbench.rag.pipeline import (
    NULL,
    EmbeddedCorpus,
    check_query_embedder,
    chunk_corpus,
    collection_name,
    cost_of,
    embed_corpus,
    footprint_of,
    ingest,
    query,
)
from vecbench.results import (
    SCHEMA,
    SCHEMA_VERSION,
    ResultsWriter,
    completed_cells,
    public_config,
    validate_record,
)
from vecbench.stats import ci_section, mean_ci

__all__ = ["run_rag", "load_dataset", "make_rag_record", "rag_cell_id", "rag_ci"]


def load_dataset(cfg: RagConfig) -> RagDataset:
    """The configured BEIR set, concatenated into long documents if asked."""
    ds = load_beir(
        cfg.dataset.path,
        cfg.dataset.split,
        title=cfg.dataset.title,  # type: ignore[arg-type]
        max_queries=cfg.dataset.max_queries,
    )
    if cfg.dataset.concat:
        from vecbench.rag.concat import SEPARATOR, concat_documents

        c = cfg.dataset.concat
        ds, _ = concat_documents(ds, c["docs_per_doc"], c.get("seed", 0), c.get("separator", SEPARATOR))
    return ds


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def rag_cell_id(
    cfg: RagConfig,
    ds: RagDataset,
    chunker: ComponentConfig,
    embedder: ComponentConfig,
    store: StoreConfig,
    search: Mapping[str, Any],
    reranker: ComponentConfig | None,
) -> str:
    """A stable sha256 of everything that defines the cell (store secrets excluded)."""
    payload = {
        "kind": "rag",
        "dataset": ds.checksum,
        "chunker": [chunker.name, chunker.params],
        "embedder": [embedder.name, embedder.params],
        "store": store.name,
        "config": public_config(store.config),
        "index": store.index,
        "metric": store.metric,
        "build": store.build,
        "search": dict(search),
        "reranker": None if reranker is None else [reranker.name, reranker.params],
        "k": cfg.ks,
        "k_chunks": cfg.k_chunks,
        "span_k": cfg.span_k,
    }
    return hashlib.sha256(_canonical(payload).encode()).hexdigest()


def make_rag_record(
    *,
    run_id: str,
    cell_id: str,
    created_at: str,
    versions: Mapping[str, Any],
    machine: Mapping[str, Any],
    dataset: Mapping[str, Any],
    chunker: Mapping[str, Any],
    embedder: Mapping[str, Any],
    store: Mapping[str, Any],
    index: Mapping[str, Any],
    search: Mapping[str, Any],
    reranker: Mapping[str, Any] | None,
    counts: Mapping[str, Any],
    quality: Mapping[str, Any] | None = None,
    cost: Mapping[str, Any] | None = None,
    latency: Mapping[str, Any] | None = None,
    footprint: Mapping[str, Any] | None = None,
    ci: Mapping[str, Any] | None = None,
    error: BaseException | None = None,
    sidecar: str | None = None,
) -> dict[str, Any]:
    """A complete, validated ``kind: "rag"`` record; with ``error`` every measurement is null."""
    from vecbench.results import _jsonable

    failed = error is not None
    rec = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "kind": "rag",
        "run_id": run_id,
        "cell_id": cell_id,
        "status": "failed" if failed else "ok",
        "created_at": created_at,
        "versions": dict(versions),
        "machine": dict(machine),
        "dataset": dict(dataset),
        "chunker": dict(chunker),
        "embedder": dict(embedder),
        "store": dict(store),
        "index": dict(index),
        "search": dict(search),
        "reranker": None if reranker is None else dict(reranker),
        "quality": None if failed or quality is None else dict(quality),
        "cost": None if failed or cost is None else dict(cost),
        "latency": None if failed or latency is None else dict(latency),
        "footprint": None if failed or footprint is None else dict(footprint),
        "counts": dict(counts),
        "ci": None if failed or ci is None else dict(ci),
        "error": {"type": type(error).__name__, "message": str(error)} if failed else None,
        "sidecar": None if failed else sidecar,
    }
    out = _jsonable(rec)
    validate_record(out)
    return out


def _cost(
    cfg: RagConfig,
    embedded: EmbeddedCorpus,
    info: Mapping[str, Any],
    query_tokens: int,
    latencies_ns: Any,
    footprint: Mapping[str, Any] | None,
    machine: Mapping[str, Any],
    store: StoreConfig,
) -> dict[str, Any]:
    """Counts and times (``cost_of``) plus the dollar figures at ``cfg.prices``."""
    lat = LatencyStats.from_ns(latencies_ns).as_dict()
    dollars = rag_cost(
        latency=lat,
        footprint=footprint,
        machine=machine,
        store_config=store.config,
        ingest_s=info.get("ingest_s"),
        embedding_tokens=embedded.tokens,
        query_tokens=query_tokens,
        prices=cfg.prices,
    )
    return {**cost_of(embedded, info, query_tokens, cfg.prices.usd_per_1m_embedding_tokens), **dollars}


def rag_ci(report: QualityReport, latencies_ns: Any, ks: Sequence[int], resamples: int) -> dict[str, Any]:
    """The ``ci`` section of a rag record: nDCG@10, MRR@10, recall@k and hit@k (per k, as
    in ``quality``), p50 and p99 of the end-to-end query latency."""
    per = report.per_query
    section = ci_section(
        per_query={
            "ndcg_at_10": [q.ndcg_at_10 for q in per],
            "mrr_at_10": [q.mrr_at_10 for q in per],
        },
        latencies_ns=latencies_ns,
        latency_keys=("p50_ms", "p99_ms"),
        repeats=1,
        resamples=resamples,
    )
    for name in ("recall_at_k", "hit_at_k"):
        section[name] = {str(k): mean_ci([getattr(q, name)[k] for q in per], resamples=resamples) for k in ks}
    return section


def _make_reranker(rc: ComponentConfig | None) -> Any:
    if rc is None:
        return None
    if rc.name == "embedding":
        from vecbench.rag.components import resolve_embedder
        from vecbench.rag.rerank import EmbeddingReranker

        e = rc.params["embedder"]
        return EmbeddingReranker(resolve_embedder(e["name"], e["params"]))
    from vecbench.rag.rerank import CrossEncoderReranker

    r = CrossEncoderReranker(**rc.params)
    r.load()  # outside the timed queries
    return r


def run_rag(
    config: str | Path | Mapping[str, Any] | RagConfig,
    out: str | Path | None = None,
    progress: Progress = NULL,
    *,
    resume: bool = False,
    prices: PriceModel | Mapping[str, Any] | str | Path | None = None,
    ci_resamples: int | None = None,
) -> list[dict[str, Any]]:
    """Run every cell of ``config``; returns the records (also appended to ``out`` if given).

    With ``resume``, cells already recorded ok in ``out`` are skipped (and not returned).
    ``prices`` and ``ci_resamples``, when given, replace the config's.
    """
    from vecbench.provenance import machine_info, new_run_id, utc_now_iso, versions
    from vecbench.rag.components import resolve_chunker, resolve_embedder
    from vecbench.registry import get_store, store_class

    cfg = config if isinstance(config, RagConfig) else load_rag_config(config)
    if prices is not None:
        model = resolve_prices(prices)
        cfg = replace(cfg, prices=model, price_per_1m_tokens=model.usd_per_1m_embedding_tokens)
    if ci_resamples is not None:
        from vecbench.harness import positive_int

        cfg = replace(cfg, ci_resamples=positive_int(ci_resamples, "ci_resamples"))
    ds = load_dataset(cfg)
    writer = ResultsWriter(out) if out is not None else None
    done = completed_cells(out) if (resume and out is not None) else set()
    run_id = new_run_id()
    machine = machine_info()
    counts = ds.counts.as_dict()
    dataset_section = {
        "name": ds.name,
        "path": str(cfg.dataset.path),
        "checksum": ds.checksum,
        "params": ds.params,
    }
    records: list[dict[str, Any]] = []
    rerankers: dict[int, Any] = {}

    def emit(
        cell: str,
        c: ComponentConfig,
        e: ComponentConfig,
        ident: Mapping[str, Any],
        s: StoreConfig,
        search: Mapping[str, Any],
        r: ComponentConfig | None,
        store_desc: Mapping[str, Any] | None = None,
        collection: str | None = None,
        error: BaseException | None = None,
        **measured: Any,
    ) -> None:
        try:
            clients = tuple(store_class(s.name).info.client_modules)
        except Exception:  # noqa: BLE001 - versions are provenance, not a reason to fail
            clients = ()
        sidecar = None
        if error is None and writer is not None:
            sidecar = writer.write_sidecar(cell, measured.pop("chunk_ids"), measured.pop("latencies_ns"))
        measured.pop("chunk_ids", None)
        measured.pop("latencies_ns", None)
        rec = make_rag_record(
            run_id=run_id,
            cell_id=cell,
            created_at=utc_now_iso(),
            versions=versions(clients),
            machine=machine,
            dataset=dataset_section,
            chunker={"name": c.name, "params": ident.get("chunker_params", c.params)},
            embedder={
                "name": ident.get("embedder", e.name),
                "registry_name": e.name,
                "dim": ident.get("dim"),
                "params": e.params,
            },
            store={
                "name": s.name,
                "config": public_config(s.config),
                **({"describe": dict(store_desc)} if store_desc else {}),
            },
            index={"type": s.index, "metric": s.metric, "build": s.build, "collection": collection},
            search={"params": dict(search), "k": cfg.ks, "k_chunks": cfg.k_chunks, "span_k": cfg.span_k},
            reranker=None if r is None else {"name": r.name, "params": r.params},
            counts=counts,
            error=error,
            sidecar=sidecar,
            **measured,
        )
        if writer is not None:
            writer.append(rec)
        records.append(rec)

    for c, e in ((c, e) for c in cfg.chunkers for e in cfg.embedders):
        todo = [
            (s, search, r, rag_cell_id(cfg, ds, c, e, s, search, r))
            for s in cfg.stores
            for search in s.searches
            for r in cfg.rerankers
        ]
        todo = [t for t in todo if t[3] not in done]
        if not todo:
            continue
        ident: dict[str, Any] = {}
        try:
            chunker = resolve_chunker(c.name, c.params)
            ident["chunker_params"] = dict(chunker.params)
            embedder = resolve_embedder(e.name, e.params)
            ident.update(embedder=embedder.name, dim=int(embedder.dim))
            embedded: EmbeddedCorpus = embed_corpus(
                chunk_corpus(ds, chunker, progress), embedder, cfg.batch_size, progress
            )
            check_query_embedder(embedded, embedder)
        except Exception as exc:  # noqa: BLE001 - recorded as failed cells
            for s, search, r, cell in todo:
                emit(cell, c, e, ident, s, search, r, error=exc)
            continue
        for s in cfg.stores:
            mine = [t for t in todo if t[0] is s]
            if not mine:
                continue
            try:
                with get_store(s.name, s.config) as store:
                    name = collection_name(run_id, c.name, c.params, e.name, e.params, s.index, s.build)
                    info = ingest(
                        store,
                        embedded,
                        metric=s.metric,
                        index_type=s.index,
                        build=s.build,
                        collection=name,
                        progress=progress,
                    )
                    try:
                        footprint = footprint_of(store)
                        for _, search, r, cell in mine:
                            try:
                                key = id(r)
                                if r is not None and key not in rerankers:
                                    rerankers[key] = _make_reranker(r)
                                report, lat, chunk_ids, _, q_tokens = query(
                                    ds,
                                    embedded,
                                    store,
                                    embedder,
                                    metric=s.metric,
                                    search=search,
                                    k_chunks=cfg.k_chunks,
                                    ks=cfg.ks,
                                    span_k=cfg.span_k,
                                    reranker=rerankers.get(key),
                                    progress=progress,
                                )
                                emit(
                                    cell,
                                    c,
                                    e,
                                    ident,
                                    s,
                                    search,
                                    r,
                                    store_desc=store.describe(),
                                    collection=name,
                                    quality=report.means,
                                    cost=_cost(cfg, embedded, info, q_tokens, lat, footprint, machine, s),
                                    latency={**LatencyStats.from_ns(lat).as_dict(), "queries": int(lat.size)},
                                    footprint=footprint,
                                    ci=rag_ci(report, lat, cfg.ks, cfg.ci_resamples),
                                    chunk_ids=chunk_ids,
                                    latencies_ns=lat,
                                )
                            except Exception as exc:  # noqa: BLE001
                                emit(cell, c, e, ident, s, search, r, collection=name, error=exc)
                    finally:
                        store.drop()
            except Exception as exc:  # noqa: BLE001 - connect, create, ingest or drop failed
                recorded = {rec["cell_id"] for rec in records}
                for _, search, r, cell in mine:
                    if cell not in recorded:
                        emit(cell, c, e, ident, s, search, r, error=exc)
    return records
