import pytest

from vecbench.errors import ConfigError
from vecbench.measures.cost import PRICE_KEYS, PriceModel, reprice, resolve_prices, vector_basis, vector_cost

GIB = 1 << 30


def _record(**over):
    rec = {
        "kind": "vector",
        "status": "ok",
        "machine": {"usable_cores": 8, "logical_cores": 16},
        "store": {"name": "faiss", "config": {}},
        "timings": {"create_s": 0.1, "ingest_s": 30.0, "build_s": 6.0, "vectors_per_s": 1.0},
        "qps": {"serial": 1000.0, "batch": None},
        "footprint": {"memory_bytes": 2 * GIB, "disk_bytes": 10 * GIB, "method": "x"},
        "load": None,
    }
    rec.update(over)
    return rec


def test_defaults_are_documented_and_round_trip():
    p = PriceModel()
    assert set(p.as_dict()) == {*PRICE_KEYS, "source", "as_of"}
    assert all(getattr(p, k) > 0 for k in PRICE_KEYS)
    assert "GCE N2" in p.source and p.as_of
    assert p.usd_per_gb_month_ram == pytest.approx(0.004237 * 730)
    assert PriceModel.from_dict(p.as_dict()) == p
    assert PriceModel.from_dict({}) == p


def test_serial_cost_formulas():
    prices = PriceModel(usd_per_vcpu_hour=3.6, usd_per_gb_month_ram=2.0, usd_per_gb_month_disk=0.5)
    cost = vector_cost(_record(), prices)
    # 1e6 queries at 1000 QPS = 1000 s on one core at 0.001 USD per vCPU-second
    assert cost["usd_per_1m_queries"] == pytest.approx(1.0)
    assert cost["usd_per_month"] == pytest.approx(2 * 2.0 + 10 * 0.5)
    # 36 s of ingest + build on all 8 usable cores
    assert cost["usd_ingest_build"] == pytest.approx(36 * 8 * 0.001)
    assert cost["usd_embed_corpus"] is None
    basis = cost["basis"]
    assert basis["qps_source"] == "serial" and basis["cores"] == 1.0 and basis["build_cores"] == 8.0
    assert basis["memory_source"] == "engine" and cost["prices"] == prices.as_dict()


def test_store_config_threads_set_the_cores():
    rec = _record(store={"name": "faiss", "config": {"search_threads": 2, "threads": 4}})
    basis = vector_basis(rec)
    assert basis["cores"] == 2.0 and basis["build_cores"] == 4.0


def test_closed_loop_best_level_and_service_rss():
    load = {
        "closed_loop": {
            "levels": [
                {"workers": 4, "qps": 3000.0, "status": "ok"},
                {"workers": 16, "qps": 5000.0, "status": "ok"},
                {"workers": 32, "qps": 9000.0, "status": "failed"},
            ]
        },
        "open_loop": None,
        "rate_sweep": None,
    }
    footprint = {
        "memory_bytes": None,
        "disk_bytes": None,
        "method": "x",
        "service": {"name": "redis", "pid": 1, "rss_bytes": GIB, "method": "rss"},
    }
    prices = PriceModel(usd_per_vcpu_hour=3.6, usd_per_gb_month_ram=2.0)
    cost = vector_cost(_record(load=load, footprint=footprint), prices)
    basis = cost["basis"]
    # the best ok level; 16 workers on an 8-core machine use 8 cores
    assert basis["qps"] == 5000.0 and basis["qps_source"] == "closed_loop" and basis["cores"] == 8.0
    assert cost["usd_per_1m_queries"] == pytest.approx(1e6 / 5000 * 8 * 0.001)
    assert basis["memory_source"] == "service_rss" and cost["usd_per_month"] == pytest.approx(2.0)


def test_missing_figures_give_none():
    cost = vector_cost(_record(footprint=None, timings=None, qps=None), PriceModel())
    assert cost["usd_per_1m_queries"] is cost["usd_per_month"] is cost["usd_ingest_build"] is None


