"""One self-contained HTML page from result records: the answer first, then the details.

The first screen holds, per data set and metric, the recall-vs-QPS Pareto plot and the
best setting per store at the target recall; latency distributions, load curves, the
other workloads, cost, every cell and the provenance follow, long tables collapsed and
scrolling in their own box. Plots are interactive plotly figures (plotly.js inlined once
per page, no server, nothing fetched), or with ``interactive=False`` matplotlib PNG images
and no script at all (a page that survives mail). All record text is escaped.

    records = read_results("run.jsonl")
    write_html(records, "report.html", target_recall=0.95, results_path="run.jsonl")
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from vecbench.analysis.pareto import AXES, best_per_store, params_text, pareto_front, points
from vecbench.report import tables
from vecbench.report.answer import answer_section, by_label, group_title
from vecbench.report.filtered import filtered_section
from vecbench.report.page import figure_div, img, shell
from vecbench.util.atomic import write_atomic
from vecbench.util.nested import dig

__all__ = ["render_html", "write_html"]

_MEASURED = (
    *("timings", "quality", "latency", "qps", "footprint", "load", "cost", "ci", "counts"),
    *("steps", "summary"),  # a runbook record's
    *("freshness", "ingest"),  # a streaming record's
)
_STREAMING = ("freshness", "ingest_load")
_NAV = {"answer": "Answer", "pareto": "Pareto p99 and $", "latency": "Latency", "best": "Best, every figure",
        "summary": "Every cell", "provenance": "Provenance", "filtered": "Filtered", "freshness": "Freshness",
        "ingest": "Under ingest", "rag": "Retrieval quality", "rag-latency": "Retrieval pipelines",
        "runbook": "Runbooks", "load": "Load", "cost": "Cost", "failed": "Failed cells"}  # fmt: skip
_MORE_AXES = ("p99_ms", "usd_per_1m_queries")  # the first screen has QPS


def _e(value: Any) -> str:
    return html.escape(str(value))


def _groups(pts: Sequence[dict[str, Any]]) -> dict[tuple[Any, ...], list[dict[str, Any]]]:
    out: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for p in pts:
        out.setdefault((p["dataset"], p["metric"], p["k"], p["filter"]), []).append(p)
    return dict(sorted(out.items(), key=lambda kv: tuple(str(x) for x in kv[0])))


def _collapsed(summary: str, body: str, *, open_: bool = False) -> str:
    return f"<details{' open' if open_ else ''}><summary>{_e(summary)}</summary>{body}</details>"


class _Plots:
    """Draws a page's figures one way: plotly divs (interactive) or matplotlib PNGs (static)."""

    def __init__(self, interactive: bool, colors: Mapping[str, str], target: float) -> None:
        self.interactive, self.colors, self.target = interactive, colors, target

    def pareto(self, key: tuple[Any, ...], labels: Mapping[str, list[dict[str, Any]]], by: str) -> str:
        if not any(p.get(by) is not None for pts in labels.values() for p in pts):
            return ""
        if self.interactive:
            from vecbench.report.figures import pareto_figure

            fig = pareto_figure(
                labels, by, colors=self.colors, title=group_title(key), target_recall=self.target
            )
            return figure_div(fig, height=fig.layout.height)
        from vecbench.report.plots import pareto_png

        fronts = {lb: pareto_front(rows, by) for lb, rows in labels.items()}
        k = key[2]
        uri = pareto_png(
            labels, fronts, by, higher_is_better=AXES[by], colors=self.colors, title=group_title(key),
            target_recall=self.target, recall_label=f"recall@{k}" if k else "recall@k",
        )  # fmt: skip
        return img(uri, f"recall vs {by}: {group_title(key)}")

    def latency(self, series: list[Any], title: str) -> str:
        if self.interactive:
            from vecbench.report.figures import latency_figure

            return figure_div(latency_figure(series, title=title), height=420, css_class="fig wide")
        from vecbench.report.plots import latency_png

        return img(latency_png(series, title=title), "latency")

    def load(self, runs: list[Any], title: str) -> str:
        if self.interactive:
            from vecbench.report.figures import load_figure

            fig = load_figure(runs, title=title)
            return figure_div(fig, height=440, css_class="fig wide") if fig is not None else ""
        from vecbench.report.plots import load_png

        return img(load_png(runs, title=title), "load")


