"""Cost in dollars: a price model, and the ``cost`` section derived from measured figures.

    prices = PriceModel.from_yaml("prices.yaml")          # keys not given keep the defaults
    prices = PriceModel().with_overrides({"usd_per_vcpu_hour": 0.04})
    section = vector_cost(record, prices)                 # what the harness records
    cheaper = reprice(record, PriceModel(usd_per_vcpu_hour=0.02))   # no re-measuring

The defaults are public on-demand list prices, as known on ``DEFAULT_AS_OF``; they are a
starting point, not a quote: override them with your provider's, region's and discount's
figures. ``GB`` means GiB (2**30 bytes), as cloud providers bill memory and disk.

* ``usd_per_vcpu_hour`` 0.031611 and ``usd_per_gb_month_ram`` 3.09301 (0.004237 USD per
  GB-hour x 730 hours): Google Compute Engine N2 predefined vCPU and memory, on demand,
  us-central1 (cloud.google.com/compute/vm-instance-pricing), the one major provider that
  publishes the per-vCPU / per-GB split of a general-purpose VM.
* ``usd_per_gb_month_disk`` 0.10: Compute Engine balanced persistent disk (pd-balanced),
  us-central1 (cloud.google.com/compute/disks-image-pricing).
* ``usd_per_1m_embedding_tokens`` 0.02: OpenAI ``text-embedding-3-small``
  (openai.com/api/pricing). A local embedder costs CPU time instead: set it to 0.

How each figure is derived (the record's ``cost.basis`` holds every input):

* ``usd_per_1m_queries = 1e6 / qps * cores * usd_per_vcpu_hour / 3600``. ``qps`` is the
  highest closed-loop level's achieved QPS when the record has a load test (``cores`` =
  min(that level's workers, the machine's usable cores): each worker keeps at most one
  core busy), else the serial QPS (``cores`` = 1 thread answering one query at a time, or
  the store config's ``search_threads`` when it sets one).
* ``usd_per_month`` = memory GB x RAM price + disk GB x disk price, for the footprint the
  engine reports; with no engine memory figure, the RSS of the service process vecbench
  started (``basis.memory_source`` says which).
* ``usd_ingest_build = (ingest_s + build_s) x build_cores x usd_per_vcpu_hour / 3600``;
  ``build_cores`` = the store config's ``threads`` when set, else the machine's usable
  cores (engines ingest and build in parallel, and the machine is held meanwhile).
* ``usd_embed_corpus`` = corpus tokens / 1e6 x token price (rag records).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vecbench.errors import ConfigError
from vecbench.util.nested import dig
from vecbench.util.validation import is_int, is_number

__all__ = [
    "PriceModel",
    "PRICE_KEYS",
    "DEFAULT_SOURCE",
    "DEFAULT_AS_OF",
    "resolve_prices",
    "vector_cost",
    "rag_cost",
    "reprice",
]

BYTES_PER_GB = float(1 << 30)
PRICE_KEYS = (
    "usd_per_vcpu_hour",
    "usd_per_gb_month_ram",
    "usd_per_gb_month_disk",
    "usd_per_1m_embedding_tokens",
)
_TEXT_KEYS = ("source", "as_of")
_OVERRIDDEN = "; overridden: "
DEFAULT_AS_OF = "2024-06"
DEFAULT_SOURCE = (
    "vecbench defaults: GCE N2 on-demand vCPU and memory, us-central1; GCE pd-balanced disk, "
    "us-central1; OpenAI text-embedding-3-small"
)


@dataclass(frozen=True)
class PriceModel:
    """USD prices of compute, memory, disk and embedding tokens (see the module doc).

    >>> p = PriceModel().with_overrides({"usd_per_vcpu_hour": 0.05})
    >>> p.usd_per_vcpu_hour, p.source.endswith("overridden: usd_per_vcpu_hour")
    (0.05, True)
    >>> PriceModel.from_dict(p.as_dict()) == p
    True
    """

    usd_per_vcpu_hour: float = 0.031611
    usd_per_gb_month_ram: float = 3.09301  # 0.004237 per GB-hour x 730 hours
    usd_per_gb_month_disk: float = 0.10
    usd_per_1m_embedding_tokens: float = 0.02
    source: str = DEFAULT_SOURCE
    as_of: str = DEFAULT_AS_OF

    def __post_init__(self) -> None:
        _check_values({f.name: getattr(self, f.name) for f in dataclasses.fields(self)}, "prices")

    def as_dict(self) -> dict[str, Any]:
        """Every price and its provenance, as recorded in ``cost.prices``."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "prices") -> PriceModel:
        """The defaults with ``data`` on top (a complete ``as_dict()`` round-trips)."""
        return cls().with_overrides(data, where=where)

    @classmethod
    def from_yaml(cls, path: str | Path) -> PriceModel:
        """A price file: a YAML mapping of some of ``PRICE_KEYS`` (plus ``source``, ``as_of``).

        Keys it does not set keep the defaults; its ``source`` defaults to the file's path.
        """
        import yaml

        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read price file {path}: {exc.strerror or exc}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from None
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise ConfigError(f"{path}: a price file must be a mapping, got {type(data).__name__}")
        data = dict(data)
        if "source" not in data:
            data["source"] = f"price file {path}"
        return cls.from_dict(data, where=str(path))

    def with_overrides(self, mapping: Mapping[str, Any], *, where: str = "prices") -> PriceModel:
        """A copy with some prices replaced; unknown keys or bad prices raise ConfigError.

        Unless ``mapping`` sets ``source``, the source notes which prices were overridden.
        """
        if not isinstance(mapping, Mapping):
            raise ConfigError(f"{where}: expected a mapping of prices, got {type(mapping).__name__}")
        changes = {str(k): v for k, v in mapping.items()}
        if isinstance(changes.get("as_of"), (_dt.date, _dt.datetime)):  # YAML reads 2024-06-01 as a date
            changes["as_of"] = changes["as_of"].isoformat()
        _check_values(changes, where)
        changed = {k for k in PRICE_KEYS if k in changes and changes[k] != getattr(self, k)}
        if "source" not in changes and changed:
            base, _, earlier = self.source.partition(_OVERRIDDEN)
            changed |= set(earlier.split(", "))
            changes["source"] = base + _OVERRIDDEN + ", ".join(k for k in PRICE_KEYS if k in changed)
        values: dict[str, Any] = {k: float(v) for k, v in changes.items() if k in PRICE_KEYS}
        values.update((k, v) for k, v in changes.items() if k in _TEXT_KEYS)
        return dataclasses.replace(self, **values)


