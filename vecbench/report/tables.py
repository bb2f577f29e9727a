"""HTML tables of the report: every cell text is escaped here, numbers formatted here."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from vecbench.analysis.pareto import params_text
from vecbench.analysis.summary import disturbed_note
from vecbench.util.nested import dig
from vecbench.util.validation import is_number

__all__ = [
    "fmt",
    "ci_text",
    "Cell",
    "cell_params",
    "rag_setting",
    "html_table",
    "summary_table",
    "best_table",
    "setting_text",
    "cost_table",
    "rag_table",
    "load_table",
    "failed_table",
]

MIB = 1024 * 1024


def num(v: Any) -> bool:
    """Whether ``v`` is a number (bool is not)."""
    return is_number(v)


def fmt(v: Any, kind: str = "") -> str:
    """Display text of a figure: "-" when absent; ``kind`` one of recall, ms, qps, usd, mib, s, int."""
    if v is None:
        return "-"
    if not num(v):
        return str(v)
    if kind == "recall":
        return f"{v:.4f}"
    if kind == "ms":
        return f"{v:.4g}"
    if kind == "qps":
        return f"{v:,.0f}" if v >= 100 else f"{v:.3g}"
    if kind == "usd":
        return f"${v:.4g}"
    if kind == "mib":
        return f"{v / MIB:,.1f}"
    if kind == "s":
        return f"{v:.3g}"
    if kind == "share":
        return f"{100 * v:.1f}%"
    if kind == "int":
        return f"{v:,.0f}"
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def ci_text(record: Mapping[str, Any], key: str, kind: str) -> str:
    """``[low, high]`` of a record's ``ci`` section for ``key`` ("" without one)."""
    ci = dig(record, "ci", key)
    if isinstance(ci, Sequence) and len(ci) == 2 and all(num(x) for x in ci):
        return f"[{fmt(ci[0], kind)}, {fmt(ci[1], kind)}]"
    return ""


class Cell:
    """A table cell: text (escaped on output), an optional small second line, a CSS class."""

    def __init__(self, text: Any, sub: str = "", cls: str = "") -> None:
        self.text, self.sub, self.cls = str(text), sub, cls


def html_table(
    headers: Sequence[str], rows: Iterable[Sequence[Any]], *, numeric: Iterable[int] = (), caption: str = ""
) -> str:
    """A <table> with escaped headers and cells; columns in ``numeric`` are right-aligned."""
    right = set(numeric)
    out = ['<div class="scroll"><table>']
    if caption:
        out.append(f"<caption>{html.escape(caption)}</caption>")
    out.append(
        "<thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in headers) + "</tr></thead><tbody>"
    )
    n = 0
    for row in rows:
        n += 1
        cells = []
        for i, value in enumerate(row):
            c = value if isinstance(value, Cell) else Cell(value)
            classes = " ".join(x for x in (c.cls, "num" if i in right else "") if x)
            attr = f' class="{classes}"' if classes else ""
            sub = f'<br><span class="ci">{html.escape(c.sub)}</span>' if c.sub else ""
            cells.append(f"<td{attr}>{html.escape(c.text)}{sub}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table></div>")
    return "".join(out) if n else '<p class="none">(none)</p>'


def _status(record: Mapping[str, Any]) -> Cell:
    if record.get("status") == "ok":
        busy = disturbed_note(record)
        if busy:  # measured, but while other processes loaded the machine
            return Cell(f"ok ({busy})", "figures taken while other processes used the CPU", "bad")
        return Cell("ok", cls="ok")
    return Cell(f"failed: {dig(record, 'error', 'type') or '?'}", cls="bad")


def cell_params(record: Mapping[str, Any]) -> str:
    """A vector record's build and search parameters as ``key=value`` text."""
    build = dig(record, "index", "resolved_params") or dig(record, "index", "params") or {}
    search = dig(record, "search", "params") or {}
    return " ".join(p for p in (params_text(build), params_text(search)) if p)