def _more_pareto(groups: Mapping[Any, list[dict[str, Any]]], plots: _Plots) -> str:
    parts = []
    for key, pts in groups.items():
        labels = by_label(pts)
        figs = [plots.pareto(key, labels, by) for by in _MORE_AXES]
        figs = [f'<div style="flex:1 1 560px;min-width:480px">{f}</div>' for f in figs if f]
        if figs:
            parts.append(f'<h3>{_e(group_title(key))}</h3><div class="plots">{"".join(figs)}</div>')
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
    groups: Mapping[Any, list[dict[str, Any]]], plots: _Plots, target: float, results_path: Path | None
) -> str:
    parts = []
    for key, pts in groups.items():
        series = []
        for label, rows in sorted(by_label(pts).items()):
            p = _pick(rows, target)
            data: Any = _sidecar_ms(results_path, p["record"]) or p["record"].get("latency") or {}
            # the search setting names the curve; the build setting is in the tables above
            series.append((f"{label} {params_text(p['search'])}".strip(), plots.colors.get(label), data))
        fig = plots.latency(series, f"{group_title(key)}: per-query latency")
        parts.append(f'<h3>{_e(group_title(key))}</h3><div class="plots">{fig}</div>')
    note = (
        "<p>One curve per store and index: its fastest setting (p99) reaching the target recall, "
        "else its highest-recall setting. Solid lines come from every query's latency (sidecar "
        "files); dashed points from the recorded percentiles when the sidecar is not at hand.</p>"
    )
    return note + "".join(parts)


def _load_section(vector_ok: Sequence[Mapping[str, Any]], plots: _Plots) -> str:
    from vecbench.report.figures import palette

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
        run_colors = palette(names)
        runs = [(name, run_colors[name], r["load"]) for name, r in zip(names, recs, strict=True)]
        fig = plots.load(runs, f"{dataset} ({metric})")
        if fig:
            parts.append(f'<h3>{_e(dataset)} ({_e(metric)})</h3><div class="plots">{fig}</div>')
    table = _collapsed(f"Every load level ({len(with_load)} cell(s))", tables.load_table(with_load))
    return "".join(parts) + table


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
        parts.append(f'<details class="rec"><summary>{_e(summary)}</summary><pre>{_e(text)}</pre></details>')
    return "".join(parts)


Sections = list[tuple[str, str, str]]  # (anchor, heading, body)


def _vector_sections(
    records: Sequence[Mapping[str, Any]], target: float, rpath: Path | None, interactive: bool
) -> Sections:
    """The answer (first screen), then Pareto fronts on the other axes, latency, filters, load,
    the best-setting tables in full and every cell."""
    vector = [r for r in records if r.get("kind", "vector") == "vector"]
    vector_ok = [r for r in vector if r.get("status") == "ok"]
    pts = points(vector_ok)
    groups = _groups(pts)
    sections: Sections = []
    has_load = any(isinstance(r.get("load"), Mapping) for r in vector_ok)
    if pts or has_load:
        _require(interactive)
        from vecbench.report.figures import palette

        plots = _Plots(interactive, palette([p["label"] for p in pts]), target)
        if pts:
            first = answer_section(
                groups,
                target_recall=target,
                plot=lambda k, lb: plots.pareto(k, lb, "qps"),
                interactive=interactive,
            )
            sections.append(("answer", "Recall against QPS, and the best setting per store", first))
            more = _more_pareto(groups, plots)
            if more:
                sections.append(("pareto", "Pareto fronts: recall against p99 and $", more))
            sections.append(
                ("latency", "Latency distributions", _latency_section(groups, plots, target, rpath))
            )
            filtered = filtered_section(pts, plots.colors)
            if filtered:
                sections.append(("filtered", "Filtered search: recall and QPS against selectivity", filtered))
        load = _load_section(vector_ok, plots)
        if load:
            sections.append(("load", "Load: throughput and tail latency under concurrency", load))
    if pts:
        best = f"<p>Target recall@k &ge; {_e(f'{target:g}')}; failed cells never count.</p>"
        best += "<h3>Lowest p99 latency</h3>" + tables.best_table(best_per_store(records, target), "p99_ms")
        if any(p.get("usd_per_1m_queries") is not None for p in pts):
            best_usd = best_per_store(records, target, by="usd_per_1m_queries")
            best += "<h3>Lowest $ per 1M queries</h3>" + tables.best_table(best_usd, "usd_per_1m_queries")
        sections.append(("best", "Best setting per store, every figure", _collapsed("Show the tables", best)))
    if vector:
        every = _collapsed(f"All {len(vector)} cell(s)", tables.summary_table(vector), open_=not pts)
        sections.append(("summary", "Every cell", every))
    return sections


