"""One self-contained HTML page from result records: tables, plots, provenance.

Nothing on the page is fetched: CSS is inline, plots are PNG data URIs, and a
Content-Security-Policy forbids every other source. All record text is escaped.

    records = read_results("run.jsonl")
    write_html(records, "report.html", target_recall=0.95, results_path="run.jsonl")
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from vecbench.analysis.pareto import AXES, best_per_store, pareto_front, points
from vecbench.report import tables
from vecbench.report.filtered import filtered_section
from vecbench.util.atomic import write_atomic
from vecbench.util.nested import dig

__all__ = ["render_html", "write_html"]

_MEASURED = (
    *("timings", "quality", "latency", "qps", "footprint", "load", "cost", "ci", "counts"),
    *("steps", "summary"),  # a runbook record's
    *("freshness", "ingest"),  # a streaming record's
)
_STREAMING = ("freshness", "ingest_load")
_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#1d1d1f;background:#fff}
h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:32px 0 8px;border-bottom:2px solid #ddd}
h3{font-size:15px;margin:18px 0 6px}.meta{color:#555}nav a{margin-right:12px}
.scroll{overflow-x:auto;max-width:100%}table{border-collapse:collapse;margin:6px 0 14px;font-size:12.5px}
th,td{border:1px solid #d0d0d0;padding:3px 7px;vertical-align:top;text-align:left;white-space:nowrap}
td.wrap{white-space:normal;min-width:240px}
th{background:#eef1f5;position:sticky;top:0}tbody tr:nth-child(even){background:#f8f9fb}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.ci{color:#777;font-size:11px}.ok{color:#176f2c}.bad{color:#b00020;font-weight:600}
.plots{display:flex;flex-wrap:wrap;gap:12px}.plots img{max-width:100%;border:1px solid #e3e3e3;background:#fff}
details{margin:3px 0}summary{cursor:pointer}pre{background:#f6f8fa;padding:8px;overflow-x:auto;font-size:11.5px}
.none{color:#777;font-style:italic}caption{text-align:left;color:#555;font-size:12px;caption-side:bottom}
"""
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def _e(value: Any) -> str:
    return html.escape(str(value))


def _group_title(key: tuple[Any, ...]) -> str:
    dataset, metric, k, flt = key
    return f"{dataset} ({metric}, k={k})" + (f", filter {flt}" if flt else "")


def _groups(pts: Sequence[dict[str, Any]]) -> dict[tuple[Any, ...], list[dict[str, Any]]]:
    out: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for p in pts:
        out.setdefault((p["dataset"], p["metric"], p["k"], p["filter"]), []).append(p)
    return dict(sorted(out.items(), key=lambda kv: tuple(str(x) for x in kv[0])))