def summary_table(records: Sequence[Mapping[str, Any]]) -> str:
    """Every vector record: quality, latency, QPS, times, footprint, $ and status."""
    headers = [
        "dataset", "metric", "store", "index", "params", "recall@k", "p50 ms", "p99 ms", "QPS",
        "batch QPS", "ingest s", "build s", "index MiB", "service RSS MiB", "$/1M queries", "status",
    ]  # fmt: skip
    rows = []
    for r in records:
        rows.append(
            [
                dig(r, "dataset", "name"),
                dig(r, "dataset", "metric"),
                dig(r, "store", "name"),
                dig(r, "index", "type"),
                cell_params(r),
                Cell(fmt(dig(r, "quality", "recall_at_k"), "recall"), ci_text(r, "recall_at_k", "recall")),
                Cell(fmt(dig(r, "latency", "p50_ms"), "ms"), ci_text(r, "p50_ms", "ms")),
                Cell(fmt(dig(r, "latency", "p99_ms"), "ms"), ci_text(r, "p99_ms", "ms")),
                Cell(fmt(dig(r, "qps", "serial"), "qps"), ci_text(r, "qps", "qps")),
                fmt(dig(r, "qps", "batch"), "qps"),
                fmt(dig(r, "timings", "ingest_s"), "s"),
                fmt(dig(r, "timings", "build_s"), "s"),
                fmt(dig(r, "footprint", "memory_bytes"), "mib"),
                fmt(dig(r, "footprint", "service", "rss_bytes"), "mib"),
                fmt(dig(r, "cost", "usd_per_1m_queries"), "usd"),
                _status(r),
            ]
        )
    ks = {dig(r, "search", "k") or dig(r, "quality", "k") for r in records} - {None}
    if len(ks) == 1:
        headers[5] = f"recall@{ks.pop()}"
    levels = {dig(r, "ci", "level") for r in records} - {None}
    caption = ""
    if levels:
        level = ", ".join(f"{100 * x:g}%" for x in sorted(levels) if num(x))
        caption = f"Second lines: {level} confidence intervals (bootstrap, resampling queries)."
    return html_table(headers, rows, numeric=range(5, 15), caption=caption)


_BY_HEADERS = {"p99_ms": "p99 ms", "p95_ms": "p95 ms", "p50_ms": "p50 ms", "qps": "QPS",
               "batch_qps": "batch QPS", "load_qps": "load QPS", "usd_per_1m_queries": "$/1M queries"}  # fmt: skip


def setting_text(row: Mapping[str, Any]) -> str:
    """A best-per-store row's setting: its parameters, and its filter where it has one."""
    parts = [row.get("params") or "", f"filter {row['filter']}" if row.get("filter") else ""]
    return " | ".join(p for p in parts if p) or "-"


def best_table(rows: Sequence[Mapping[str, Any]], by: str) -> str:
    """Rows of ``vecbench.analysis.pareto.best_per_store``: the ``by`` column, then p99, QPS and $."""
    shown = [by] + [c for c in ("p99_ms", "qps", "usd_per_1m_queries") if c != by]
    headers = ["dataset", "metric", "k", "store", "index", "setting", "recall"]
    headers += [_BY_HEADERS.get(c, c) for c in shown] + ["reached"]
    out = []
    for r in rows:
        reached = (
            Cell("yes", r.get("note", ""), "ok")
            if r["reached"]
            else Cell("no", r.get("note", ""), "bad wrap")
        )
        figures = [
            fmt(r.get(c), "usd" if c.startswith("usd") else ("qps" if "qps" in c else "ms")) for c in shown
        ]
        out.append(
            [
                r["dataset"],
                r["metric"],
                r["k"],
                r["store"],
                r["index"],
                setting_text(r),
                fmt(r["recall"], "recall"),
            ]
            + figures
            + [reached]
        )
    return html_table(headers, out, numeric=range(6, 7 + len(shown)))


def _price_text(prices: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in prices.items())