def _require(interactive: bool) -> None:
    if interactive:
        from vecbench.report.figures import require_plotly

        require_plotly()
    from vecbench.report.plots import require_matplotlib

    require_matplotlib()  # the static plots, and the sections that have only PNG plots


def _other_sections(records: Sequence[Mapping[str, Any]]) -> Sections:
    """Runbooks, streaming, cost, text pipelines, failed cells, provenance."""
    runbook = [r for r in records if r.get("kind") == "runbook"]
    rag = [r for r in records if r.get("kind") == "rag"]
    sections: Sections = []
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
        sections.append(
            ("cost", "Cost", _collapsed("Dollar figures of every cell", tables.cost_table(records)))
        )
    if rag:
        sections.append(("rag", "Retrieval quality (text runs)", tables.rag_table(rag)))
    if any(r.get("status") == "ok" for r in rag):
        from vecbench.report.rag import rag_section

        sections.append(
            ("rag-latency", "Retrieval pipelines: nDCG@10 against p99, time per stage", rag_section(rag))
        )
    failed = [r for r in records if r.get("status") != "ok"]
    if failed:
        sections.append(("failed", "Failed cells", tables.failed_table(failed)))
    if records:
        sections.append(("provenance", "Provenance of every record", _provenance(records)))
    return sections


def _meta(records: Sequence[Mapping[str, Any]], rpath: Path | None) -> str:
    from vecbench._version import __version__
    from vecbench.results.provenance import utc_now_iso

    n = len(records)
    failed = sum(1 for r in records if r.get("status") != "ok")
    vector = sum(1 for r in records if r.get("kind", "vector") == "vector")
    rag = sum(1 for r in records if r.get("kind") == "rag")
    runbook = sum(1 for r in records if r.get("kind") == "runbook")
    other = n - vector - rag - runbook
    runs = sorted({str(r.get("run_id")) for r in records})
    run_text = ", ".join(runs[:3]) + (f" and {len(runs) - 3} more" if len(runs) > 3 else "")
    return (
        f"{n} record(s): {n - failed} ok, {failed} failed; {vector} vector, {rag} retrieval, {runbook} runbook"
        + (f", {other} streaming" if other else "")
        + f". Run(s): {run_text or '-'}. Generated {utc_now_iso()} by vecbench {__version__}"
        + (f" from {rpath.name}" if rpath is not None else "")
        + "."
    )


def render_html(
    records: Sequence[Mapping[str, Any]],
    *,
    title: str | None = None,
    target_recall: float = 0.95,
    results_path: str | Path | None = None,
    interactive: bool = True,
) -> str:
    """The page as a string (see ``write_html``)."""
    records = list(records)
    best_per_store(records, target_recall)  # checks the target before any drawing
    title = title or "vecbench report"
    rpath = Path(results_path) if results_path is not None else None
    sections = _vector_sections(records, target_recall, rpath, interactive) + _other_sections(records)
    ok = [r for r in records if r.get("status") == "ok"]
    if not records:
        notice = '<p class="none">No records: nothing was measured.</p>'
    elif not ok:
        notice = '<p class="bad">No successful records: every cell failed (see below).</p>'
    else:
        notice = ""
    nav = " ".join(f'<a href="#{a}">{_e(_NAV.get(a, h))}</a>' for a, h, _ in sections)
    top = f'<p class="meta">{_e(_meta(records, rpath))}</p>{notice}<nav>{nav}</nav>'
    body = "".join(f'<h2 id="{a}">{_e(h)}</h2>{b}' for a, h, b in sections)
    return shell(title, top, body, interactive=interactive)


def write_html(
    records: Sequence[Mapping[str, Any]],
    path: str | Path,
    *,
    title: str | None = None,
    target_recall: float = 0.95,
    results_path: str | Path | None = None,
    interactive: bool = True,
) -> Path:
    """Write the report page to ``path`` atomically (temporary file, then rename).

    ``results_path`` (the results file the records came from) lets the page draw latency
    distributions from the sidecar files beside it. Empty or failed-only input still
    writes a page that says so. Needs matplotlib (``vecbench[report]``) when there is
    something to plot, and plotly too when ``interactive`` (the default; False draws PNG
    images and puts no script on the page, for mail); MissingDependencyError otherwise.
    """
    text = render_html(
        records, title=title, target_recall=target_recall, results_path=results_path, interactive=interactive
    )
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(target, lambda f: f.write(text), text=True, mode=0o644)
    return target
