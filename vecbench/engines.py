"""One place per server engine: where its address comes from, its ports, how to start one.

Every part of vecbench that needs an engine's facts reads them here: the adapter (the
variable and config key its address comes from), ``vecbench services`` (the variable it
prints, the port it starts on and the variable that moves it), ``vecbench.services.rss``
(which local service a store talks to), the pytest plugin and the conformance suite (what
to read, what to say when it is unset). An adapter links its store to its engine through
``StoreInfo.server``.

One name per backend: an engine's ``name`` is also its server store, its pip extra, its
docker compose profile and service, and its ``vecbench services`` name (checked against
pyproject.toml and docker-compose.yml by tests/unit/test_engines.py).

    >>> ENGINES["pgvector"].env_var
    'VECBENCH_PG_DSN'
    >>> ENGINES["qdrant"].start_hint
    '`docker compose --profile qdrant up -d --wait`'

Standard library only: importing this imports no client.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vecbench.errors import UnknownNameError

__all__ = ["Engine", "ENGINES", "get_engine", "store_engine"]

# The config keys a server address goes in, in the order a store's config_keys are searched
# when its adapter names no engine (a third-party store).
ADDRESS_KEYS = ("url", "uri", "dsn")


@dataclass(frozen=True)
class Engine:
    """The facts of one server engine.

    - ``env_var``: the variable holding the server address; the adapter reads it when its
      config has none, ``vecbench services env`` prints it, docker compose labels it;
    - ``config_key``: the store config key the address goes in (``url``, ``uri``, ``dsn``);
    - ``client_port``: the port the client library uses when the address names none;
    - ``compose_url``: the address of the docker compose service (``vecbench.env`` label);
    - ``service_port``: the default port of ``vecbench services up NAME`` (moved with
      ``port_var``); None when the engine has no local route and runs only in compose.
    """

    name: str
    env_var: str
    config_key: str = "url"
    client_port: int | None = None
    compose_url: str = ""
    service_port: int | None = None

    @property
    def extra(self) -> str:
        """The pip extra that installs the client: ``pip install 'vecbench[NAME]'``."""
        return self.name

    @property
    def compose_profile(self) -> str:
        return self.name

    @property
    def service(self) -> str:
        """The ``vecbench services`` name (and the docker compose service)."""
        return self.name

    @property
    def local(self) -> bool:
        """Whether ``vecbench services up`` can start this engine here."""
        return self.service_port is not None

    @property
    def port_var(self) -> str:
        """The variable that moves ``vecbench services``' port (``VECBENCH_REDIS_PORT``)."""
        return f"VECBENCH_{self.name.upper().replace('-', '_')}_PORT"

    @property
    def compose_command(self) -> str:
        return f"docker compose --profile {self.compose_profile} up -d --wait"

    @property
    def services_command(self) -> str:
        return f"vecbench services up {self.service}"

    @property
    def start_hint(self) -> str:
        """How to start one: ``vecbench services`` where it can, else docker compose."""
        return f"`{self.services_command}`" if self.local else f"`{self.compose_command}`"

    def address(self, config: Mapping[str, Any] | None = None) -> str | None:
        """The server address: ``config[config_key]``, else ``$env_var``; None when neither is set."""
        return (config or {}).get(self.config_key) or os.environ.get(self.env_var) or None

    def needs_server(self, store: str) -> str:
        """Why a test of ``store`` cannot run without the address (pytest skips say this)."""
        return f"store {store!r} needs a server: set {self.env_var} (start one with {self.start_hint})"


ENGINES: dict[str, Engine] = {
    e.name: e
    for e in (
        Engine("chroma", "VECBENCH_CHROMA_URL", "url", 8000, "http://127.0.0.1:8000", service_port=18000),
        Engine("qdrant", "VECBENCH_QDRANT_URL", "url", 6333, "http://127.0.0.1:6333"),
        Engine("milvus", "VECBENCH_MILVUS_URI", "uri", 19530, "http://127.0.0.1:19530", service_port=29530),
        Engine(
            "pgvector",
            "VECBENCH_PG_DSN",
            "dsn",
            5432,
            "postgresql://vecbench:vecbench@127.0.0.1:5432/vecbench",
            service_port=15432,
        ),
        Engine("redis", "VECBENCH_REDIS_URL", "url", 6379, "redis://127.0.0.1:6379", service_port=16379),
        Engine("elasticsearch", "VECBENCH_ES_URL", "url", 9200, "http://127.0.0.1:9200", service_port=19200),
        # OpenSearch's usual port is Elasticsearch's: their compose profiles run one at a time.
        Engine(
            "opensearch", "VECBENCH_OPENSEARCH_URL", "url", 9200, "http://127.0.0.1:9200", service_port=19210
        ),
        # HTTP port here; the gRPC port rides in the URL (?grpc_port=N, default 50051).
        Engine("weaviate", "VECBENCH_WEAVIATE_URL", "url", 8080, "http://127.0.0.1:8080", service_port=18080),
        # Pinecone's control plane: Pinecone Local in compose, or "cloud" for Pinecone's own.
        Engine("pinecone", "VECBENCH_PINECONE_HOST", "host", 5080, "http://127.0.0.1:5080"),
    )
}


def get_engine(name: str) -> Engine:
    """The engine called ``name``; UnknownNameError listing the known ones."""
    try:
        return ENGINES[name]
    except KeyError:
        raise UnknownNameError("engine", name, ENGINES) from None


def store_engine(info: Any) -> Engine | None:
    """The engine of the store described by ``info`` (a StoreInfo); None for an embedded store.

    ``info.server`` when the adapter names it; otherwise (a third-party server store) the
    convention: ``VECBENCH_<NAME>_URL``, in whichever of url/uri/dsn the store's config takes.
    """
    if getattr(info, "server", None) is not None:
        return info.server  # type: ignore[no-any-return]
    if info.embedded:
        return None
    key = next((k for k in ADDRESS_KEYS if k in info.config_keys), "url")
    return Engine(info.name, f"VECBENCH_{info.name.upper().replace('-', '_')}_URL", key)