def _by_label(pts: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for p in pts:
        out.setdefault(p["label"], []).append(p)
    return out


def _img(uri: str | None, alt: str) -> str:
    return f'<img src="{_e(uri)}" alt="{_e(alt)}">' if uri else ""


def _pareto_section(groups: Mapping[Any, list[dict[str, Any]]], colors: Any, target: float) -> str:
    from vecbench.report.plots import pareto_png

    parts = []
    for key, pts in groups.items():
        labels = _by_label(pts)
        k = key[2]
        imgs = []
        for by in ("qps", "p99_ms", "usd_per_1m_queries"):
            if not any(p.get(by) is not None for p in pts):
                continue
            fronts = {lb: pareto_front(rows, by) for lb, rows in labels.items()}
            uri = pareto_png(
                labels,
                fronts,
                by,
                higher_is_better=AXES[by],
                colors=colors,
                title=_group_title(key),
                target_recall=target,
                recall_label=f"recall@{k}" if k else "recall@k",
            )
            imgs.append(_img(uri, f"recall vs {by}: {_group_title(key)}"))
        parts.append(f'<h3>{_e(_group_title(key))}</h3><div class="plots">{"".join(imgs)}</div>')
    return "".join(parts)


def _pick(rows: Sequence[dict[str, Any]], target: float) -> dict[str, Any]:
    """The setting to show a latency curve for: fastest p99 at the target, else best recall."""
    reaching = [p for p in rows if p["recall"] >= target and p.get("p99_ms") is not None]
    if reaching:
        return min(reaching, key=lambda p: p["p99_ms"])
    return max(rows, key=lambda p: p["recall"])


def _sidecar_ms(results_path: Path | None, record: Mapping[str, Any]) -> list[float] | None:
    if results_path is None or not record.get("sidecar"):
        return None
    from vecbench.results import read_sidecar

    try:
        lat = read_sidecar(results_path, record)["latencies_ns"]
    except Exception:  # noqa: BLE001 - a missing or unreadable sidecar: fall back to percentiles
        return None
    return sorted(float(x) / 1e6 for x in lat.ravel())


def _latency_section(
    groups: Mapping[Any, list[dict[str, Any]]], colors: Any, target: float, results_path: Path | None
) -> str:
    from vecbench.report.plots import latency_png

    parts = []
    for key, pts in groups.items():
        series = []
        for label, rows in sorted(_by_label(pts).items()):
            p = _pick(rows, target)
            data: Any = _sidecar_ms(results_path, p["record"]) or p["record"].get("latency") or {}
            series.append((f"{label} {p['params']}".strip(), colors.get(label), data))
        uri = latency_png(series, title=f"{_group_title(key)}: per-query latency")
        parts.append(f'<h3>{_e(_group_title(key))}</h3><div class="plots">{_img(uri, "latency")}</div>')
    note = (
        "<p>One curve per store and index: its fastest setting (p99) reaching the target recall, "
        "else its highest-recall setting. Solid lines come from every query's latency (sidecar "
        "files); dashed points from the recorded percentiles when the sidecar is not at hand.</p>"
    )
    return note + "".join(parts)


def _load_section(vector_ok: Sequence[Mapping[str, Any]]) -> str:
    from vecbench.report.plots import label_colors, load_png

    with_load = [r for r in vector_ok if isinstance(r.get("load"), Mapping)]
    if not with_load:
        return ""
    groups: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
    for r in with_load:
        key = (str(dig(r, "dataset", "name")), str(dig(r, "dataset", "metric")))
        groups.setdefault(key, []).append(r)
    parts = []
    for (dataset, metric), recs in sorted(groups.items()):
        names = [f"{dig(r, 'store', 'name')}/{dig(r, 'index', 'type')} {tables.cell_params(r)}" for r in recs]
        # one colour per cell here: two settings of one store are two curves
        run_colors = label_colors(names)
        runs = [(name, run_colors[name], r["load"]) for name, r in zip(names, recs, strict=True)]
        uri = load_png(runs, title=f"{dataset} ({metric})")
        if uri:
            parts.append(f'<h3>{_e(dataset)} ({_e(metric)})</h3><div class="plots">{_img(uri, "load")}</div>')
    return "".join(parts) + tables.load_table(with_load)


def _provenance(records: Sequence[Mapping[str, Any]]) -> str:
    parts = []
    for i, r in enumerate(records, start=1):
        who = f"{dig(r, 'store', 'name')}/{dig(r, 'index', 'type')}"
        what = tables.rag_setting(r) if r.get("kind") == "rag" else tables.cell_params(r)
        summary = (
            f"{i}. [{r.get('status')}] {r.get('kind', 'vector')} {dig(r, 'dataset', 'name')} {who} {what}"
        )
        body = {k: v for k, v in r.items() if k not in _MEASURED}
        text = json.dumps(body, indent=2, sort_keys=False, default=str, ensure_ascii=False)
        parts.append(f"<details><summary>{_e(summary)}</summary><pre>{_e(text)}</pre></details>")
    return "".join(parts)


def render_html(
    records: Sequence[Mapping[str, Any]],
    *,
    title: str | None = None,
    target_recall: float = 0.95,
    results_path: str | Path | None = None,
) -> str:
    """The page as a string (see ``write_html``)."""
    from vecbench._version import __version__
    from vecbench.results.provenance import utc_now_iso

    records = list(records)
    best_p99 = best_per_store(records, target_recall, by="p99_ms")  # also checks the target
    title = title or "vecbench report"
    rpath = Path(results_path) if results_path is not None else None
    vector = [r for r in records if r.get("kind", "vector") == "vector"]
    vector_ok = [r for r in vector if r.get("status") == "ok"]
    rag = [r for r in records if r.get("kind") == "rag"]
    runbook = [r for r in records if r.get("kind") == "runbook"]
    streaming_ok = [r for r in records if r.get("kind") in _STREAMING and r.get("status") == "ok"]
    failed = [r for r in records if r.get("status") != "ok"]
    pts = points(vector_ok)
    groups = _groups(pts)
    sections: list[tuple[str, str, str]] = []  # (anchor, heading, body)
    if vector:
        sections.append(("summary", "Summary", tables.summary_table(vector)))
    if pts:
        best = f"<p>Target recall@k &ge; {_e(f'{target_recall:g}')}; failed cells never count.</p>"
        best += "<h3>Lowest p99 latency</h3>" + tables.best_table(best_p99, "p99_ms")
        if any(p.get("usd_per_1m_queries") is not None for p in pts):
            best_usd = best_per_store(records, target_recall, by="usd_per_1m_queries")
            best += "<h3>Lowest $ per 1M queries</h3>" + tables.best_table(best_usd, "usd_per_1m_queries")
        sections.append(("best", "Best setting per store", best))
    if pts or any(isinstance(r.get("load"), Mapping) for r in vector_ok):
        from vecbench.report.plots import label_colors, require_matplotlib

        require_matplotlib()
        labels = [f"{dig(r, 'store', 'name')}/{dig(r, 'index', 'type')}" for r in vector_ok]
        colors = label_colors(labels)
        if pts:
            sections.append(("pareto", "Pareto fronts", _pareto_section(groups, colors, target_recall)))
            sections.append(
                ("latency", "Latency distributions", _latency_section(groups, colors, target_recall, rpath))
            )
            filtered = filtered_section(pts, colors)
            if filtered:
                sections.append(("filtered", "Filtered search: recall and QPS against selectivity", filtered))
        load = _load_section(vector_ok)
        if load:
            sections.append(("load", "Load: throughput and tail latency under concurrency", load))
    if any(r.get("status") == "ok" for r in runbook):
        from vecbench.report.plots import require_matplotlib
        from vecbench.report.runbook import runbook_section

        require_matplotlib()
        sections.append(("runbook", "Runbooks: recall and p99 over the steps", runbook_section(runbook)))
    if any(r.get("kind") in _STREAMING for r in records):
        from vecbench.report.streaming import freshness_section, ingest_section

        fresh = freshness_section(records)
        if fresh:
            sections.append(("freshness", "Freshness: time until a write is searchable", fresh))
        ingest = ingest_section(records)
        if ingest:
            sections.append(("ingest", "Search under ingest", ingest))
    if any(isinstance(r.get("cost"), Mapping) and r.get("status") == "ok" for r in records):
        sections.append(("cost", "Cost", tables.cost_table(records)))
    if rag:
        sections.append(("rag", "Retrieval quality (text runs)", tables.rag_table(rag)))
    if any(r.get("status") == "ok" for r in rag):
        from vecbench.report.rag import rag_section

        sections.append(
            ("rag-latency", "Retrieval pipelines: nDCG@10 against p99, time per stage", rag_section(rag))
        )
    if failed:
        sections.append(("failed", "Failed cells", tables.failed_table(failed)))
    if records:
        sections.append(("provenance", "Provenance of every record", _provenance(records)))

    runs = sorted({str(r.get("run_id")) for r in records})
    run_text = ", ".join(runs[:3]) + (f" and {len(runs) - 3} more" if len(runs) > 3 else "")
    meta = (
        f"{len(records)} record(s): {len(records) - len(failed)} ok, {len(failed)} failed; "
        f"{len(vector)} vector, {len(rag)} retrieval, {len(runbook)} runbook"
        + (
            f", {len(records) - len(vector) - len(rag) - len(runbook)} streaming"
            if len(records) > len(vector) + len(rag) + len(runbook)
            else ""
        )
        + f". Run(s): {run_text or '-'}. "
        f"Generated {utc_now_iso()} by vecbench {__version__}"
        + (f" from {rpath.name}" if rpath is not None else "")
        + "."
    )
    if not records:
        notice = '<p class="none">No records: nothing was measured.</p>'
    elif not vector_ok and not streaming_ok and not [r for r in rag + runbook if r.get("status") == "ok"]:
        notice = '<p class="bad">No successful records: every cell failed (see below).</p>'
    else:
        notice = ""
    nav = " ".join(f'<a href="#{a}">{_e(h)}</a>' for a, h, _ in sections)
    body = "".join(f'<h2 id="{a}">{_e(h)}</h2>{b}' for a, h, b in sections)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f'<h1>{_e(title)}</h1><p class="meta">{_e(meta)}</p>{notice}<nav>{nav}</nav>{body}'
        "</body></html>\n"
    )


def write_html(
    records: Sequence[Mapping[str, Any]],
    path: str | Path,
    *,
    title: str | None = None,
    target_recall: float = 0.95,
    results_path: str | Path | None = None,
) -> Path:
    """Write the report page to ``path`` atomically (temporary file, then rename).

    ``results_path`` (the results file the records came from) lets the page draw latency
    distributions from the sidecar files beside it. Empty or failed-only input still
    writes a page that says so. Needs matplotlib (``vecbench[report]``) when there is
    something to plot; MissingDependencyError otherwise.
    """
    text = render_html(records, title=title, target_recall=target_recall, results_path=results_path)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(target, lambda f: f.write(text), text=True, mode=0o644)
    return target
