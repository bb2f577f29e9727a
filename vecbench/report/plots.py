"""The report's plots: matplotlib figures (Agg, no pyplot state) as base64 PNG data URIs.

matplotlib is imported inside these functions only (``vecbench[report]``), so importing
vecbench.report costs nothing until a page is drawn.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

from vecbench.errors import MissingDependencyError

__all__ = ["require_matplotlib", "label_colors", "pareto_png", "latency_png", "load_png", "AXIS_TITLES"]

AXIS_TITLES = {
    "qps": "QPS (serial, one client)",
    "batch_qps": "queries per second (batch)",
    "load_qps": "queries per second (best closed-loop level)",
    "p50_ms": "p50 latency (ms)",
    "p95_ms": "p95 latency (ms)",
    "p99_ms": "p99 latency (ms)",
    "usd_per_1m_queries": "$ per 1M queries",
}
_NINES = ((0.5, "p50_ms"), (0.9, "p90_ms"), (0.95, "p95_ms"), (0.99, "p99_ms"), (0.999, "p999_ms"))


def require_matplotlib() -> None:
    """Raise MissingDependencyError (``vecbench[report]``) when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError("matplotlib", "report") from exc


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    # A bare Figure renders with Agg and touches no global pyplot state (thread safe,
    # no display needed).
    return Figure(figsize=(width, height), dpi=96, layout="constrained")


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def label_colors(labels: Sequence[str]) -> dict[str, Any]:
    """A stable colour per label (same store/index, same colour on every plot of the page)."""
    from matplotlib import colormaps

    names = sorted(set(labels))
    cmap = colormaps["tab10" if len(names) <= 10 else "tab20"]
    return {name: cmap(i % cmap.N) for i, name in enumerate(names)}


def _log_ok(values: Sequence[float]) -> bool:
    return bool(values) and min(values) > 0