def test_reprice_uses_the_saved_basis_and_is_pure():
    rec = _record()
    rec["cost"] = vector_cost(rec, PriceModel())
    rec["qps"] = {"serial": 1.0, "batch": None}  # reprice must not re-derive from measurements
    doubled = PriceModel().with_overrides({"usd_per_vcpu_hour": 2 * PriceModel().usd_per_vcpu_hour})
    again = reprice(rec, doubled)
    assert again["cost"]["usd_per_1m_queries"] == pytest.approx(2 * rec["cost"]["usd_per_1m_queries"])
    assert again["cost"]["usd_per_month"] == pytest.approx(rec["cost"]["usd_per_month"])
    assert again["cost"]["prices"]["usd_per_vcpu_hour"] == doubled.usd_per_vcpu_hour
    assert rec["cost"]["prices"]["usd_per_vcpu_hour"] == PriceModel().usd_per_vcpu_hour  # unchanged
    # a v1 record (no cost section) is priced from its measured figures
    v1 = _record()
    assert reprice(v1, doubled)["cost"]["basis"]["qps"] == 1000.0
    failed = {"status": "failed", "cost": None}
    assert reprice(failed, doubled) == failed


def test_price_file_and_overrides(tmp_path):
    f = tmp_path / "prices.yaml"
    f.write_text("usd_per_vcpu_hour: 0.05\nas_of: 2025-01-01\n")
    p = PriceModel.from_yaml(f)
    assert p.usd_per_vcpu_hour == 0.05 and p.as_of == "2025-01-01"
    assert p.source == f"price file {f}" and p.usd_per_gb_month_disk == PriceModel().usd_per_gb_month_disk
    assert resolve_prices("prices.yaml", base=tmp_path) == p
    assert resolve_prices({"usd_per_vcpu_hour": 0.05}).usd_per_vcpu_hour == 0.05
    assert resolve_prices(None) == PriceModel()
    q = p.with_overrides({"usd_per_gb_month_disk": 1}).with_overrides({"usd_per_vcpu_hour": 1})
    assert q.source == f"price file {f}; overridden: usd_per_vcpu_hour, usd_per_gb_month_disk"
    (tmp_path / "empty.yaml").write_text("")
    assert PriceModel.from_yaml(tmp_path / "empty.yaml").usd_per_vcpu_hour == PriceModel().usd_per_vcpu_hour


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("usd_per_gpu_hour: 1\nusd_per_vcpu_hour: 0.1\n", "unknown price key(s) usd_per_gpu_hour"),
        ("usd_per_vcpu_hour: -0.1\n", "non-negative numbers: usd_per_vcpu_hour=-0.1"),
        ("usd_per_gb_month_ram: cheap\n", "usd_per_gb_month_ram='cheap'"),
        ("usd_per_gb_month_disk: .nan\n", "usd_per_gb_month_disk=nan"),
        ("usd_per_1m_embedding_tokens: true\n", "usd_per_1m_embedding_tokens=True"),
        ("[1, 2]\n", "must be a mapping"),
        ("a: [\n", "not valid YAML"),
        ("source: 3\n", "source must be text"),
    ],
)
def test_bad_price_files_refused(tmp_path, content, needle):
    f = tmp_path / "p.yaml"
    f.write_text(content)
    with pytest.raises(ConfigError) as err:
        PriceModel.from_yaml(f)
    assert needle in str(err.value) and (str(f) in str(err.value) or "YAML" in str(err.value))


def test_bad_values_refused_everywhere(tmp_path):
    with pytest.raises(ConfigError, match="usd_per_vcpu_hour=-1"):
        PriceModel(usd_per_vcpu_hour=-1)
    with pytest.raises(ConfigError, match="cannot read price file"):
        PriceModel.from_yaml(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="mapping or a price file"):
        resolve_prices(3)
