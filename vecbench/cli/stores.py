"""``vecbench stores``: every registered store, whether its client is installed, what it can build
and which optional capabilities (BatchSearch, Deletable, Footprint, Shareable, ...) it implements."""

from __future__ import annotations

import argparse
import json
from typing import Any

from vecbench.engines import store_engine
from vecbench.errors import VecbenchError
from vecbench.registry import client_installed, store_class, store_names
from vecbench.store import capabilities


def _describe(name: str) -> dict[str, Any]:
    try:
        cls = store_class(name)
    except (VecbenchError, ImportError) as exc:  # a broken third-party entry point
        return {"name": name, "error": str(exc)}
    info = cls.info
    server = store_engine(info)
    return {
        "name": name,
        "engine": info.engine,
        "embedded": info.embedded,
        # The variable the store reads its server address from (None: embedded).
        "env_var": server.env_var if server is not None else None,
        "installed": client_installed(cls),
        "extra": info.extra,
        "install": f"pip install 'vecbench[{info.extra}]'" if info.extra else "pip install vecbench",
        "metrics": [m.value for m in info.metrics],
        # From the class, so no client is imported: what isinstance(store, X) says.
        "capabilities": list(capabilities(cls)),
        "unsupported": dict(info.unsupported),
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
    from rich.markup import escape
    from rich.table import Table

    from vecbench.analysis.summary import stdout_console

    table = Table(title="vecbench stores")
    columns = (
        "store",
        "engine",
        "server?",
        "client",
        "install",
        "index types (build; search)",
        "metrics",
        "capabilities",
    )
    for col in columns:
        table.add_column(col)
    for row in rows:
        if "error" in row:
            table.add_row(row["name"], "-", "-", "[red]broken[/red]", escape(row["error"]), "-", "-", "-")
            continue
        types = "\n".join(
            f"{n}({', '.join(f'{k}={v}' for k, v in t['build'].items())}"
            f"{'; ' if t['search'] else ''}{', '.join(f'{k}={v}' for k, v in t['search'].items())})"
            for n, t in row["index_types"].items()
        )
        table.add_row(
            row["name"],
            row["engine"],
            "embedded" if row["embedded"] else f"server\n{row['env_var']}",
            "[green]installed[/green]" if row["installed"] else "[yellow]missing[/yellow]",
            escape(row["install"]),  # "[faiss]" is not a style tag
            types,
            ", ".join(row["metrics"]),
            ", ".join(row["capabilities"]) or "-",
        )
    stdout_console().print(table)
    return 0
