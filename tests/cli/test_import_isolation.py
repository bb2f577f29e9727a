"""`import vecbench` and `vecbench --help` must load no store client, no faiss and no torch."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = [
    "faiss",
    "chromadb",
    "qdrant_client",
    "qdrant_edge",
    "pymilvus",
    "psycopg",
    "pgvector",
    "redis",
    "elasticsearch",
    "torch",
    "sentence_transformers",
    "transformers",
    "onnxruntime",
    "matplotlib",
    "pyarrow",
    "ray",
    "hdrh",
]

PROBE = """
import json, sys
{body}
heavy = {heavy!r}
print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in heavy)))
"""


def _loaded(body: str) -> list[str]:
    code = PROBE.format(body=body, heavy=HEAVY)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_vecbench_loads_no_heavy_module():
    assert _loaded("import vecbench; vecbench.Metric; vecbench.CollectionSpec") == []


def test_cli_help_loads_no_heavy_module():
    body = (
        "from vecbench.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "from vecbench.cli import _COMMANDS\nfor cmd in _COMMANDS:\n"
        "    try:\n        main([cmd, '--help'])\n    except SystemExit:\n        pass\n"
    )
    assert _loaded(body) == []


def test_store_registry_and_adapter_modules_load_no_client():
    body = (
        "from vecbench.registry import store_names, store_class\n"
        "for name in store_names():\n    store_class(name).info\n"
    )
    assert _loaded(body) == []


def test_loading_a_synthetic_data_set_loads_no_pyarrow():
    body = "from vecbench.datasets import load\nload('synthetic', n=200, dim=4, nq=2)\n"
    assert _loaded(body) == []
