"""Run a retrieval-harness grid and record one ``kind: "rag"`` result per cell.

    records = run_rag("rag.yaml", out="results/rag.jsonl")

A cell is chunker x embedder x store (index, build) x search params x retrieval mode x
reranker; a sparse (BM25-only) cell is chunker x BM25 settings x reranker. Each corpus is
chunked once per chunker (and BM25-indexed once, when a cell needs it), embedded once per
(chunker, embedder), through the on-disk embedding cache, and indexed once per store
build; a step that fails marks every cell depending on it as failed (with the error) and
the run goes on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from vecbench.errors import ConfigError
from vecbench.harness.build import collection_name
from vecbench.measures.cost import PriceModel, resolve_prices
from vecbench.rag.beir import RagDataset, load_beir
from vecbench.rag.config import ComponentConfig, RagConfig, StoreConfig, load_rag_config
from vecbench.rag.corpus import ChunkedCorpus, EmbeddedCorpus, chunk_corpus, embed_corpus
from vecbench.rag.fusion import RetrievalMode
from vecbench.rag.pipeline import (
    QueryOutcome,
    RetrievalPlan,
    build_bm25,
    check_query_embedder,
    footprint_of,
    ingest,
    query,
)
from vecbench.rag.record import BM25_STORE, measured_sections, rag_cell_id, rag_ci
from vecbench.results import ResultsWriter, completed_cells, make_record, public_config
from vecbench.util.progress import NULL, Progress
from vecbench.util.validation import positive_int

__all__ = ["run_rag", "load_dataset", "rag_cell_id", "rag_ci", "check_corpus_text"]


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


def _make_reranker(rc: ComponentConfig | None) -> Any:
    if rc is None:
        return None
    if rc.name == "embedding":
        from vecbench.rag.components import resolve_embedder
        from vecbench.rag.rerank import EmbeddingReranker

        e = rc.params["embedder"]
        return EmbeddingReranker(resolve_embedder(e["name"], e["params"]), rc.params.get("precompute", False))
    from vecbench.rag.rerank import CrossEncoderReranker

    r = CrossEncoderReranker(**rc.params)
    r.load()  # outside the timed queries
    return r


@dataclass(frozen=True)
class _Cell:
    """One cell of the grid: its id and the components that make it (a sparse cell has no
    embedder, store or search point)."""

    cell_id: str
    chunker: ComponentConfig
    embedder: ComponentConfig | None
    store: StoreConfig | None
    search: Mapping[str, Any]
    reranker: ComponentConfig | None
    mode: RetrievalMode


class _RagRun:
    """One run of a retrieval config: the shared parts of its records, and the steps."""

    def __init__(
        self,
        cfg: RagConfig,
        ds: RagDataset,
        writer: ResultsWriter | None,
        progress: Progress,
        run_id: str | None = None,
    ) -> None:
        from vecbench.results.provenance import machine_info, new_run_id

        self.cfg, self.ds, self.writer, self.progress = cfg, ds, writer, progress
        self.run_id = run_id or new_run_id()
        self.machine = machine_info()
        self.records: list[dict[str, Any]] = []
        self.rerankers: dict[int, Any] = {}
        self.prepared: dict[int, ChunkedCorpus] = {}  # reranker entry -> corpus its vectors are of
        self.dataset_section = {
            "name": ds.name,
            "path": str(cfg.dataset.path),
            "checksum": ds.checksum,
            "params": ds.params,
        }

    def cells(self, done: set[str]) -> dict[int, list[_Cell]]:
        """Cells still to run, grouped by chunker: each chunks once (and builds BM25 once);
        within it, sparse cells first, then per embedder (embedded once) and store."""
        cfg, ds = self.cfg, self.ds
        groups: dict[int, list[_Cell]] = {id(c): [] for c in cfg.chunkers}
        for c, e, s, search, r, m in cfg.cells():
            cell = _Cell(rag_cell_id(cfg, ds, c, e, s, search, r, m), c, e, s, search, r, m)
            if cell.cell_id not in done:
                groups[id(c)].append(cell)
        return groups

    def run_chunker(self, cells: list[_Cell]) -> None:
        """Chunk once for these cells' chunker, build BM25 if a cell needs it, run the
        sparse cells, then embed once per embedder and run its stores."""
        from vecbench.rag.components import resolve_chunker

        c = cells[0].chunker
        ident: dict[str, Any] = {}
        try:
            chunker = resolve_chunker(c.name, c.params)
            ident["chunker_params"] = dict(chunker.params)
            chunked = chunk_corpus(self.ds, chunker, self.progress)
            bm25 = None
            if any(cell.mode.uses_sparse for cell in cells):
                with self.progress.task("bm25 index", total=None, unit="chunk"):
                    bm25 = build_bm25(chunked, self.cfg.bm25)
                ident["bm25"] = bm25[0].describe()
        except Exception as exc:  # noqa: BLE001 - recorded as failed cells
            for cell in cells:
                self.emit(cell, ident, error=exc)
            return
        for cell in cells:
            if cell.embedder is None:
                self.run_sparse(cell, chunked, bm25, ident)
        for e in self.cfg.embedders:
            mine = [cell for cell in cells if cell.embedder is e]
            if mine:
                self.run_embedder(mine, chunked, bm25, dict(ident))

    def run_sparse(self, cell: _Cell, chunked: ChunkedCorpus, bm25: Any, ident: dict[str, Any]) -> None:
        """A BM25-only cell: no embedder, no store."""
        index, bm25_s = bm25
        try:
            plan = self.plan(None)
            rr = self.reranker(cell.reranker, chunked)
            out = query(self.ds, chunked, None, None, plan, rr, self.progress, mode=cell.mode, bm25=index)
            info = {"ingest_s": bm25_s, "machine_load": None}
            measured = measured_sections(self.cfg, chunked, info, out, None, self.machine, None, bm25_s)
            self.emit(cell, ident, sidecar=self.sidecar(cell, out), **measured)
        except Exception as exc:  # noqa: BLE001
            self.emit(cell, ident, error=exc)

    def run_embedder(
        self, cells: list[_Cell], chunked: ChunkedCorpus, bm25: Any, ident: dict[str, Any]
    ) -> None:
        """Embed the chunks once (through the embedding cache unless turned off), then
        every store."""
        from vecbench.rag.components import resolve_embedder

        e = cells[0].embedder
        assert e is not None
        try:
            with self.progress.task(f"load embedder {e.name}"):  # a model loads on first use
                embedder = resolve_embedder(e.name, e.params)
                ident.update(embedder=embedder.name, dim=int(embedder.dim))
            embedded = self.embed(chunked, embedder)
            check_query_embedder(embedded, embedder)
        except Exception as exc:  # noqa: BLE001 - recorded as failed cells
            for cell in cells:
                self.emit(cell, ident, error=exc)
            return
        for s in self.cfg.stores:
            mine = [cell for cell in cells if cell.store is s]
            if mine:
                self.run_store(mine, embedded, embedder, ident, bm25)

    def plan(self, s: StoreConfig | None) -> RetrievalPlan:
        cfg = self.cfg
        if s is None:
            return RetrievalPlan(ks=cfg.ks, k_chunks=cfg.k_chunks, span_k=cfg.span_k)
        return RetrievalPlan(
            metric=s.metric,
            index_type=s.index,
            build=s.build,
            ks=cfg.ks,
            k_chunks=cfg.k_chunks,
            span_k=cfg.span_k,
        )

    def run_store(
        self,
        cells: list[_Cell],
        embedded: EmbeddedCorpus,
        embedder: Any,
        ident: dict[str, Any],
        bm25: Any,
    ) -> None:
        """Index the corpus in one store build and run its cells; a failure to connect,
        create, ingest or drop fails the cells not yet recorded."""
        from vecbench.registry import get_store

        s, c, e = cells[0].store, cells[0].chunker, cells[0].embedder
        assert s is not None and e is not None
        plan = self.plan(s)
        name = collection_name(self.run_id, "rag", c.name, c.params, e.name, e.params, s.index, s.build)
        try:
            with get_store(s.name, s.config) as store:
                full_text = any(cell.mode.native for cell in cells)
                info = ingest(
                    store, embedded, plan, collection=name, progress=self.progress, full_text=full_text
                )
                try:
                    footprint = footprint_of(store)
                    for cell in cells:
                        self.run_cell(cell, store, embedded, embedder, ident, plan, info, footprint, bm25)
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
        bm25: Any,
    ) -> None:
        name = info["collection"]
        index, bm25_s = bm25 if cell.mode.uses_sparse else (None, None)
        try:
            plan = replace(plan, search=dict(cell.search))
            rr = self.reranker(cell.reranker, embedded.chunked)
            out = query(
                self.ds, embedded, store, embedder, plan, rr, self.progress, mode=cell.mode, bm25=index
            )
            assert cell.store is not None
            measured = measured_sections(
                self.cfg, embedded, info, out, footprint, self.machine, cell.store.config, bm25_s
            )
            sidecar = self.sidecar(cell, out)
            self.emit(cell, ident, store_desc=store.describe(), collection=name, sidecar=sidecar, **measured)
        except Exception as exc:  # noqa: BLE001
            self.emit(cell, ident, collection=name, error=exc)

    def sidecar(self, cell: _Cell, out: QueryOutcome) -> str | None:
        """Chunk ids, end-to-end and per-stage latencies (``stage_<name>_ns``) per query."""
        if self.writer is None:
            return None
        stages = {f"stage_{k}_ns": v.astype("float64") for k, v in out.stage_ns.items()}
        return self.writer.write_sidecar(cell.cell_id, out.chunk_ids, out.latencies_ns, per_query=stages)

    def reranker(self, rc: ComponentConfig | None, chunked: ChunkedCorpus) -> Any:
        """The reranker of a config entry, made (and loaded) once per run; an embedding
        reranker with ``precompute`` gets the vectors of ``chunked``'s chunks (embedded
        through the cache, outside any timing) when it does not hold them yet."""
        if rc is None:
            return None
        if id(rc) not in self.rerankers:
            self.rerankers[id(rc)] = _make_reranker(rc)
        made = self.rerankers[id(rc)]
        if getattr(made, "precompute", False) and self.prepared.get(id(rc)) is not chunked:
            embedded = self.embed(chunked, made.embedder)
            corpus = {"tokens": embedded.tokens, "embed_s": embedded.embed_s}
            made.use_vectors(embedded.vectors, {**corpus, "embed_s_source": embedded.embed_s_source})
            self.prepared[id(rc)] = chunked
        return made

    def embed(self, chunked: ChunkedCorpus, embedder: Any) -> EmbeddedCorpus:
        """``chunked`` embedded by ``embedder``, through the embedding cache unless turned off."""
        from vecbench.embedding.cache import EmbeddingCache

        if self.cfg.executor == "ray":  # Ray Data on the cluster; the local cache is not used
            from vecbench.distributed.cluster import connect
            from vecbench.distributed.embed import embed_corpus_ray

            connect(self.cfg.ray_address)
            return embed_corpus_ray(chunked, embedder, self.cfg.batch_size, self.progress)
        if not self.cfg.embedding_cache:
            return embed_corpus(chunked, embedder, self.cfg.batch_size, self.progress)
        with EmbeddingCache(embedder) as cached:
            return embed_corpus(chunked, cached, self.cfg.batch_size, self.progress)

    def reranker_section(self, rc: ComponentConfig) -> dict[str, Any]:
        """The record's ``reranker``: the config's name and params and, once made, what the
        reranker says it is (``identity``: its embedder's name, a model's weights hash)."""
        made = self.rerankers.get(id(rc))
        return {"name": rc.name, "params": rc.params, **({"identity": made.params} if made else {})}

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
        clients: tuple[str, ...] = ("bm25s",) if cell.mode.uses_sparse else ()
        try:
            if s is not None:
                clients += tuple(store_class(s.name).info.client_modules)
        except Exception:  # noqa: BLE001 - versions are provenance, not a reason to fail
            pass
        search: dict[str, Any] = {"params": dict(cell.search), "retrieval": cell.mode.as_dict()}
        if cell.mode.native and s is not None:
            search["retrieval"]["method"] = _native_method(s.name, cell.mode)
        if cell.mode.uses_sparse:
            search["bm25"] = ident.get("bm25", self.cfg.bm25.as_dict())
        search.update(k=self.cfg.ks, k_chunks=self.cfg.k_chunks, span_k=self.cfg.span_k)
        if s is None:
            store: dict[str, Any] = {"name": BM25_STORE, "config": {}}
            index: dict[str, Any] = {
                "type": "bm25",
                "metric": None,
                "build": search["bm25"],
                "collection": None,
            }
        else:
            store = {
                "name": s.name,
                "config": public_config(s.config),
                **({"describe": dict(store_desc)} if store_desc else {}),
            }
            index = {"type": s.index, "metric": s.metric, "build": s.build, "collection": collection}
        embedder = None
        if e is not None:
            embedder = {
                "name": ident.get("embedder", e.name),
                "registry_name": e.name,
                "dim": ident.get("dim"),
                "params": e.params,
            }
        rec = make_record(
            kind="rag",
            run_id=self.run_id,
            cell_id=cell.cell_id,
            created_at=utc_now_iso(),
            versions=versions(clients),
            machine=self.machine,
            dataset=self.dataset_section,
            chunker={"name": c.name, "params": ident.get("chunker_params", c.params)},
            embedder=embedder,
            store=store,
            index=index,
            search=search,
            reranker=None if r is None else self.reranker_section(r),
            counts=self.ds.counts.as_dict(),
            **measured,
        )
        if self.writer is not None:
            self.writer.append(rec)
        self.records.append(rec)
        self.progress.cell_done(ok=rec.get("status") == "ok")


def check_corpus_text(ds: RagDataset) -> None:
    """ConfigError when no document of ``ds`` has text (nothing to chunk, embed or match)."""
    if ds.counts.docs and ds.counts.empty_docs >= ds.counts.docs:
        raise ConfigError(
            f"data set {ds.name!r}: none of its {ds.counts.docs} documents has text "
            '(corpus.jsonl needs a non-empty "text" or "title" per document)'
        )


def _native_method(store_name: str, mode: RetrievalMode) -> str | None:
    """How the store's engine ran the fusion (``HybridSearch.hybrid_method``)."""
    from vecbench.registry import store_class

    try:
        return str(store_class(store_name).hybrid_method(str(mode.fusion)))
    except Exception:  # noqa: BLE001 - provenance, not a reason to fail
        return None


