"""Reading and writing results files: JSON Lines, one record per line, written atomically.

Each record is appended with one ``os.write`` of one complete line on an ``O_APPEND``
file descriptor followed by ``fsync``, so a crash leaves either the whole record or (at
worst) a torn final line, which readers ignore and writers cut off. Per-query ids and
latencies go to ``<results-stem>.sidecar/<cell_id>.npz`` next to the results file.

    writer = ResultsWriter("out/run.jsonl")
    writer.append(record)
    records = read_results("out/run.jsonl")
    done = completed_cells("out/run.jsonl")  # cell ids to skip on --resume
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vecbench.errors import ConfigError, ResultsFormatError
from vecbench.results.schema import KINDS, SCHEMA, check_version, upgrade_record, validate_record
from vecbench.results.sidecar import sidecar_dir, write_sidecar
from vecbench.util.atomic import fsync_dir

__all__ = ["ResultsWriter", "read_results", "completed_cells"]

# Written first and compactly, so a torn fragment of a record is recognisable.
_PREFIX = b'{"schema":"vecbench.result"'


def _encode(record: Mapping[str, Any]) -> bytes:
    validate_record(record)
    ordered = {k: record[k] for k in KINDS[record["kind"]][0]}  # schema first: see _PREFIX
    try:
        line = json.dumps(ordered, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    except ValueError as exc:  # NaN/inf are not JSON
        raise ResultsFormatError(f"record holds a value JSON cannot represent: {exc}") from exc
    return (line + "\n").encode("utf-8")


def _check_existing(path: Path) -> None:
    """Refuse a non-vecbench file; cut off a torn final record left by a crash."""
    with open(path, "rb") as f:
        data = f.read()
    if not data:
        return
    first_nl = data.find(b"\n")
    if first_nl == -1:  # no complete line: only a torn record of ours may be cut off
        frag = data.strip()
        if frag.startswith(_PREFIX) or _PREFIX.startswith(frag):
            _truncate(path, 0, len(data))
            return
        raise ResultsFormatError(f"{path} is not a vecbench results file")
    _check_header(data[:first_nl], path)
    if not data.endswith(b"\n"):
        keep = data.rfind(b"\n") + 1
        _truncate(path, keep, len(data) - keep)


def _check_header(line: bytes, path: Path | str) -> None:
    try:
        first = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        raise ResultsFormatError(f"{path} is not a vecbench results file (line 1 is not JSON)") from None
    if not isinstance(first, dict) or first.get("schema") != SCHEMA:
        raise ResultsFormatError(f"{path} is not a vecbench results file (line 1 lacks schema {SCHEMA!r})")
    check_version(first, path, 1)


def _truncate(path: Path, size: int, dropped: int) -> None:
    warnings.warn(
        f"{path}: dropping a torn final record ({dropped} bytes) left by an interrupted write", stacklevel=3
    )
    with open(path, "r+b") as f:
        f.truncate(size)
        f.flush()
        os.fsync(f.fileno())


class ResultsWriter:
    """Appends records to a JSON Lines file, one atomic write + fsync per record.

    Parent folders are created. An existing file must be vecbench's (its first line a
    record of schema ``vecbench.result`` and a known version), else ResultsFormatError is
    raised here, before anything is written.

    >>> import tempfile, pathlib
    >>> w = ResultsWriter(pathlib.Path(tempfile.mkdtemp()) / "sub" / "run.jsonl")
    >>> w.path.parent.is_dir()
    True
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.exists():
            if not self.path.is_file():
                raise ConfigError(f"results path {self.path} exists and is not a file")
            _check_existing(self.path)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    @property
    def sidecar_dir(self) -> Path:
        return sidecar_dir(self.path)

    def append(self, record: Mapping[str, Any]) -> None:
        """Write one record as one line: a single os.write on an O_APPEND fd, then fsync."""
        data = _encode(record)
        created = not self.path.exists()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            written = os.write(fd, data)
            # Regular files take the whole buffer in one call; should a kernel ever split
            # it, finish the line rather than leave it torn.
            while written < len(data):
                written += os.write(fd, data[written:])
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            fsync_dir(self.path.parent)

    def write_sidecar(
        self,
        cell: str,
        ids: NDArray[np.int64],
        latencies_ns: NDArray[np.int64],
        batch_ids: NDArray[np.int64] | None = None,
        per_query: Mapping[str, ArrayLike] | None = None,
    ) -> str:
        """Write this cell's raw arrays; returns the path to record, relative to the results folder."""
        return write_sidecar(self.path, cell, ids, latencies_ns, batch_ids, per_query)


def read_results(path: str | Path) -> list[dict[str, Any]]:
    """Every record of a results file, in order.

    A final line without a newline (a write torn by a crash) is ignored with a warning.
    A file that is not vecbench's, a record of an unknown schema version, or a corrupt
    line in the middle raise ResultsFormatError. Records of an older readable version are
    upgraded in memory (see ``upgrade_record``).
    """
    path = Path(path)
    data = path.read_bytes()
    if not data:
        return []
    lines = data.split(b"\n")
    torn = lines.pop()  # b"" when the file ends with a newline
    if torn.strip():
        if len(lines) == 0 and not (torn.startswith(_PREFIX) or _PREFIX.startswith(torn.strip())):
            raise ResultsFormatError(f"{path} is not a vecbench results file")
        warnings.warn(f"{path}: ignoring a torn final line ({len(torn)} bytes)", stacklevel=2)
    records: list[dict[str, Any]] = []
    for lineno, raw in enumerate(lines, start=1):
        if lineno == 1:
            _check_header(raw, path)
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ResultsFormatError(f"{path}:{lineno}: corrupt record: {exc}") from None
        if not isinstance(rec, dict) or rec.get("schema") != SCHEMA:
            raise ResultsFormatError(f"{path}:{lineno}: not a {SCHEMA} record")
        check_version(rec, path, lineno)
        records.append(upgrade_record(rec))
    return records


def completed_cells(path: str | Path) -> set[str]:
    """Cell ids with status ok in a results file (empty if the file does not exist)."""
    path = Path(path)
    if not path.exists():
        return set()
    return {r["cell_id"] for r in read_results(path) if r.get("status") == "ok"}
