"""vecbench: benchmark vector stores, chunkers and embedders for RAG.

    import vecbench
    results = vecbench.benchmark(dataset="synthetic", stores=["faiss"], k=10)

Importing vecbench loads no store client, no faiss and no torch: those are imported when
a store connects or a model loads. Names below are resolved lazily for the same reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vecbench._version import __version__
from vecbench.errors import (
    CapabilityError,
    ChecksumMismatchError,
    CollectionExistsError,
    ConfigError,
    DatasetError,
    DimensionMismatchError,
    DuplicateIdError,
    EmptyDatasetError,
    InvalidParameterError,
    InvalidVectorError,
    MissingDependencyError,
    NotReadyError,
    ResultsFormatError,
    StoreError,
    UnknownNameError,
    VecbenchError,
)
from vecbench.metrics import Metric
from vecbench.spec import CollectionSpec, IndexType

_LAZY = {
    "Store": "vecbench.store",
    "BatchSearch": "vecbench.store",
    "Filterable": "vecbench.store",
    "Deletable": "vecbench.store",
    "Footprint": "vecbench.store",
    "Shareable": "vecbench.store",
    "StoreInfo": "vecbench.store",
    "get_store": "vecbench.registry",
    "store_names": "vecbench.registry",
    "Dataset": "vecbench.datasets",
    "load_dataset": "vecbench.datasets",
    "benchmark": "vecbench.api",
    "run": "vecbench.api",
    "RunConfig": "vecbench.config",
    "CellResult": "vecbench.harness",
    "read_results": "vecbench.results",
}

__all__ = [
    "__version__",
    "Metric",
    "CollectionSpec",
    "IndexType",
    "VecbenchError",
    "ConfigError",
    "UnknownNameError",
    "InvalidParameterError",
    "DimensionMismatchError",
    "InvalidVectorError",
    "DuplicateIdError",
    "DatasetError",
    "EmptyDatasetError",
    "ChecksumMismatchError",
    "ResultsFormatError",
    "MissingDependencyError",
    "StoreError",
    "CollectionExistsError",
    "NotReadyError",
    "CapabilityError",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module = importlib.import_module(_LAZY[name])
        attr = "load" if name == "load_dataset" else name
        value = getattr(module, attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'vecbench' has no attribute {name!r}")


if TYPE_CHECKING:  # for type checkers; at run time __getattr__ resolves these
    from vecbench.api import benchmark, run  # noqa: F401
    from vecbench.config import RunConfig  # noqa: F401
    from vecbench.datasets import Dataset  # noqa: F401
    from vecbench.datasets import load as load_dataset  # noqa: F401
    from vecbench.harness import CellResult  # noqa: F401
    from vecbench.registry import get_store, store_names  # noqa: F401
    from vecbench.results import read_results  # noqa: F401
    from vecbench.store import (  # noqa: F401
        BatchSearch,
        Deletable,
        Filterable,
        Footprint,
        Shareable,
        Store,
        StoreInfo,
    )