def pareto_png(
    all_points: Mapping[str, Sequence[Mapping[str, Any]]],
    fronts: Mapping[str, Sequence[Mapping[str, Any]]],
    by: str,
    *,
    higher_is_better: bool,
    colors: Mapping[str, Any],
    title: str,
    target_recall: float | None = None,
    recall_label: str = "recall@k",
) -> str:
    """Recall (x) against ``by`` (y, log scale), ann-benchmarks style: every setting as a
    faint dot, each label's Pareto front as a line."""
    fig = _figure(6.4, 4.4)
    ax = fig.add_subplot()
    ys: list[float] = []
    for label, pts in sorted(all_points.items()):
        xs = [p["recall"] for p in pts if p.get(by) is not None]
        yv = [p[by] for p in pts if p.get(by) is not None]
        ys += yv
        ax.scatter(xs, yv, s=14, color=colors.get(label), alpha=0.3, linewidths=0)
        front = fronts.get(label) or []
        if front:
            ax.plot(
                [p["recall"] for p in front],
                [p[by] for p in front],
                marker="o",
                markersize=4,
                linewidth=1.6,
                color=colors.get(label),
                label=label,
            )
    if _log_ok(ys):
        ax.set_yscale("log")
    if target_recall is not None:
        ax.axvline(target_recall, color="0.4", linestyle="--", linewidth=1)
        ax.annotate(
            f"target {target_recall:g}",
            (target_recall, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(3, -12),
            textcoords="offset points",
            fontsize=8,
            color="0.3",
        )
    ax.set_xlabel(recall_label)
    ax.set_ylabel(AXIS_TITLES.get(by, by))
    better = "up and right" if higher_is_better else "down and right"
    ax.set_title(f"{title}\n(better: {better})", fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    if fronts:
        ax.legend(fontsize=8, loc="best")
    return _png(fig)


def _nines(q: float) -> float:
    return -math.log10(1.0 - q)


def latency_png(series: Sequence[tuple[str, Any, Mapping[str, Any] | Sequence[float]]], *, title: str) -> str:
    """Latency by percentile on a "nines" axis (50%, 90%, 99%, 99.9%).

    Each series is (label, colour, data): data is either a sorted list of per-query
    latencies in ms (from a sidecar: a full curve) or a latency section with p50_ms ...
    p999_ms (percentile points joined by a dashed line).
    """
    fig = _figure(6.4, 4.4)
    ax = fig.add_subplot()
    ys: list[float] = []
    for label, color, data in series:
        if isinstance(data, Mapping):
            pts = [(_nines(q), data[key]) for q, key in _NINES if isinstance(data.get(key), (int, float))]
            if not pts:
                continue
            ax.plot(
                *zip(*pts, strict=True), linestyle="--", marker="s", markersize=4, color=color, label=label
            )
            ys += [y for _, y in pts]
        else:
            data = list(data)
            n = len(data)
            if n == 0:
                continue
            xs = [_nines((i + 0.5) / n) for i in range(n)]
            ax.plot(xs, list(data), linewidth=1.5, color=color, label=f"{label} ({n} timed searches)")
            ys += list(data)
    if _log_ok(ys):
        ax.set_yscale("log")
    ticks = [0.0, 1.0, 2.0, 3.0]
    ax.set_xticks([_nines(0.5), *ticks[1:]], ["50%", "90%", "99%", "99.9%"])
    ax.set_xlabel("percentile of queries")
    ax.set_ylabel("latency (ms)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    if ys:
        ax.legend(fontsize=8, loc="best")
    return _png(fig)


def _curve(ax: Any, xs: list[float], ys: list[Any], **kw: Any) -> bool:
    pts = [(x, y) for x, y in zip(xs, ys, strict=True) if isinstance(y, (int, float))]
    if not pts:
        return False
    ax.plot(*zip(*sorted(pts), strict=True), **{"marker": "o", "markersize": 4, **kw})
    return True


def load_png(runs: Sequence[tuple[str, Any, Mapping[str, Any]]], *, title: str) -> str | None:
    """QPS and p99 against closed-loop workers, and p99 against open-loop rate.

    ``runs`` holds (label, colour, load section). None when no run has a level or rate.
    """
    closed = [(lb, c, (ld.get("closed_loop") or {}).get("levels") or []) for lb, c, ld in runs]
    closed = [(lb, c, [lv for lv in levels if lv.get("status", "ok") == "ok"]) for lb, c, levels in closed]
    closed = [x for x in closed if x[2]]
    rates = []
    p99_target = None
    for lb, c, ld in runs:
        rows = list((ld.get("open_loop") or {}).get("rates") or [])
        sweep = ld.get("rate_sweep") or {}
        rows += list(sweep.get("tried") or [])
        p99_target = sweep.get("p99_target_ms") or p99_target
        rows = [r for r in rows if r.get("status", "ok") == "ok" and r.get("target_rate")]
        if rows:
            rates.append((lb, c, rows))
    n_axes = 2 * bool(closed) + bool(rates)
    if n_axes == 0:
        return None
    fig = _figure(4.6 * n_axes, 4.2)
    axes = list(fig.subplots(1, n_axes, squeeze=False)[0])
    if closed:
        ax_qps, ax_p99 = axes[0], axes[1]
        for lb, c, levels in closed:
            workers = [float(lv["workers"]) for lv in levels]
            _curve(ax_qps, workers, [lv.get("qps") for lv in levels], color=c, label=lb)
            _curve(ax_p99, workers, [lv.get("p99_ms") for lv in levels], color=c, label=lb)
        for ax, what in ((ax_qps, "achieved QPS"), (ax_p99, "p99 latency (ms)")):
            ax.set_xscale("log", base=2)
            ax.set_xlabel("closed-loop workers")
            ax.set_ylabel(what)
            ax.grid(True, alpha=0.3)
        ax_qps.set_title("throughput vs workers", fontsize=10)
        ax_p99.set_title("tail latency vs workers", fontsize=10)
        ax_qps.legend(fontsize=7, loc="best")
    if rates:
        ax = axes[-1]
        for lb, c, rows in rates:
            _curve(
                ax,
                [float(r["target_rate"]) for r in rows],
                [r.get("p99_ms") for r in rows],
                color=c,
                label=lb,
            )
        if p99_target:
            ax.axhline(
                p99_target, color="0.4", linestyle="--", linewidth=1, label=f"p99 target {p99_target:g} ms"
            )
        ax.set_xlabel("open-loop arrival rate (requests/s)")
        ax.set_ylabel("p99 latency (ms, from scheduled send)")
        ax.set_title("tail latency vs offered rate", fontsize=10)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    fig.suptitle(title, fontsize=10)
    return _png(fig)
