"""vecbench.engines: each server engine's facts, and everything that reads them agreeing.

The adapter, ``vecbench services``, the RSS lookup, the pytest plugin and docker-compose.yml
must name the same variable, config key, ports and profile for an engine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from vecbench import registry
from vecbench.engines import ENGINES, Engine, get_engine, store_engine
from vecbench.errors import ConfigError, MissingDependencyError, UnknownNameError
from vecbench.pytest_plugin import _server_skip_reason
from vecbench.services import EXTERNAL, SERVICES
from vecbench.services.rss import STORE_SERVICES, store_address
from vecbench.store import StoreInfo

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
SERVER_STORES = sorted(n for n in registry.store_names() if not registry.store_class(n).info.embedded)


def test_engine_names_are_the_server_store_names() -> None:
    assert set(ENGINES) == set(SERVER_STORES)


@pytest.mark.parametrize("name", sorted(ENGINES))
def test_each_engine_has_one_name_everywhere(name: str) -> None:
    engine = ENGINES[name]
    info = registry.store_class(name).info
    assert info.server is engine and store_engine(info) is engine
    assert info.extra == engine.extra
    assert engine.config_key in info.config_keys
    assert COMPOSE[engine.compose_profile]["profiles"] == [engine.compose_profile]
    assert engine.env_var.startswith("VECBENCH_") and engine.port_var == f"VECBENCH_{name.upper()}_PORT"


def test_each_engine_has_its_pip_extra() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert {e.extra for e in ENGINES.values()} <= set(extras)


@pytest.mark.parametrize("name", sorted(ENGINES))
def test_compose_labels_the_engines_variable_and_publishes_its_port(name: str) -> None:
    engine = ENGINES[name]
    svc = COMPOSE[engine.service]
    assert svc["labels"]["vecbench.env"] == f"{engine.env_var}={engine.compose_url}"
    port = urlsplit(engine.compose_url).port
    assert port == engine.client_port  # compose publishes the engine on its usual port
    assert f"127.0.0.1:{port}:{port}" in svc["ports"]


@pytest.mark.parametrize("name", sorted(ENGINES))
def test_services_print_the_variable_the_adapter_reads(name: str) -> None:
    engine = ENGINES[name]
    if engine.local:
        svc = SERVICES[engine.service]
        assert (svc.name, svc.env_var, svc.default_port, svc.port_var) == (
            name,
            engine.env_var,
            engine.service_port,
            engine.port_var,
        )
        assert STORE_SERVICES[name] == engine.service
        assert name not in EXTERNAL
    else:
        ext = EXTERNAL[engine.service]
        assert (ext.name, ext.env_var, ext.compose_url) == (name, engine.env_var, engine.compose_url)
        assert f"{engine.env_var}={engine.compose_url}" in ext.message()
        assert name not in SERVICES and name not in STORE_SERVICES


def test_every_engine_is_a_service_or_external() -> None:
    assert set(SERVICES) | set(EXTERNAL) == set(ENGINES)
    assert not set(SERVICES) & set(EXTERNAL)


@pytest.mark.parametrize("name", SERVER_STORES)
def test_the_adapter_reads_the_engines_variable(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """With neither config nor variable, the store refuses to start and names the variable."""
    engine = ENGINES[name]
    monkeypatch.delenv(engine.env_var, raising=False)
    try:
        with registry.get_store(name, {}):  # ConfigError before any connection is tried
            pass
    except MissingDependencyError:
        pytest.skip(f"{name}: client not installed")
    except ConfigError as exc:
        assert engine.env_var in str(exc)
    else:
        pytest.fail(f"{name} connected without an address")


@pytest.mark.parametrize("name", SERVER_STORES)
def test_the_pytest_plugin_reads_the_engines_variable(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = ENGINES[name]
    info = registry.store_class(name).info
    monkeypatch.delenv(engine.env_var, raising=False)
    config: dict[str, Any] = {}
    reason = _server_skip_reason(name, info, config)
    assert reason == engine.needs_server(name) and engine.env_var in reason and config == {}
    assert engine.start_hint in reason
    monkeypatch.setenv(engine.env_var, engine.compose_url)
    assert _server_skip_reason(name, info, config) is None
    assert config == {engine.config_key: engine.compose_url}


@pytest.mark.parametrize("name", sorted(STORE_SERVICES))
def test_rss_finds_the_address_where_the_adapter_does(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = ENGINES[name]
    monkeypatch.setenv(engine.env_var, engine.compose_url)
    assert store_address(name, {}) == ("127.0.0.1", engine.client_port)
    monkeypatch.delenv(engine.env_var)
    assert store_address(name, {}) is None


def test_start_hint_names_services_or_compose() -> None:
    assert ENGINES["redis"].start_hint == "`vecbench services up redis`"
    assert ENGINES["qdrant"].start_hint == "`docker compose --profile qdrant up -d --wait`"


def test_address_prefers_config_over_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = ENGINES["milvus"]
    monkeypatch.setenv(engine.env_var, "http://from-env:1")
    assert engine.address({"uri": "http://from-config:2"}) == "http://from-config:2"
    assert engine.address({"uri": ""}) == engine.address(None) == "http://from-env:1"
    monkeypatch.delenv(engine.env_var)
    assert engine.address({}) is None


def test_a_third_party_server_store_gets_the_conventional_variable() -> None:
    info = StoreInfo("my-db", "mydb", "mydb", ("mydb",), {}, embedded=False, config_keys={"dsn": "address"})
    assert store_engine(info) == Engine("my-db", "VECBENCH_MY_DB_URL", "dsn")
    custom = Engine("my-db", "MYDB_ADDRESS", "dsn")
    assert (
        store_engine(StoreInfo("my-db", "mydb", "mydb", ("mydb",), {}, embedded=False, server=custom))
        is custom
    )
    assert store_engine(StoreInfo("my-db", "mydb", "mydb", ("mydb",), {})) is None  # embedded


def test_get_engine_lists_the_known_names() -> None:
    assert get_engine("pgvector") is ENGINES["pgvector"]
    with pytest.raises(UnknownNameError, match="pgvector"):
        get_engine("pgvectr")
