"""Every engine adapter, the same two checks: loading it (and building a store from its
config) imports no client library, and connecting without the client raises
MissingDependencyError with the install hint. The clients need not be installed."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

import pytest

from vecbench import registry
from vecbench.errors import MissingDependencyError


@dataclass(frozen=True)
class Adapter:
    store: str  # registry name
    extra: str  # pip install 'vecbench[extra]'
    embedded: bool
    # Modules that loading the adapter must not import; the first is the client whose
    # absence __enter__ must report.
    clients: tuple[str, ...]
    config: dict[str, Any] = field(default_factory=dict)


NOWHERE = "http://127.0.0.1:1"  # constructors do no I/O; nothing listens there anyway

ADAPTERS = [
    Adapter("chroma", "chroma", False, ("chromadb",), {"url": NOWHERE}),
    Adapter("chroma-embedded", "chroma", True, ("chromadb",)),
    Adapter(
        "elasticsearch", "elasticsearch", False, ("elasticsearch", "elastic_transport"), {"url": NOWHERE}
    ),
    Adapter("faiss", "faiss", True, ("faiss",), {"threads": 1}),
    Adapter("milvus", "milvus", False, ("pymilvus",), {"uri": NOWHERE}),
    Adapter("pgvector", "pgvector", False, ("psycopg", "pgvector"), {"dsn": "postgresql://u@127.0.0.1:1/db"}),
    Adapter("qdrant", "qdrant", False, ("qdrant_client", "qdrant_edge"), {"url": NOWHERE}),
    Adapter("qdrant-local", "qdrant", True, ("qdrant_client", "qdrant_edge")),
    Adapter("qdrant-edge", "qdrant", True, ("qdrant_edge", "qdrant_client")),
    Adapter("redis", "redis", False, ("redis",), {"url": "redis://127.0.0.1:1"}),
]

by_store = pytest.mark.parametrize("adapter", ADAPTERS, ids=[a.store for a in ADAPTERS])


@by_store
def test_loading_the_adapter_does_not_import_its_client(adapter: Adapter) -> None:
    # A fresh interpreter: this one has imported the clients already.
    code = (
        "import sys, vecbench, vecbench.registry as r\n"
        f"cls = r.store_class({adapter.store!r}); r.get_store({adapter.store!r}, {adapter.config!r})\n"
        f"assert cls.info.index_types and cls.info.embedded is {adapter.embedded!r}\n"
        f"loaded = [m for m in {adapter.clients!r} if m in sys.modules]\n"
        "assert not loaded, f'client imported: {loaded}'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


@by_store
def test_missing_client_raises_with_install_hint(adapter: Adapter, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, adapter.clients[0], None)  # None: Python's "cannot import"
    store = registry.get_store(adapter.store, adapter.config)
    with pytest.raises(MissingDependencyError, match=re.escape(f"pip install 'vecbench[{adapter.extra}]'")):
        store.__enter__()
