"""``vecbench compare A.jsonl B.jsonl`` or ``vecbench compare --base A1 A2 A3 --new B1 B2 B3``:
each cell present on both sides, its recall@k, p50, p99 and QPS in A and in B, and whether
each difference is beyond the query-to-query and the run-to-run noise, on how many runs
(see ``vecbench.analysis.compare`` for the tests used)."""

from __future__ import annotations

import argparse
from typing import Any

from vecbench.errors import ConfigError

_SPECS = {"recall_at_k": "{:.4f}", "p50_ms": "{:.3f}", "p99_ms": "{:.3f}", "qps": "{:,.0f}"}
_NAMES = {"recall_at_k": "recall@k", "p50_ms": "p50 ms", "p99_ms": "p99 ms", "qps": "QPS"}


def _fmt(value: float | None, ci: list[float] | None, runs: list[float], spec: str) -> str:
    if value is None:
        return "-"
    text = spec.format(value)
    if len(runs) >= 2:  # the spread that matters between runs: their range
        return f"{text} ({spec.format(min(runs))}..{spec.format(max(runs))}, {len(runs)} runs)"
    if ci is not None and None not in ci:
        text += f" [{spec.format(ci[0])}, {spec.format(ci[1])}]"
    return text


def _diff(m: Any) -> str:
    if m.diff is None:
        return "-"
    text = _SPECS[m.metric].replace("{:", "{:+").format(m.diff)
    if m.metric != "recall_at_k" and m.a:
        text += f" ({m.diff / m.a:+.0%})"
    return text


_SHORT = {
    "paired bootstrap": "paired",
    "t over passes": "passes",
    "Welch t over runs": "Welch t",
    "t over runs": "t",
}


def _verdict(m: Any) -> str:
    word = {True: "[bold]yes[/bold]", False: "no", None: "?"}[m.significant]
    tests = []
    for part in m.method.split(" + "):
        if part.startswith("run noise floor"):
            part = f"{m.noise_floor:.0%} floor" if m.noise_floor is not None else "no floor"
        tests.append(_SHORT.get(part, part))
    return f"{word} ({', '.join(tests)}; {m.runs_a}+{m.runs_b} runs)"


def _sides(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    def split(values: list[str]) -> list[str]:
        return [part for v in values for part in v.split(",") if part]

    base, new = split(args.base), split(args.new)
    if args.files and (base or new):
        raise ConfigError("give either A B or --base/--new, not both")
    if args.files:
        if len(args.files) != 2:
            raise ConfigError(
                f"compare takes two files (A B), got {len(args.files)}; for several runs a side use "
                "--base A1 A2 ... --new B1 B2 ..."
            )
        return [args.files[0]], [args.files[1]]
    if not base or not new:
        raise ConfigError("compare needs two files (A B), or --base and --new")
    return base, new


def _floor_arg(values: list[str]) -> float | dict[str, float] | None:
    if not values:
        return None
    out: dict[str, float] = {}
    for value in values:
        name, sep, number = value.rpartition("=")
        try:
            floor = float(number)
        except ValueError:
            raise ConfigError(f"--noise-floor {value!r}: not a number (0.2, or qps=0.3)") from None
        if not sep:
            if len(values) == 1:
                return floor
            raise ConfigError("--noise-floor: give one number for every figure, or FIGURE=F each")
        out[name] = floor
    return out


def main(args: argparse.Namespace) -> int:
    from rich.table import Table

    from vecbench.analysis.compare import compare_runs
    from vecbench.analysis.summary import stdout_console
    from vecbench.results import read_results

    base, new = _sides(args)
    floor = _floor_arg(args.noise_floor)
    sources_a = [(read_results(p), p) for p in base]
    sources_b = [(read_results(p), p) for p in new]
    cells = compare_runs(
        sources_a,
        sources_b,
        noise_floor=floor,
        allow_disturbed=args.allow_disturbed,
        resamples=args.resamples,
    )
    console = stdout_console()
    names_a, names_b = ", ".join(base), ", ".join(new)
    table = Table(title=f"A = {names_a}, B = {names_b} (95%)")
    for col in ("cell", "metric", "A", "B", "B - A", "significant"):
        table.add_column(col, justify="left" if col in ("cell", "metric", "significant") else "right")
    for cell in cells:
        for i, m in enumerate(cell.metrics):
            spec = _SPECS[m.metric]
            table.add_row(
                cell.label if i == 0 else "",
                _NAMES[m.metric],
                _fmt(m.a, m.a_ci, m.a_runs, spec),
                _fmt(m.b, m.b_ci, m.b_runs, spec),
                _diff(m),
                _verdict(m),
                end_section=i == len(cell.metrics) - 1,
            )
    console.print(table)

    notes = _notes(cells, sources_a, sources_b, floor, args.allow_disturbed)
    for line in notes:
        print(line)
    if getattr(args, "html", None):
        from vecbench.report.compare_html import write_compare_html

        page = write_compare_html(
            cells, args.html, sources_a=base, sources_b=new, notes=notes, interactive=not args.static
        )
        print(f"HTML comparison: {page}")
    return 0


def _notes(
    cells: list[Any], sources_a: list[Any], sources_b: list[Any], floor: Any, allow_disturbed: bool
) -> list[str]:
    """The lines printed under the table (and shown on the HTML page)."""
    from vecbench.analysis.compare import DEFAULT_NOISE_FLOOR, TIMING_METRICS, cell_key

    lines = []
    keys_a = {cell_key(r) for records, _ in sources_a for r in records if _ok_vector(r)}
    keys_b = {cell_key(r) for records, _ in sources_b for r in records if _ok_vector(r)}
    n_sig = sum(1 for c in cells if c.significant)
    lines.append(
        f"{len(cells)} shared cell(s), {n_sig} with a significant difference; "
        f"{len(keys_a - keys_b)} only in A, {len(keys_b - keys_a)} only in B"
    )
    run_tests = [m for c in cells for m in c.metrics if m.runs_ci is not None]
    if run_tests:
        hits = sum(1 for m in run_tests if m.significant)
        lines.append(
            f"{len(run_tests)} figure(s) tested over runs (t at 95%): about 1 in 20 comes out significant "
            f"by chance alone, ~{len(run_tests) / 20:.1f} here; {hits} did."
        )
    single = [c for c in cells if c.runs_a == 1 and c.runs_b == 1]
    if single:
        used = {**DEFAULT_NOISE_FLOOR, **(floor if isinstance(floor, dict) else {})}
        if isinstance(floor, float):
            used = dict.fromkeys(TIMING_METRICS, floor)
        floors = ", ".join(f"{_NAMES[k]} {used[k]:.0%}" for k in TIMING_METRICS)
        lines.append(
            f"{len(single)} cell(s) rest on one run a side: their timing differences count only beyond "
            f"a run-to-run noise floor ({floors}). For a test of the spread between runs, give each side "
            "3 or more runs, interleaved: --base A1 A2 A3 --new B1 B2 B3."
        )
    for side, key in (("A", "disturbed_a"), ("B", "disturbed_b")):
        hit = [c for c in cells if getattr(c, key)]
        if hit:
            consequence = (
                "their timing differences may be the machine's, not the store's"
                if allow_disturbed
                else "their timing differences are not decided (?); --allow-disturbed decides them anyway"
            )
            lines.append(
                f"{side}: {len(hit)} cell(s) were timed while other processes loaded the machine; {consequence}."
            )
    return lines


def _ok_vector(record: dict[str, Any]) -> bool:
    return record.get("kind", "vector") == "vector" and record.get("status") == "ok"
