"""docker-compose.yml: pinned, healthy, loopback-only, one profile per backend."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from vecbench import registry

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"
SERVICES = yaml.safe_load(COMPOSE.read_text())["services"]


def _host_ip(port: object) -> str:
    text = str(port)
    return text.split(":")[0] if text.count(":") == 2 else ""


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_service_is_pinned_healthchecked_and_loopback_only(name):
    svc = SERVICES[name]
    image = svc["image"]
    tag = image.rsplit(":", 1)[1] if ":" in image.split("/")[-1] else ""
    assert tag and tag != "latest", f"{name}: image {image!r} has no pinned tag"
    assert svc.get("healthcheck", {}).get("test"), f"{name}: no healthcheck"
    assert svc.get("mem_limit"), f"{name}: no memory limit"
    assert svc.get("profiles"), f"{name}: no profile"
    for port in svc.get("ports", []):
        assert _host_ip(port) == "127.0.0.1", f"{name}: port {port!r} is not bound to 127.0.0.1"


def test_every_server_store_has_a_service_with_its_env_var():
    from vecbench.services import EXTERNAL
    from vecbench.services import SERVICES as LOCAL

    env_vars = {
        svc["labels"]["vecbench.env"].split("=")[0]: name
        for name, svc in SERVICES.items()
        if "vecbench.env" in svc.get("labels", {})
    }
    local_vars = {s.env_var for s in LOCAL.values()} | {e.env_var for e in EXTERNAL.values()}
    assert set(env_vars) == local_vars, (
        "compose labels and `vecbench services env` must name the same variables"
    )
    # In-process stores need no service: faiss, bruteforce, and langchain (the class it wraps
    # decides; its tests run over in-process stores).
    backends = {name.split("-")[0] for name in registry.store_names()} - {"faiss", "bruteforce", "langchain"}
    profiles = {p for svc in SERVICES.values() for p in svc["profiles"]}
    assert backends <= profiles, f"stores without a compose profile: {sorted(backends - profiles)}"
    for name, svc in SERVICES.items():
        if "vecbench.env" in svc.get("labels", {}):
            assert svc["profiles"] == [name], f"{name}: profile must carry the backend's name"