def run_rag(
    config: str | Path | Mapping[str, Any] | RagConfig,
    out: str | Path | None = None,
    progress: Progress = NULL,
    *,
    resume: bool = False,
    prices: PriceModel | Mapping[str, Any] | str | Path | None = None,
    ci_resamples: int | None = None,
    run_id: str | None = None,
) -> list[dict[str, Any]]:
    """Run every cell of ``config``; returns the records (also appended to ``out`` if given).

    With ``resume``, cells already recorded ok in ``out`` are skipped (and not returned).
    ``prices`` and ``ci_resamples``, when given, replace the config's. A corpus without
    any text is a ConfigError before any work.
    """
    cfg = config if isinstance(config, RagConfig) else load_rag_config(config)
    if prices is not None:
        model = resolve_prices(prices)
        cfg = replace(cfg, prices=model, price_per_1m_tokens=model.usd_per_1m_embedding_tokens)
    if ci_resamples is not None:
        cfg = replace(cfg, ci_resamples=positive_int(ci_resamples, "ci_resamples"))
    ds = load_dataset(cfg)
    check_corpus_text(ds)
    writer = ResultsWriter(out) if out is not None else None
    done = completed_cells(out) if (resume and out is not None) else set()
    run = _RagRun(cfg, ds, writer, progress, run_id)
    groups = [cells for cells in run.cells(done).values() if cells]
    progress.begin(sum(len(cells) for cells in groups))
    for cells in groups:
        c = cells[0].chunker
        label = " ".join(["chunker", c.name, *(f"{k}={v}" for k, v in (c.params or {}).items())])
        with progress.cells(label, len(cells)):
            run.run_chunker(cells)
    return run.records