def cost_table(records: Sequence[Mapping[str, Any]]) -> str:
    """Dollar figures of the records with a cost section, then the price models they used."""
    headers = [
        "kind", "dataset", "store", "index", "params", "QPS basis", "cores", "$/1M queries", "$/month",
        "$ ingest+build", "$ embed corpus", "$ queries (embed)", "prices",
    ]  # fmt: skip
    rows = []
    models: dict[str, int] = {}
    for r in records:
        c = r.get("cost")
        if r.get("status") != "ok" or not isinstance(c, Mapping):
            continue
        basis = c.get("basis") or {}
        prices = dict(c.get("prices") or {})
        if not prices and num(c.get("price_per_1m_tokens")):
            prices = {"usd_per_1m_embedding_tokens": c["price_per_1m_tokens"]}
        ref = "-"
        if prices:
            ref = f"#{models.setdefault(_price_text(prices), len(models) + 1)}"
        qps_basis = f"{fmt(basis.get('qps'), 'qps')} ({basis.get('qps_source')})" if basis else "-"
        vector = r.get("kind", "vector") == "vector"
        rows.append(
            [
                r.get("kind", "vector"),
                dig(r, "dataset", "name"),
                dig(r, "store", "name"),
                dig(r, "index", "type"),
                cell_params(r) if vector else rag_setting(r),
                qps_basis,
                fmt(basis.get("cores")),
                fmt(c.get("usd_per_1m_queries"), "usd"),
                fmt(c.get("usd_per_month"), "usd"),
                fmt(c.get("usd_ingest_build"), "usd"),
                fmt(c.get("usd_embed_corpus", c.get("usd_embed")), "usd"),
                fmt(c.get("usd_queries"), "usd"),
                ref,
            ]
        )
    legend = "".join(
        f"<li>#{i}: {html.escape(text)}</li>" for text, i in sorted(models.items(), key=lambda kv: kv[1])
    )
    return html_table(headers, rows, numeric=range(5, 12)) + (
        f"<p>Price models:</p><ul>{legend}</ul>" if legend else ""
    )


def rag_setting(r: Mapping[str, Any]) -> str:
    """A retrieval record's chunker | embedder | search | reranker as text."""
    from vecbench.report.rag import chunker_text, retrieval_text

    parts = [chunker_text(r), str(dig(r, "embedder", "name") or "-")]
    search = params_text(dig(r, "search", "params"))
    if search:
        parts.append(search)
    parts.append(retrieval_text(r))
    reranker = dig(r, "reranker", "name")
    if reranker:
        parts.append(f"rerank {reranker}")
    return " | ".join(parts)


def rag_table(records: Sequence[Mapping[str, Any]]) -> str:
    """Retrieval quality of ``rag`` records: nDCG@10, MRR@10, recall@k, span IoU, tokens, $."""
    ks = sorted(
        {int(k) for r in records for k in (dig(r, "quality", "recall_at_k") or {}) if str(k).isdigit()}
    )
    from vecbench.report.rag import chunker_text, retrieval_text

    headers = ["chunker", "embedder", "store", "search", "retrieval", "reranker", "nDCG@10", "MRR@10"]
    headers += [f"recall@{k}" for k in ks]
    headers += ["span recall", "span IoU", "chunks", "tokens", "$ embed", "p50 ms", "p99 ms", "status"]
    rows = []
    for r in records:
        q = r.get("quality") or {}
        c = r.get("cost") or {}
        rk = q.get("recall_at_k") or {}
        usd = c.get("usd_embed_corpus", c.get("usd_embed"))
        rows.append(
            [
                chunker_text(r),
                dig(r, "embedder", "name") or "-",
                f"{dig(r, 'store', 'name')}/{dig(r, 'index', 'type')}",
                params_text(dig(r, "search", "params")) or "-",
                retrieval_text(r),
                dig(r, "reranker", "name") or "-",
                Cell(fmt(q.get("ndcg_at_10"), "recall"), ci_text(r, "ndcg_at_10", "recall")),
                Cell(fmt(q.get("mrr_at_10"), "recall"), ci_text(r, "mrr_at_10", "recall")),
                *[fmt(rk.get(str(k)), "recall") for k in ks],
                fmt(q.get("span_recall"), "recall"),
                fmt(q.get("span_iou"), "recall"),
                fmt(c.get("chunks"), "int"),
                fmt(c.get("tokens"), "int"),
                fmt(usd, "usd"),
                fmt(dig(r, "latency", "p50_ms"), "ms"),
                fmt(dig(r, "latency", "p99_ms"), "ms"),
                _status(r),
            ]
        )
    return html_table(headers, rows, numeric=range(6, 6 + 2 + len(ks) + 7))


