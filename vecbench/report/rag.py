"""The report's retrieval-pipeline section: what each stage buys and what it costs.

For the ``rag`` records of a page: nDCG@10 against end-to-end p99 for every pipeline
(chunker x embedder x retrieval mode x reranker), the Pareto front of the two drawn as a
line (higher nDCG, lower p99); each pipeline's mean time per stage as stacked bars; and a
table of p50 and p99 per stage with the end-to-end p99 and nDCG@10 with its interval.

Percentiles do not add up, so the bars stack means (they do add up, to the mean end to end
less the work between stages); the table gives each stage's own p99.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from vecbench.report.tables import Cell, fmt, html_table
from vecbench.util.nested import dig

__all__ = [
    "rag_section",
    "rag_pareto_png",
    "rag_stages_png",
    "pipeline_label",
    "retrieval_text",
    "short_embedder",
]

STAGES = ("embed_query", "dense_search", "sparse_search", "fusion", "hybrid_search", "rerank")
_STAGE_TITLES = {
    "embed_query": "query embedding",
    "dense_search": "dense search",
    "sparse_search": "BM25",
    "fusion": "fusion",
    "hybrid_search": "native hybrid",
    "rerank": "rerank",
}
_MODE_ORDER = ("dense", "bm25", "hybrid rrf", "hybrid weighted")


def retrieval_text(r: Mapping[str, Any]) -> str:
    """``dense``, ``bm25``, ``hybrid rrf k=60`` or ``hybrid weighted a=0.5`` (+ `` native``
    where the engine fused)."""
    ret = dig(r, "search", "retrieval") or {"mode": "dense"}
    mode = ret.get("mode")
    if mode == "sparse":
        return "bm25"
    if mode == "hybrid":
        tail = " native" if ret.get("where") == "native" else ""
        if ret.get("fusion") == "rrf":
            return f"hybrid rrf k={ret.get('rrf_k')}{tail}"
        return f"hybrid weighted a={ret.get('alpha'):g}{tail}"
    return str(mode)


def chunker_text(r: Mapping[str, Any]) -> str:
    """The chunker's name and numeric settings (sizes, overlap, threshold), e.g.
    ``recursive chunk_size=512 chunk_overlap=64``; the record keeps every parameter."""
    params = dig(r, "chunker", "params") or {}
    nums = " ".join(
        f"{k}={v}" for k, v in params.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
    )
    return f"{dig(r, 'chunker', 'name')} {nums}".strip()


def short_embedder(name: Any) -> str:
    """``st:all-MiniLM-L6-v2@7e54b3bcd8c7`` -> ``all-MiniLM-L6-v2``; model2vec's distilled
    name -> ``model2vec``."""
    if not name:
        return "-"
    text = str(name)
    if text.startswith("model2vec:"):
        return "model2vec"
    return text.split(":", 1)[-1].split("@", 1)[0]


def _reranker_text(r: Mapping[str, Any]) -> str:
    rr = r.get("reranker")
    if not rr:
        return ""
    emb = dig(rr, "identity", "embedder") or dig(rr, "params", "embedder", "name")
    return f"+ rerank {rr.get('name')}" + (f" {short_embedder(emb)}" if emb else "")


def pipeline_label(r: Mapping[str, Any]) -> str:
    """``whole | model2vec | hybrid rrf k=60 + rerank embedding all-MiniLM-L6-v2``."""
    parts = [str(dig(r, "chunker", "name"))]
    if r.get("embedder"):
        parts.append(short_embedder(dig(r, "embedder", "name")))
    parts.append(f"{retrieval_text(r)} {_reranker_text(r)}".strip())
    store = dig(r, "store", "name")
    if store and store != "bm25s":
        parts.append(f"{store}/{dig(r, 'index', 'type')}")
    return " | ".join(parts)


def _family(r: Mapping[str, Any]) -> str:
    text = retrieval_text(r)
    return next((m for m in _MODE_ORDER if text.startswith(m)), text)


def _pareto(points: Sequence[tuple[float, float, Mapping[str, Any]]]) -> list[tuple[float, float, Any]]:
    """Points no other point beats on both axes (lower p99, higher nDCG), by p99."""
    front: list[tuple[float, float, Any]] = []
    best = float("-inf")
    for p99, ndcg, r in sorted(points, key=lambda p: (p[0], -p[1])):
        if ndcg > best:
            front.append((p99, ndcg, r))
            best = ndcg
    return front


def rag_pareto_png(records: Sequence[Mapping[str, Any]], *, title: str) -> str | None:
    """nDCG@10 (y, with its 95% interval) against end-to-end p99 (x, log scale): colour by
    retrieval mode, marker by embedder, hollow when reranked; the front as a line, its
    points labelled."""
    from matplotlib import colormaps

    from vecbench.report.plots import _figure, _png

    pts = [
        (float(dig(r, "latency", "p99_ms")), float(dig(r, "quality", "ndcg_at_10")), r)
        for r in records
        if dig(r, "latency", "p99_ms") and dig(r, "quality", "ndcg_at_10") is not None
    ]
    if not pts:
        return None
    fig = _figure(8.6, 5.6)
    ax = fig.add_subplot()
    families = sorted({_family(r) for _, _, r in pts}, key=lambda f: (_MODE_ORDER + (f,)).index(f))
    colors = {f: colormaps["tab10"](i) for i, f in enumerate(families)}
    embedders = sorted({short_embedder(dig(r, "embedder", "name")) for _, _, r in pts})
    markers = dict(zip(embedders, "osD^vP*X", strict=False))
    for x, y, r in pts:
        c = colors[_family(r)]
        ci = dig(r, "ci", "ndcg_at_10")
        if isinstance(ci, Sequence) and len(ci) == 2:
            ax.plot([x, x], ci, color=c, alpha=0.35, lw=1)
        face = "none" if r.get("reranker") else c
        ax.plot(x, y, markers.get(short_embedder(dig(r, "embedder", "name")), "o"), color=c, mfc=face, ms=7)
    front = _pareto(pts)
    ax.plot([p[0] for p in front], [p[1] for p in front], "-", color="#333", lw=1, zorder=0)
    for i, (x, y, _r) in enumerate(front, start=1):  # numbered; the page lists them
        ax.annotate(str(i), (x, y), xytext=(-4, 6), textcoords="offset points", fontsize=8, weight="bold")
    ax.set_xscale("log")
    ax.set_xlabel("end-to-end p99 latency per query (ms, log scale)")
    ax.set_ylabel("nDCG@10 (bars: 95% interval)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    handles = [ax.plot([], [], "o", color=colors[f], label=f)[0] for f in families]
    handles += [
        ax.plot(
            [], [], markers[e], color="#555", label=f"embedder: {e}" if e != "-" else "no embedder (BM25)"
        )[0]
        for e in embedders
    ]
    handles.append(ax.plot([], [], "o", color="#555", mfc="none", label="reranked (hollow)")[0])
    handles.append(ax.plot([], [], "-", color="#333", label="Pareto front")[0])
    ax.legend(handles=handles, fontsize=7, loc="lower right", framealpha=0.9)
    return _png(fig)


def rag_stages_png(records: Sequence[Mapping[str, Any]], *, title: str) -> str | None:
    """Mean milliseconds per stage, stacked, one horizontal bar per pipeline."""
    from matplotlib import colormaps

    from vecbench.report.plots import _figure, _png

    rows = [r for r in records if dig(r, "latency", "stages")]
    if not rows:
        return None
    rows.sort(key=lambda r: float(dig(r, "latency", "mean_ms") or 0.0))
    fig = _figure(8.6, 1.2 + 0.26 * len(rows))
    ax = fig.add_subplot()
    cmap = colormaps["Set2"]
    labels = [pipeline_label(r) for r in rows]
    left = [0.0] * len(rows)
    for i, stage in enumerate(STAGES):
        widths = [float(dig(r, "latency", "stages", stage, "mean_ms") or 0.0) for r in rows]
        if any(widths):
            ax.barh(range(len(rows)), widths, left=left, color=cmap(i), label=_STAGE_TITLES[stage])
            left = [a + b for a, b in zip(left, widths, strict=True)]
    ax.scatter(
        [float(dig(r, "latency", "mean_ms") or 0.0) for r in rows],
        range(len(rows)),
        marker="|",
        color="#222",
        s=120,
        label="end to end (mean)",
        zorder=3,
    )
    ax.set_yticks(range(len(rows)), labels, fontsize=7)
    ax.set_xlabel("mean time per query (ms)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right", framealpha=0.9)
    return _png(fig)


def _front_list(records: Sequence[Mapping[str, Any]]) -> str:
    """The numbered Pareto front of the plot, from the lowest p99 up."""
    pts = [
        (float(dig(r, "latency", "p99_ms")), float(dig(r, "quality", "ndcg_at_10")), r)
        for r in records
        if dig(r, "latency", "p99_ms") and dig(r, "quality", "ndcg_at_10") is not None
    ]
    items = "".join(
        f"<li>{html.escape(pipeline_label(r))}: nDCG@10 {fmt(y, 'recall')}, p99 {fmt(x, 'ms')} ms</li>"
        for x, y, r in _pareto(pts)
    )
    return f"<p>Pareto front (numbered on the plot):</p><ol>{items}</ol>" if items else ""


def _stage_table(records: Sequence[Mapping[str, Any]]) -> str:
    ran = [s for s in STAGES if any(dig(r, "latency", "stages", s) for r in records)]
    headers = ["pipeline", "nDCG@10", "p99 ms (end to end)"]
    headers += [f"{_STAGE_TITLES[s]} p50 / p99 ms" for s in ran]
    rows = []
    ordered = sorted(records, key=lambda r: -float(dig(r, "quality", "ndcg_at_10") or 0.0))
    for r in ordered:
        ci = dig(r, "ci", "ndcg_at_10")
        sub = f"[{fmt(ci[0], 'recall')}, {fmt(ci[1], 'recall')}]" if isinstance(ci, Sequence) else ""
        row: list[Any] = [
            pipeline_label(r),
            Cell(fmt(dig(r, "quality", "ndcg_at_10"), "recall"), sub),
            fmt(dig(r, "latency", "p99_ms"), "ms"),
        ]
        for s in ran:
            st = dig(r, "latency", "stages", s)
            row.append(f"{fmt(st['p50_ms'], 'ms')} / {fmt(st['p99_ms'], 'ms')}" if st else "-")
        rows.append(row)
    caption = "each stage's own percentiles over the queries (they do not add up to the end-to-end p99)"
    return html_table(headers, rows, numeric=range(1, len(headers)), caption=caption)


def _can_plot() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def rag_section(records: Sequence[Mapping[str, Any]]) -> str:
    """The section's HTML for the ok ``rag`` records among ``records``, per data set."""
    ok = [r for r in records if r.get("kind") == "rag" and r.get("status") == "ok"]
    by_dataset: dict[str, list[Mapping[str, Any]]] = {}
    for r in ok:
        by_dataset.setdefault(str(dig(r, "dataset", "name")), []).append(r)
    parts = [
        "<p>Every pipeline answers each judged query one at a time; its end-to-end latency covers "
        "query embedding, search (dense, BM25 or both), fusion and reranking. The front joins the "
        "pipelines no other beats on both nDCG@10 and p99.</p>"
    ]
    plots = _can_plot()
    if not plots:
        parts.append("<p class=\"none\">Plots need matplotlib: pip install 'vecbench[report]'.</p>")
    for name, recs in sorted(by_dataset.items()):
        title = f"{name}: nDCG@10 against end-to-end p99"
        imgs = []
        drawn = (
            [
                (rag_pareto_png(recs, title=title), title),
                (rag_stages_png(recs, title=f"{name}: time per stage"), f"{name}: time per stage"),
            ]
            if plots
            else []
        )
        for uri, alt in drawn:
            if uri:
                imgs.append(f'<img src="{html.escape(uri)}" alt="{html.escape(alt)}">')
        parts.append(
            f'<h3>{html.escape(name)}</h3><div class="plots">{"".join(imgs)}</div>'
            f"{_front_list(recs)}{_stage_table(recs)}"
        )
    return "".join(parts)