def _check_values(values: Mapping[str, Any], where: str) -> None:
    known = (*PRICE_KEYS, *_TEXT_KEYS)
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f"{where}: unknown price key(s) {', '.join(unknown)}; valid: {', '.join(known)}")
    bad = [
        f"{k}={v!r}"
        for k, v in values.items()
        if k in PRICE_KEYS and (not is_number(v) or not math.isfinite(v) or v < 0)
    ]
    if bad:
        raise ConfigError(f"{where}: prices must be non-negative numbers: {', '.join(bad)}")
    bad = [k for k in _TEXT_KEYS if k in values and not isinstance(values[k], str)]
    if bad:
        raise ConfigError(f"{where}: {', '.join(bad)} must be text")


def resolve_prices(
    value: PriceModel | Mapping[str, Any] | str | Path | None, base: Path | None = None
) -> PriceModel:
    """A PriceModel from a config's ``prices``: None (defaults), a mapping of overrides, or a
    price file's path (relative to ``base`` when given)."""
    if value is None:
        return PriceModel()
    if isinstance(value, PriceModel):
        return value
    if isinstance(value, Mapping):
        return PriceModel.from_dict(value)
    if isinstance(value, (str, Path)):
        path = Path(value)
        if base is not None and not path.is_absolute():
            path = base / path
        return PriceModel.from_yaml(path)
    raise ConfigError(f"prices must be a mapping or a price file path, got {value!r}")


def _machine_cores(record: Mapping[str, Any]) -> float | None:
    cores = dig(record, "machine", "usable_cores") or dig(record, "machine", "logical_cores")
    return float(cores) if cores else None


def _config_int(record: Mapping[str, Any], key: str) -> float | None:
    value = dig(record, "store", "config", key)
    if not is_int(value) or value < 1:
        return None
    return float(value)


def _closed_loop_best(load: Any) -> Mapping[str, Any] | None:
    levels = dig(load, "closed_loop", "levels") or []
    ok = [lv for lv in levels if lv.get("status", "ok") == "ok" and (lv.get("qps") or 0) > 0]
    return max(ok, key=lambda lv: lv["qps"]) if ok else None


def _memory(footprint: Any) -> tuple[int | None, str | None]:
    engine = dig(footprint, "memory_bytes")
    if engine is not None:
        return int(engine), "engine"
    rss = dig(footprint, "service", "rss_bytes")
    if rss is not None:
        return int(rss), "service_rss"
    return None, None


def vector_basis(record: Mapping[str, Any]) -> dict[str, Any]:
    """The measured inputs of a vector record's cost (its ``cost.basis``)."""
    machine_cores = _machine_cores(record)
    best = _closed_loop_best(record.get("load"))
    if best is not None:
        qps, source = float(best["qps"]), "closed_loop"
        workers = float(best.get("workers") or 1)
        cores = min(workers, machine_cores) if machine_cores else workers
    else:
        qps, source = dig(record, "qps", "serial"), "serial"
        cores = _config_int(record, "search_threads") or 1.0
    memory, memory_source = _memory(record.get("footprint"))
    ingest_s, build_s = dig(record, "timings", "ingest_s"), dig(record, "timings", "build_s")
    ingest_build = None if ingest_s is None else float(ingest_s) + float(build_s or 0.0)
    return {
        "qps": None if qps is None else float(qps),
        "qps_source": source,
        "cores": float(cores),
        "memory_bytes": memory,
        "memory_source": memory_source,
        "disk_bytes": dig(record, "footprint", "disk_bytes"),
        "ingest_build_s": ingest_build,
        "build_cores": _config_int(record, "threads") or machine_cores,
        "embedding_tokens": None,
    }


