"""``vecbench stores``: every registered store, whether its client is installed, and what it can build."""

from __future__ import annotations

import argparse
import json
from typing import Any

from vecbench.errors import VecbenchError
from vecbench.registry import client_installed, store_class, store_names


def _describe(name: str) -> dict[str, Any]:
    try:
        cls = store_class(name)
    except (VecbenchError, ImportError) as exc:  # a broken third-party entry point
        return {"name": name, "error": str(exc)}
    info = cls.info
    return {
        "name": name,
        "engine": info.engine,
        "embedded": info.embedded,
        "installed": client_installed(cls),
        "extra": info.extra,
        "install": f"pip install 'vecbench[{info.extra}]'",
        "metrics": [m.value for m in info.metrics],
        "index_types": {
            it.name: {
                "build": dict(it.build),
                "search": dict(it.search),
                "metrics": [m.value for m in it.metrics],
                "exact": it.exact,
            }
            for it in info.index_types.values()
        },
    }


def main(args: argparse.Namespace) -> int:
    rows = [_describe(n) for n in store_names()]
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    from rich.table import Table

    from vecbench.analysis.summary import stdout_console

    table = Table(title="vecbench stores")
    for col in ("store", "engine", "server?", "client", "install", "index types (build; search)", "metrics"):
        table.add_column(col)
    for row in rows:
        if "error" in row:
            table.add_row(row["name"], "-", "-", "[red]broken[/red]", row["error"], "-", "-")
            continue
        types = "\n".join(
            f"{n}({', '.join(f'{k}={v}' for k, v in t['build'].items())}"
            f"{'; ' if t['search'] else ''}{', '.join(f'{k}={v}' for k, v in t['search'].items())})"
            for n, t in row["index_types"].items()
        )
        table.add_row(
            row["name"],
            row["engine"],
            "embedded" if row["embedded"] else "server",
            "[green]installed[/green]" if row["installed"] else "[yellow]missing[/yellow]",
            row["install"],
            types,
            ", ".join(row["metrics"]),
        )
    stdout_console().print(table)
    return 0