def _load_rows(r: Mapping[str, Any]) -> list[list[Any]]:
    who = f"{dig(r, 'store', 'name')}/{dig(r, 'index', 'type')} {cell_params(r)}".strip()
    load = r.get("load") or {}
    rows: list[list[Any]] = []
    for lv in dig(load, "closed_loop", "levels") or []:
        rows.append([who, "closed loop", f"{lv.get('workers')} workers", *_level_cells(lv, lv.get("qps"))])
    open_loop = load.get("open_loop") or {}
    for rate in open_loop.get("rates") or []:
        what = f"{fmt(rate.get('target_rate'), 'qps')}/s ({open_loop.get('arrival', '?')})"
        rows.append([who, "open loop", what, *_level_cells(rate, rate.get("achieved_rate"))])
    sweep = load.get("rate_sweep") or {}
    for rate in sweep.get("tried") or []:
        what = (
            f"{fmt(rate.get('target_rate'), 'qps')}/s (p99 target {fmt(sweep.get('p99_target_ms'), 'ms')} ms)"
        )
        rows.append([who, "rate sweep", what, *_level_cells(rate, rate.get("achieved_rate"))])
    if sweep:
        best = sweep.get("max_rate")
        rows.append([who, "rate sweep", "highest rate meeting p99 target", fmt(best, "qps"), *["-"] * 7])
    return rows


def _level_cells(lv: Mapping[str, Any], qps: Any) -> list[Any]:
    status = lv.get("status", "ok")
    errors = lv.get("errors")
    cls = "ok" if status == "ok" and not errors else "bad"
    err = dig(lv, "error", "message") or ""
    return [
        fmt(qps, "qps"),
        fmt(lv.get("p50_ms"), "ms"),
        fmt(lv.get("p95_ms"), "ms"),
        fmt(lv.get("p99_ms"), "ms"),
        fmt(lv.get("max_ms"), "ms"),
        fmt(errors, "int"),
        fmt(lv.get("client_cpu_share"), "share"),
        Cell(status, err, cls),
    ]


def load_table(records: Sequence[Mapping[str, Any]]) -> str:
    """Closed-loop levels, open-loop rates and rate sweeps of the records with a load section."""
    headers = ["cell", "mode", "level", "achieved QPS", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors",
               "client CPU", "status"]  # fmt: skip
    rows = [row for r in records if r.get("status") == "ok" for row in _load_rows(r)]
    return html_table(headers, rows, numeric=range(3, 10))


def failed_table(records: Sequence[Mapping[str, Any]]) -> str:
    """The failed cells with their error."""
    headers = ["kind", "dataset", "store", "index", "params", "error", "message"]
    rows = [
        [
            r.get("kind", "vector"),
            dig(r, "dataset", "name"),
            dig(r, "store", "name"),
            dig(r, "index", "type"),
            rag_setting(r) if r.get("kind") == "rag" else cell_params(r),
            Cell(dig(r, "error", "type") or "?", cls="bad"),
            Cell(dig(r, "error", "message") or "", cls="wrap"),
        ]
        for r in records
        if r.get("status") != "ok"
    ]
    return html_table(headers, rows)