def _figures(basis: Mapping[str, Any], prices: PriceModel) -> dict[str, float | None]:
    cpu_s = prices.usd_per_vcpu_hour / 3600.0
    qps, cores = basis.get("qps"), basis.get("cores")
    per_1m = 1e6 / qps * cores * cpu_s if qps and cores else None
    memory, disk = basis.get("memory_bytes"), basis.get("disk_bytes")
    month = None
    if memory is not None or disk is not None:
        month = (memory or 0) / BYTES_PER_GB * prices.usd_per_gb_month_ram
        month += (disk or 0) / BYTES_PER_GB * prices.usd_per_gb_month_disk
    seconds, build_cores = basis.get("ingest_build_s"), basis.get("build_cores")
    build = seconds * build_cores * cpu_s if seconds is not None and build_cores else None
    tokens = basis.get("embedding_tokens")
    embed = tokens / 1e6 * prices.usd_per_1m_embedding_tokens if tokens is not None else None
    return {
        "usd_per_1m_queries": per_1m,
        "usd_per_month": month,
        "usd_ingest_build": build,
        "usd_embed_corpus": embed,
    }


def _section(basis: Mapping[str, Any], prices: PriceModel) -> dict[str, Any]:
    return {"prices": prices.as_dict(), "basis": dict(basis), **_figures(basis, prices)}


def vector_cost(record: Mapping[str, Any], prices: PriceModel) -> dict[str, Any]:
    """The ``cost`` section of a vector record from its measured sections.

    ``record`` needs ``qps``, ``timings``, ``footprint``, ``machine``, ``store`` and
    (optionally) ``load``; a figure whose inputs were not measured is None.
    """
    return _section(vector_basis(record), prices)


def rag_cost(
    *,
    latency: Mapping[str, Any],
    footprint: Mapping[str, Any] | None,
    machine: Mapping[str, Any],
    store_config: Mapping[str, Any] | None,
    ingest_s: float | None,
    embedding_tokens: int,
    query_tokens: int,
    prices: PriceModel,
) -> dict[str, Any]:
    """The dollar part of a rag record's ``cost`` (merged with its counts and times).

    Queries are answered one at a time end to end (embed + search + rerank): ``cores`` = 1,
    ``qps`` = 1000 / mean latency in ms. ``usd_embed`` and ``usd_queries`` keep their
    meaning: corpus and query tokens x the token price.
    """
    record = {"machine": machine, "store": {"config": dict(store_config or {})}}
    mean_ms = latency.get("mean_ms")
    memory, memory_source = _memory(footprint)
    basis = {
        "qps": 1000.0 / mean_ms if mean_ms else None,
        "qps_source": "serial",
        "cores": 1.0,
        "memory_bytes": memory,
        "memory_source": memory_source,
        "disk_bytes": dig(footprint, "disk_bytes"),
        "ingest_build_s": None if ingest_s is None else float(ingest_s),
        "build_cores": _config_int(record, "threads") or _machine_cores(record),
        "embedding_tokens": int(embedding_tokens),
        "query_tokens": int(query_tokens),
    }
    return {**_section(basis, prices), **_token_figures(basis, prices)}


def _token_figures(basis: Mapping[str, Any], prices: PriceModel) -> dict[str, Any]:
    price = prices.usd_per_1m_embedding_tokens
    return {
        "usd_embed": (basis.get("embedding_tokens") or 0) * price / 1e6,
        "usd_queries": (basis.get("query_tokens") or 0) * price / 1e6,
        "price_per_1m_tokens": price,
    }


def reprice(record: Mapping[str, Any], prices: PriceModel) -> dict[str, Any]:
    """A copy of ``record`` whose ``cost`` figures use ``prices`` (nothing is re-measured).

    The saved ``cost.basis`` is used; a vector record without one (schema v1) gets it
    derived from its measured sections. Failed records, and kinds without a cost section,
    come back unchanged.
    """
    out = dict(record)
    if record.get("status") != "ok" or record.get("kind", "vector") not in ("vector", "rag"):
        return out  # failed, or a kind with no cost section (freshness, ingest_load)
    cost = record.get("cost")
    basis = dig(cost, "basis")
    if record.get("kind", "vector") == "rag":
        if basis is None:  # v1 rag record: only its token figures can be repriced
            if cost is not None and "tokens" in cost:
                out["cost"] = {
                    **cost,
                    **_token_figures(
                        {"embedding_tokens": cost.get("tokens"), "query_tokens": cost.get("query_tokens")},
                        prices,
                    ),
                }
            return out
        out["cost"] = {**(cost or {}), **_section(basis, prices), **_token_figures(basis, prices)}
        return out
    out["cost"] = _section(basis if basis is not None else vector_basis(record), prices)
    return out
