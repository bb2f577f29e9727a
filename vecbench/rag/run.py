"""Run a retrieval-harness grid and record one ``kind: "rag"`` result per cell.

    records = run_rag("rag.yaml", out="results/rag.jsonl")

A cell is chunker x embedder x store (index, build) x search params x reranker. Each
corpus is chunked and embedded once per (chunker, embedder) and indexed once per store
build; a step that fails marks every cell depending on it as failed (with the error) and
the run goes on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from vecbench.harness.build import collection_name
from vecbench.measures.cost import PriceModel, rag_cost, resolve_prices
from vecbench.measures.latency import LatencyStats
from vecbench.measures.stats import ci_section, mean_ci
from vecbench.rag.beir import RagDataset, load_beir
from vecbench.rag.config import ComponentConfig, RagConfig, StoreConfig, load_rag_config
from vecbench.rag.metrics import QualityReport
from vecbench.rag.pipeline import (
    EmbeddedCorpus,
    QueryOutcome,
    RetrievalPlan,
    check_query_embedder,
    chunk_corpus,
    cost_of,
    embed_corpus,
    footprint_of,
    ingest,
    query,
    rag_machine_load,
)
from vecbench.results import ResultsWriter, completed_cells, make_record, public_config
from vecbench.results.records import canonical
from vecbench.util.progress import NULL, Progress
from vecbench.util.validation import positive_int

__all__ = ["run_rag", "load_dataset", "rag_cell_id", "rag_ci"]


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
    return hashlib.sha256(canonical(payload).encode()).hexdigest()


def _cost(
    cfg: RagConfig,
    embedded: EmbeddedCorpus,
    info: Mapping[str, Any],
    out: QueryOutcome,
    footprint: Any,
    machine: Any,
    store: StoreConfig,
) -> dict[str, Any]:
    """Counts and times (``cost_of``) plus the dollar figures at ``cfg.prices``."""
    lat = LatencyStats.from_ns(out.latencies_ns).as_dict()
    dollars = rag_cost(
        latency=lat,
        footprint=footprint,
        machine=machine,
        store_config=store.config,
        ingest_s=info.get("ingest_s"),
        embedding_tokens=embedded.tokens,
        query_tokens=out.query_tokens,
        prices=cfg.prices,
    )
    return {**cost_of(embedded, info, out.query_tokens, cfg.prices.usd_per_1m_embedding_tokens), **dollars}


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


@dataclass(frozen=True)
class _Cell:
    """One cell of the grid: its id and the components that make it."""

    cell_id: str
    chunker: ComponentConfig
    embedder: ComponentConfig
    store: StoreConfig
    search: Mapping[str, Any]
    reranker: ComponentConfig | None


class _RagRun:
    """One run of a retrieval config: the shared parts of its records, and the steps."""

    def __init__(
        self, cfg: RagConfig, ds: RagDataset, writer: ResultsWriter | None, progress: Progress
    ) -> None:
        from vecbench.results.provenance import machine_info, new_run_id

        self.cfg, self.ds, self.writer, self.progress = cfg, ds, writer, progress
        self.run_id = new_run_id()
        self.machine = machine_info()
        self.records: list[dict[str, Any]] = []
        self.rerankers: dict[int, Any] = {}
        self.dataset_section = {
            "name": ds.name,
            "path": str(cfg.dataset.path),
            "checksum": ds.checksum,
            "params": ds.params,
        }

    def cells(self, done: set[str]) -> dict[tuple[int, int], list[_Cell]]:
        """Cells still to run, grouped by (chunker, embedder): each group embeds once."""
        cfg, groups = self.cfg, {}
        for ci, c in enumerate(cfg.chunkers):
            for ei, e in enumerate(cfg.embedders):
                todo = [
                    _Cell(rag_cell_id(cfg, self.ds, c, e, s, search, r), c, e, s, search, r)
                    for s in cfg.stores
                    for search in s.searches
                    for r in cfg.rerankers
                ]
                groups[(ci, ei)] = [t for t in todo if t.cell_id not in done]
        return groups

    def run_group(self, cells: list[_Cell]) -> None:
        """Chunk and embed once for these cells' (chunker, embedder), then every store."""
        from vecbench.rag.components import resolve_chunker, resolve_embedder

        c, e = cells[0].chunker, cells[0].embedder
        ident: dict[str, Any] = {}
        try:
            chunker = resolve_chunker(c.name, c.params)
            ident["chunker_params"] = dict(chunker.params)
            embedder = resolve_embedder(e.name, e.params)
            ident.update(embedder=embedder.name, dim=int(embedder.dim))
            chunked = chunk_corpus(self.ds, chunker, self.progress)
            embedded = embed_corpus(chunked, embedder, self.cfg.batch_size, self.progress)
            check_query_embedder(embedded, embedder)
        except Exception as exc:  # noqa: BLE001 - recorded as failed cells
            for cell in cells:
                self.emit(cell, ident, error=exc)
            return
        for s in self.cfg.stores:
            mine = [cell for cell in cells if cell.store is s]
            if mine:
                self.run_store(mine, embedded, embedder, ident)

    def run_store(
        self, cells: list[_Cell], embedded: EmbeddedCorpus, embedder: Any, ident: dict[str, Any]
    ) -> None:
        """Index the corpus in one store build and run its cells; a failure to connect,
        create, ingest or drop fails the cells not yet recorded."""
        from vecbench.registry import get_store

        s, c, e = cells[0].store, cells[0].chunker, cells[0].embedder
        plan = RetrievalPlan(
            metric=s.metric,
            index_type=s.index,
            build=s.build,
            ks=self.cfg.ks,
            k_chunks=self.cfg.k_chunks,
            span_k=self.cfg.span_k,
        )
        name = collection_name(self.run_id, "rag", c.name, c.params, e.name, e.params, s.index, s.build)
        try:
            with get_store(s.name, s.config) as store:
                info = ingest(store, embedded, plan, collection=name, progress=self.progress)
                try:
                    footprint = footprint_of(store)
                    for cell in cells:
                        self.run_cell(cell, store, embedded, embedder, ident, plan, info, footprint)
                finally:
                    store.drop()
        except Exception as exc:  # noqa: BLE001
            recorded = {rec["cell_id"] for rec in self.records}
            for cell in cells:
                if cell.cell_id not in recorded:
                    self.emit(cell, ident, error=exc)

    def run_cell(
        self,
        cell: _Cell,
        store: Any,
        embedded: EmbeddedCorpus,
        embedder: Any,
        ident: dict[str, Any],
        plan: RetrievalPlan,
        info: Mapping[str, Any],
        footprint: Any,
    ) -> None:
        name = info["collection"]
        try:
            plan = replace(plan, search=dict(cell.search))
            out = query(self.ds, embedded, store, embedder, plan, self.reranker(cell.reranker), self.progress)
            measured = {
                "quality": out.quality.means,
                "cost": _cost(self.cfg, embedded, info, out, footprint, self.machine, cell.store),
                "latency": {
                    **LatencyStats.from_ns(out.latencies_ns).as_dict(),
                    "queries": int(out.latencies_ns.size),
                },
                "footprint": footprint,
                "ci": rag_ci(out.quality, out.latencies_ns, self.cfg.ks, self.cfg.ci_resamples),
                "machine_load": rag_machine_load(info.get("machine_load"), out.machine_load),
            }
            sidecar = None
            if self.writer is not None:
                sidecar = self.writer.write_sidecar(cell.cell_id, out.chunk_ids, out.latencies_ns)
            self.emit(cell, ident, store_desc=store.describe(), collection=name, sidecar=sidecar, **measured)
        except Exception as exc:  # noqa: BLE001
            self.emit(cell, ident, collection=name, error=exc)

    def reranker(self, rc: ComponentConfig | None) -> Any:
        """The reranker of a config entry, made (and loaded) once per run."""
        if rc is not None and id(rc) not in self.rerankers:
            self.rerankers[id(rc)] = _make_reranker(rc)
        return self.rerankers.get(id(rc)) if rc is not None else None

    def emit(
        self,
        cell: _Cell,
        ident: Mapping[str, Any],
        *,
        store_desc: Mapping[str, Any] | None = None,
        collection: str | None = None,
        **measured: Any,
    ) -> None:
        """Make, write and keep the record of ``cell`` (failed when ``error`` is among ``measured``)."""
        from vecbench.registry import store_class
        from vecbench.results.provenance import utc_now_iso, versions

        c, e, s, r = cell.chunker, cell.embedder, cell.store, cell.reranker
        try:
            clients = tuple(store_class(s.name).info.client_modules)
        except Exception:  # noqa: BLE001 - versions are provenance, not a reason to fail
            clients = ()
        rec = make_record(
            kind="rag",
            run_id=self.run_id,
            cell_id=cell.cell_id,
            created_at=utc_now_iso(),
            versions=versions(clients),
            machine=self.machine,
            dataset=self.dataset_section,
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
            search={
                "params": dict(cell.search),
                "k": self.cfg.ks,
                "k_chunks": self.cfg.k_chunks,
                "span_k": self.cfg.span_k,
            },
            reranker=None if r is None else {"name": r.name, "params": r.params},
            counts=self.ds.counts.as_dict(),
            **measured,
        )
        if self.writer is not None:
            self.writer.append(rec)
        self.records.append(rec)


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
    cfg = config if isinstance(config, RagConfig) else load_rag_config(config)
    if prices is not None:
        model = resolve_prices(prices)
        cfg = replace(cfg, prices=model, price_per_1m_tokens=model.usd_per_1m_embedding_tokens)
    if ci_resamples is not None:
        cfg = replace(cfg, ci_resamples=positive_int(ci_resamples, "ci_resamples"))
    ds = load_dataset(cfg)
    writer = ResultsWriter(out) if out is not None else None
    done = completed_cells(out) if (resume and out is not None) else set()
    run = _RagRun(cfg, ds, writer, progress)
    for cells in run.cells(done).values():
        if cells:
            run.run_group(cells)
    return run.records
