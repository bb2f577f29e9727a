"""What ``RedisStore`` sends and how it reads the replies, without a server: index types,
``FT.CREATE`` and ``FT.SEARCH`` as argument lists, a vecbench filter as a RediSearch query,
and RESP2/RESP3 reply parsing.

Filtered search: a ``keyword`` attribute is a ``TAG`` field (``SEPARATOR`` the unit
separator ``\\x1f``, so commas stay inside a value, and ``CASESENSITIVE``), an ``int`` one a
``NUMERIC`` field, both in the hash with the vector. A filter is the pre-filter of the KNN
query (verified on RediSearch 2.10)::

    (@label:{news | blog} @year:[2020 (2024])=>[KNN $k @embedding $vec ...]

Tag values are escaped: every ASCII character but letters, digits and ``_`` gets a
backslash (non-ASCII ones must not: ``\\ü`` matches nothing), so ``,``, ``|``, ``}``,
``$``, ``*``, spaces and quotes are literal and a value cannot close the braces. Values
RediSearch would not keep as given are refused at upsert: empty ones (not indexed), ones
with leading or trailing whitespace (trimmed) or the separator (split). Ranges keep their
bounds, exclusive ones with ``(``. NUMERIC fields hold doubles, so integer values are
limited to +-2**53 at upsert and bounds beyond that are clamped to what can be stored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vecbench.errors import ConfigError, InvalidParameterError, StoreError
from vecbench.metrics import Metric
from vecbench.spec import CollectionSpec, IndexType
from vecbench.workloads.filters import Eq, Filter, Range

from ._attributes import clauses
from ._base import check_int_param

VECTOR_FIELD = "embedding"
DISTANCE_ALIAS = "__vector_distance"
TAG_SEPARATOR = "\x1f"
MAX_EXACT_INT = 2**53  # NUMERIC is a double: integers beyond are not exact
HYBRID_POLICIES = ("ADHOC_BF", "BATCHES")
MIN_HYBRID_POLICY_VERSION = (2, 6)  # RediSearch release that added HYBRID_POLICY
_WHITESPACE = " \t\n\r\v\f"

ENGINE_METRIC = {Metric.EUCLIDEAN: "L2", Metric.COSINE: "COSINE", Metric.IP: "IP"}
METRIC_MAPPING = {
    Metric.EUCLIDEAN: "euclidean -> DISTANCE_METRIC L2 (squared L2, same order)",
    Metric.COSINE: "cosine -> DISTANCE_METRIC COSINE (1 - cos)",
    Metric.IP: "ip -> DISTANCE_METRIC IP (1 - <q, x>, same order as -ip)",
}
_HYBRID = {"hybrid_policy": None, "batch_size": None}
INDEX_TYPES = {
    "hnsw": IndexType(
        "hnsw",
        build={"m": 16, "ef_construction": 200, "initial_cap": None},
        search={"ef_runtime": 10, **_HYBRID},
        description="RediSearch VECTOR HNSW (FLOAT32); graph built as hashes are written; filtered "
        "search: hybrid_policy ADHOC_BF / BATCHES (None: the engine's choice), batch_size",
    ),
    "flat": IndexType(
        "flat",
        build={"initial_cap": None},
        search=dict(_HYBRID),
        exact=True,
        description="RediSearch VECTOR FLAT (FLOAT32): exact scan",
    ),
}


# -- index and attributes -------------------------------------------------------------------


def ft_create_args(index: str, prefix: str, spec: CollectionSpec, params: Mapping[str, Any]) -> list[Any]:
    """The ``FT.CREATE`` command as a list of separate arguments.

    >>> ft_create_args("bench", "bench:", CollectionSpec("bench", 4, "l2", "flat"), {"initial_cap": None})
    ['FT.CREATE', 'bench', 'ON', 'HASH', 'PREFIX', 1, 'bench:', 'SCHEMA', 'embedding', 'VECTOR', 'FLAT', 6, 'TYPE', 'FLOAT32', 'DIM', 4, 'DISTANCE_METRIC', 'L2']
    """
    attrs: list[Any] = ["TYPE", "FLOAT32", "DIM", spec.dim, "DISTANCE_METRIC", ENGINE_METRIC[spec.metric]]
    if spec.index_type == "hnsw":
        attrs += ["M", int(params["m"]), "EF_CONSTRUCTION", int(params["ef_construction"])]
        algorithm = "HNSW"
    elif spec.index_type == "flat":
        algorithm = "FLAT"
    else:
        raise ConfigError(f"redis has no index type {spec.index_type!r}")
    if params.get("initial_cap") is not None:
        attrs += ["INITIAL_CAP", int(params["initial_cap"])]
    return [
        "FT.CREATE", index, "ON", "HASH", "PREFIX", 1, prefix,
        "SCHEMA", VECTOR_FIELD, "VECTOR", algorithm, len(attrs), *attrs,
        *attribute_schema(spec.attributes),
    ]  # fmt: skip


def attribute_schema(attributes: Mapping[str, str]) -> list[Any]:
    """The ``FT.CREATE`` schema entries of the declared attributes."""
    out: list[Any] = []
    for attr, kind in attributes.items():
        if kind == "int":
            out += [attr, "NUMERIC"]
        else:
            out += [attr, "TAG", "SEPARATOR", TAG_SEPARATOR, "CASESENSITIVE"]
    return out


def field_descriptions(attributes: Mapping[str, str]) -> dict[str, str]:
    return {
        a: "NUMERIC" if k == "int" else "TAG SEPARATOR \\x1f CASESENSITIVE" for a, k in attributes.items()
    }


def check_attribute_names(attributes: Mapping[str, str]) -> None:
    for attr in attributes:
        if attr in (VECTOR_FIELD, DISTANCE_ALIAS):
            raise ConfigError(
                f"redis: attribute name {attr!r} is taken by the vector field; rename the attribute"
            )


def check_attribute_values(columns: Mapping[str, NDArray[Any]], attributes: Mapping[str, str]) -> None:
    """ConfigError for a value RediSearch would not index as given (see the module docstring)."""
    for attr, kind in attributes.items():
        col = columns[attr]
        if kind == "int":
            if col.size and int(np.abs(col).max()) > MAX_EXACT_INT:
                raise ConfigError(
                    f"redis: attribute {attr!r} holds integers beyond +-2**53, which a NUMERIC field "
                    "(a double) cannot hold exactly"
                )
            continue
        for value in col:
            why = (
                "is empty (RediSearch does not index an empty tag)"
                if value == ""
                else "has leading or trailing whitespace (RediSearch trims tags)"
                if value != value.strip(_WHITESPACE)
                else "holds the tag separator \\x1f"
                if TAG_SEPARATOR in value
                else None
            )
            if why:
                raise ConfigError(f"redis: attribute {attr!r} value {value!r} {why}")


def hash_fields(columns: Mapping[str, NDArray[Any]], row: int) -> dict[str, Any]:
    """The attribute fields of one hash (ints as their decimal text, as HSET sends them)."""
    return {attr: str(col[row]) for attr, col in columns.items()}


# -- queries -------------------------------------------------------------------------------


def escape_tag(value: str) -> str:
    r"""``value`` as a literal inside ``@attr:{...}``.

    >>> escape_tag("a b|c}d")
    'a\\ b\\|c\\}d'
    """
    return "".join("\\" + ch if ch.isascii() and not (ch.isalnum() or ch == "_") else ch for ch in value)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e18 else repr(float(value))


def _numeric_range(clause: Range, integer: bool) -> str | None:
    """``@attr:[lo hi]`` with ``(`` for exclusive bounds; None when nothing stored passes."""
    lower = max(
        [(clause.gte, False)] * (clause.gte is not None) + [(clause.gt, True)] * (clause.gt is not None),
        default=(-math.inf, False),
        key=lambda b: (b[0], b[1]),
    )
    upper = min(
        [(clause.lte, False)] * (clause.lte is not None) + [(clause.lt, True)] * (clause.lt is not None),
        default=(math.inf, False),
        key=lambda b: (b[0], not b[1]),
    )
    if integer:  # stored values lie within +-2**53: clamp bounds a double cannot tell apart
        if lower[0] > MAX_EXACT_INT or upper[0] < -MAX_EXACT_INT:
            return None
        lower = (-math.inf, False) if lower[0] < -MAX_EXACT_INT else lower
        upper = (math.inf, False) if upper[0] > MAX_EXACT_INT else upper
    lo = "-inf" if lower[0] == -math.inf else ("(" if lower[1] else "") + _number(lower[0])
    hi = "+inf" if upper[0] == math.inf else ("(" if upper[1] else "") + _number(upper[0])
    return f"@{clause.attr}:[{lo} {hi}]"


def filter_query(flt: Filter, kinds: Mapping[str, str]) -> str | None:
    """The RediSearch pre-filter of a checked filter (``*`` when nothing is left to check);
    None when no stored value can pass."""
    terms: list[str] = []
    for clause in clauses(flt):
        integer = kinds[clause.attr] == "int"
        if isinstance(clause, Range):
            term = _numeric_range(clause, integer)
            if term is None:
                return None
            if term != f"@{clause.attr}:[-inf +inf]":
                terms.append(term)
            continue
        values = (clause.value,) if isinstance(clause, Eq) else clause.values
        if not integer:
            terms.append(f"@{clause.attr}:{{{' | '.join(escape_tag(str(v)) for v in values)}}}")
            continue
        exact = [int(v) for v in values if abs(int(v)) <= MAX_EXACT_INT]
        if not exact:
            return None
        ranges = [f"@{clause.attr}:[{v} {v}]" for v in exact]
        terms.append(ranges[0] if len(ranges) == 1 else f"({' | '.join(ranges)})")
    return " ".join(terms) if terms else "*"


def check_hybrid_params(params: Mapping[str, Any], module: tuple[int, ...] | None) -> dict[str, Any]:
    """``hybrid_policy`` (upper-cased) and ``batch_size`` checked, against the module version
    when connected (None: not yet)."""
    policy = params.get("hybrid_policy")
    if policy is not None:
        if not isinstance(policy, str) or policy.upper() not in HYBRID_POLICIES:
            raise InvalidParameterError(
                f"hybrid_policy must be one of {', '.join(HYBRID_POLICIES)} or None, got {policy!r}"
            )
        params = {**params, "hybrid_policy": policy.upper()}
    if params.get("batch_size") is not None:
        check_int_param("batch_size", params["batch_size"], minimum=1)
        if params.get("hybrid_policy") != "BATCHES":
            raise InvalidParameterError("batch_size applies to hybrid_policy BATCHES only")
    if policy is not None and module is not None and module[:2] < MIN_HYBRID_POLICY_VERSION:
        raise InvalidParameterError(
            f"RediSearch {'.'.join(map(str, module))} has no HYBRID_POLICY (added in 2.6); leave hybrid_policy None"
        )
    return dict(params)


def knn_search_args(
    index: str,
    query: bytes,
    k: int,
    ef_runtime: int | None,
    prefilter: str = "*",
    hybrid: Mapping[str, Any] | None = None,
) -> list[Any]:
    """``FT.SEARCH`` for the k nearest hashes among those ``prefilter`` passes, returning
    keys only, nearest first. ``hybrid``: ``hybrid_policy`` / ``batch_size``, sent only with
    a filter (RediSearch refuses them on a query without one); with ``ADHOC_BF`` no
    ``EF_RUNTIME`` (refused too: brute force over the passing hashes uses no graph)."""
    attrs, params = "", ["k", k, "vec", query]
    policy = hybrid.get("hybrid_policy") if hybrid and prefilter != "*" else None
    # ADHOC_BF computes the distance of every hash that passes: RediSearch refuses EF_RUNTIME with it
    if ef_runtime is not None and policy != "ADHOC_BF":
        attrs, params = " EF_RUNTIME $ef", [*params, "ef", ef_runtime]
    if policy:
        attrs += f" HYBRID_POLICY {hybrid['hybrid_policy']}"
        if hybrid.get("batch_size") is not None:
            attrs += " BATCH_SIZE $batch"
            params += ["batch", int(hybrid["batch_size"])]
    where = prefilter if prefilter == "*" else f"({prefilter})"
    knn = f"{where}=>[KNN $k @{VECTOR_FIELD} $vec{attrs} AS {DISTANCE_ALIAS}]"
    return [
        "FT.SEARCH", index, knn, "PARAMS", len(params), *params,
        "SORTBY", DISTANCE_ALIAS, "LIMIT", 0, k, "NOCONTENT", "DIALECT", 2,
    ]  # fmt: skip


# -- replies ----------------------------------------------------------------------------------


def text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


def as_map(reply: Any) -> dict[str, Any]:
    """A RESP3 map, or a RESP2 flat ``[key, value, ...]`` list, as a dict with str keys."""
    if isinstance(reply, Mapping):
        return {str(text(k)): v for k, v in reply.items()}
    if isinstance(reply, (list, tuple)) and len(reply) % 2 == 0:
        return {str(text(reply[i])): reply[i + 1] for i in range(0, len(reply), 2)}
    raise StoreError(f"redis: unexpected reply {reply!r:.200}")


def parse_search_ids(reply: Any, prefix: str) -> list[int]:
    """The ids in an ``FT.SEARCH ... NOCONTENT`` reply (RESP2 or RESP3), in reply order."""
    if isinstance(reply, Mapping):
        keys = [as_map(r)["id"] for r in as_map(reply)["results"]]
    else:  # RESP2: [total, key1, key2, ...]
        keys = list(reply[1:])
    cut = len(prefix)
    try:
        return [int(text(key)[cut:]) for key in keys]
    except ValueError as exc:
        raise StoreError(f"redis: a key under prefix {prefix!r} is not <prefix><int id>: {exc}") from exc


def module_version(ver: int) -> str:
    """RediSearch's ``MODULE LIST`` version number as a dotted string (21005 -> '2.10.5')."""
    return f"{ver // 10000}.{ver // 100 % 100}.{ver % 100}"


def as_float(value: Any) -> float:
    try:
        return float(text(value))
    except (TypeError, ValueError):
        return 0.0
