"""Attribute columns of data sets read from files, for filtered search.

Three sources, each giving one value per base vector, in base-row order:

- an ``.npz`` file (one 1-D array per attribute, named like the attribute) or a ``.parquet``
  file (one column per attribute), passed as ``attributes=PATH`` beside an ``.npy`` or
  TEXMEX base;
- an ``attributes`` group in an HDF5 file, one dataset per attribute;
- VectorDBBench's ``scalar_labels.parquet`` (see ``vecbench.datasets.vdb``).

What a column becomes: integers stay integers (int64), floats become float64, strings
(and bytes, read as UTF-8) become labels (a numpy unicode array), booleans become 0/1
integers. A column of another kind, with missing values, or with a length other than the
number of base vectors raises ConfigError naming the file.

    attrs = read_attributes_file("attributes.npz", n=base.shape[0])
    attrs["label"][:3]        # array(['news', 'blog', 'news'], dtype='<U4')
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vecbench.errors import ConfigError, DatasetError

__all__ = ["attribute_column", "read_attributes_file", "hdf5_attributes", "arrow_attributes"]

SUFFIXES = (".npz", ".parquet")


def attribute_column(values: Any, name: str, n: int, where: str) -> NDArray[Any]:
    """``values`` as an attribute column of ``n`` values (see the module's docstring for the
    dtypes); ConfigError naming ``where`` and the attribute otherwise."""
    col = np.asarray(values)
    if col.ndim != 1:
        raise ConfigError(f"{where}: attribute {name!r} must be 1-D, got shape {col.shape}")
    if col.shape[0] != n:
        raise ConfigError(
            f"{where}: attribute {name!r} has {col.shape[0]} values for {n} base vectors (one per base vector)"
        )
    kind = col.dtype.kind
    if kind == "b":
        return col.astype(np.int64)
    if kind == "i":
        return col.astype(np.int64, copy=False)
    if kind == "u":
        if col.size and int(col.max()) > np.iinfo(np.int64).max:
            raise ConfigError(f"{where}: attribute {name!r} holds integers beyond int64")
        return col.astype(np.int64)
    if kind == "f":
        if not np.isfinite(col).all():
            raise ConfigError(f"{where}: attribute {name!r} holds NaN or inf")
        return col.astype(np.float64, copy=False)
    if kind == "U":
        return col
    if kind == "S":
        return _decoded(col, name, where)
    if kind == "O" and all(isinstance(v, (str, bytes)) for v in col):
        return _decoded(col, name, where)
    raise ConfigError(
        f"{where}: attribute {name!r} holds {col.dtype} values; attributes are integers, floats or strings"
    )


def _decoded(col: NDArray[Any], name: str, where: str) -> NDArray[np.str_]:
    try:
        return np.array([v.decode("utf-8") if isinstance(v, bytes) else v for v in col.tolist()], dtype=str)
    except UnicodeDecodeError:
        raise ConfigError(f"{where}: attribute {name!r} holds bytes that are not UTF-8") from None


def read_attributes_file(path: str | os.PathLike[str], n: int) -> dict[str, NDArray[Any]]:
    """Attributes from an ``.npz`` (one array per attribute) or ``.parquet`` (one column per
    attribute) file, ``n`` values each, in base-row order."""
    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise ConfigError(f"attributes file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as data:
                raw = {key: data[key] for key in data.files}
        except ValueError as exc:  # object arrays need pickle: refused
            raise ConfigError(
                f"{where}: cannot read without pickle ({exc}); store strings as fixed-width "
                "unicode arrays (np.array(labels, dtype=str))"
            ) from None
        except OSError as exc:
            raise DatasetError(f"{where}: not a readable .npz file ({exc})") from None
        out = {key: attribute_column(values, key, n, where) for key, values in raw.items()}
    elif suffix == ".parquet":
        from vecbench.util.deps import import_optional

        pq = import_optional("pyarrow.parquet", "parquet")
        try:
            table = pq.read_table(path)
        except Exception as exc:  # pyarrow raises ArrowInvalid and OSError for bad files
            raise DatasetError(f"{where}: not a readable Parquet file ({exc})") from None
        out = arrow_attributes(table, table.column_names, n, where)
    else:
        raise ConfigError(f"attributes must be an .npz or .parquet file, got {path}")
    if not out:
        raise ConfigError(f"{where}: no attribute columns")
    return out


def arrow_attributes(
    table: Any, names: list[str], n: int, where: str, rows: NDArray[np.int64] | None = None
) -> dict[str, NDArray[Any]]:
    """Columns ``names`` of a pyarrow Table as attribute columns of ``n`` values; with
    ``rows``, value ``i`` of the table goes to base row ``rows[i]`` (a permutation)."""
    import pyarrow as pa

    out: dict[str, NDArray[Any]] = {}
    for name in names:
        col = table.column(name)
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        if col.null_count:
            raise ConfigError(f"{where}: attribute {name!r} has {col.null_count} missing value(s)")
        typ = col.type
        if not (
            pa.types.is_integer(typ)
            or pa.types.is_floating(typ)
            or pa.types.is_boolean(typ)
            or pa.types.is_string(typ)
            or pa.types.is_large_string(typ)
        ):
            raise ConfigError(
                f"{where}: attribute {name!r} has type {typ}; attributes are integers, floats or strings"
            )
        values = col.to_numpy()
        if values.dtype.kind == "O":
            values = values.astype(str)
        if rows is not None:
            if values.shape[0] != n:
                raise ConfigError(
                    f"{where}: attribute {name!r} has {values.shape[0]} values for {n} base vectors"
                )
            placed = np.empty_like(values)
            placed[rows] = values
            values = placed
        out[name] = attribute_column(values, name, n, where)
    return out


def hdf5_attributes(fh: Any, n: int, where: str) -> dict[str, NDArray[Any]]:
    """The ``attributes`` group of an open HDF5 file (one dataset per attribute); empty
    when the file has none."""
    import h5py

    if "attributes" not in fh:
        return {}
    group = fh["attributes"]
    if not isinstance(group, h5py.Group):
        raise ConfigError(f"{where}: 'attributes' must be a group with one dataset per attribute")
    out: dict[str, NDArray[Any]] = {}
    for name, item in group.items():
        if not isinstance(item, h5py.Dataset):
            raise ConfigError(f"{where}: attributes/{name} is a group; one dataset per attribute expected")
        out[name] = attribute_column(item[()], name, n, where)
    return out
