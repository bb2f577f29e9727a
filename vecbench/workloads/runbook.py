"""Runbooks: a streaming workload as a list of steps (big-ann-benchmarks' streaming track).

A runbook is YAML, a ``name`` and a list of ``steps``; each step is one operation:

    name: churn-20k
    steps:
      - insert: {start: 0, end: 10000}      # upsert data-set rows 0..9999 under ids 0..9999
      - wait: ready                         # store.wait_ready() (timed, bounded by ready_timeout_s)
      - search                              # the query set, scored against the live set
      - delete: {start: 0, end: 3000}       # remove ids 0..2999
      - replace: {start: 3000, end: 5000, from: 15000}  # ids 3000..4999 get rows 15000..16999
      - wait: 0.5                           # a pause of 0.5 s (or {seconds: 0.5})
      - search

Ids are data-set row numbers and ranges are half-open ``[start, end)``. ``insert`` adds ids
that are not live (ids deleted earlier may come back); ``delete`` removes live ids;
``replace`` upserts live ids again, by default with their own rows' vectors (``from``
omitted: the update path of the engine with unchanged data), or with the vectors of the
rows starting at ``from`` (what big-ann-benchmarks' replace does: same ids, other data).
A replace needs only ``upsert`` (the Store contract says an upsert of a present id
replaces it); a delete needs a ``Deletable`` store.

``parse_runbook`` keeps each step's line, so a malformed runbook is refused with
"runbook.yaml line N: ..."; ``Runbook.check(n)`` plays the steps against a data set of n
base vectors without touching a store (``vecbench.workloads.live.LiveSet``) and refuses
ranges outside the base set, deletes of ids never inserted or not live, and searches with
nothing live, before any work.

    runbook = load_runbook("benchmarks/runbooks/churn-20k.yaml")
    runbook.check(dataset.n)                       # ConfigError naming the step's line
    runbook.require_store(store_class("faiss"))    # CapabilityError when it deletes and cannot
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from vecbench.errors import ConfigError
from vecbench.util.validation import is_int, is_number

__all__ = ["OPS", "Step", "Runbook", "parse_runbook", "load_runbook"]

OPS = ("insert", "delete", "replace", "search", "wait")
WRITE_OPS = ("insert", "delete", "replace")
MAX_WAIT_S = 3600.0
_TOP_KEYS = ("name", "description", "steps")


@dataclass(frozen=True)
class Step:
    """One step of a runbook. ``where`` says where it was written ("file line N")."""

    op: str
    start: int | None = None
    end: int | None = None
    source: int | None = None  # replace: the first data-set row whose vectors the ids get
    seconds: float | None = None  # wait: a pause; None waits until the store is ready
    where: str = ""

    @property
    def count(self) -> int:
        """Ids the step writes (0 for search and wait)."""
        return (self.end - self.start) if self.start is not None and self.end is not None else 0

    def as_dict(self) -> dict[str, Any]:
        """The mapping form a runbook file holds (round-trips through ``Runbook.from_mapping``)."""
        if self.op in ("insert", "delete"):
            return {self.op: {"start": self.start, "end": self.end}}
        if self.op == "replace":
            args: dict[str, Any] = {"start": self.start, "end": self.end}
            if self.source is not None and self.source != self.start:
                args["from"] = self.source
            return {"replace": args}
        if self.op == "wait":
            return {"wait": "ready" if self.seconds is None else {"seconds": self.seconds}}
        return {"search": None}

    def describe(self) -> str:
        """``insert 0..10000``, ``replace 3000..5000 from 15000``, ``wait ready`` ..."""
        if self.op in WRITE_OPS:
            text = f"{self.op} {self.start}..{self.end}"
            if self.op == "replace" and self.source not in (None, self.start):
                text += f" from {self.source}"
            return text
        if self.op == "wait":
            return "wait ready" if self.seconds is None else f"wait {self.seconds:g} s"
        return "search"


@dataclass(frozen=True)
class Runbook:
    """A parsed runbook: its name, steps and where it came from."""

    name: str
    steps: tuple[Step, ...]
    source: str = "runbook"
    description: str = ""

    @property
    def checksum(self) -> str:
        """sha256 of the steps (not of names, comments or layout): part of each cell's id."""
        text = json.dumps([s.as_dict() for s in self.steps], sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def deletes(self) -> tuple[Step, ...]:
        return tuple(s for s in self.steps if s.op == "delete")

    @property
    def search_steps(self) -> int:
        return sum(s.op == "search" for s in self.steps)

    def identity(self) -> dict[str, Any]:
        """What makes a cell a runbook cell, for its cell id."""
        return {"runbook": {"name": self.name, "checksum": self.checksum}}

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.description:
            out["description"] = self.description
        out["steps"] = [s.as_dict() for s in self.steps]
        return out

    def section(self) -> dict[str, Any]:
        """The record's ``runbook`` section: name, file, checksum and the steps as written."""
        return {
            "name": self.name,
            "source": self.source,
            "checksum": self.checksum,
            "steps": [s.as_dict() for s in self.steps],
        }

    @classmethod
    def from_mapping(cls, data: Any, source: str = "runbook") -> Runbook:
        """A runbook from its mapping (or a bare list of steps); errors name ``steps[i]``."""
        if isinstance(data, Mapping):
            _refuse_unknown(data, source)
            name = _name(data.get("name"), source, source)
            description = str(data.get("description") or "")
            raw = data.get("steps")
        else:
            name, description, raw = Path(source).stem or "runbook", "", data
        items = _step_list(raw, source)
        steps = tuple(_parse_step(v, f"{source}: steps[{i}]") for i, v in enumerate(items))
        return _finish(cls(name, steps, source, description))

    def check(self, n: int) -> list[int]:
        """Play the steps on a data set of ``n`` base vectors (no store): ConfigError, naming
        the step's line, on a range outside the base set, an insert of live ids, a delete or
        replace of ids that are not live, a search with nothing live. Returns the live count
        after each step."""
        from vecbench.workloads.live import LiveSet

        live = LiveSet(n)
        counts = []
        for step in self.steps:
            live.apply(step)
            if step.op == "search" and live.count == 0:
                raise ConfigError(f"{step.where}: search with no live vector (insert some first)")
            counts.append(live.count)
        return counts

    def require_store(self, store: Any) -> None:
        """CapabilityError when the runbook deletes and ``store`` (class or instance) is not
        ``Deletable``; no I/O."""
        if not self.deletes:
            return
        from vecbench.store import Deletable, require_capability

        require_capability(store, Deletable, f"runbook {self.name!r} ({self.deletes[0].where}: delete)")


def _finish(runbook: Runbook) -> Runbook:
    if not runbook.steps:
        raise ConfigError(f"{runbook.source}: the runbook has no steps")
    if not runbook.search_steps:
        raise ConfigError(f"{runbook.source}: the runbook has no search step: nothing would be measured")
    return runbook


def _refuse_unknown(data: Mapping[Any, Any], where: str) -> None:
    unknown = sorted(str(k) for k in data if k not in _TOP_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; valid: {', '.join(_TOP_KEYS)}")


def _name(value: Any, source: str, where: str) -> str:
    if value is None:
        return Path(source).stem or "runbook"
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: name must be a non-empty string, got {value!r}")
    return value.strip()


def _step_list(raw: Any, where: str) -> Sequence[Any]:
    if raw is None:
        raise ConfigError(f"{where}: 'steps' is required (a list of insert/delete/replace/search/wait)")
    if not isinstance(raw, Sequence) or isinstance(raw, (str, bytes)):
        raise ConfigError(f"{where}: steps must be a list, got {type(raw).__name__}")
    return raw


# -- one step -------------------------------------------------------------------------------


def _parse_step(value: Any, where: str) -> Step:
    if isinstance(value, str):
        op, args = value, None
    elif isinstance(value, Mapping) and len(value) == 1:
        ((op, args),) = value.items()
    elif isinstance(value, Mapping):
        names = ", ".join(map(str, value)) or "none"
        raise ConfigError(f"{where}: a step is one operation ({', '.join(OPS)}), got keys {names}")
    else:
        raise ConfigError(f"{where}: expected a step ({', '.join(OPS)}), got {value!r}")
    if op not in OPS:
        raise ConfigError(f"{where}: unknown operation {op!r}; valid: {', '.join(OPS)}")
    where_op = f"{where}: {op}"
    if op == "search":
        if args not in (None, {}):
            raise ConfigError(f"{where_op} takes no arguments (it searches the data set's query set)")
        return Step("search", where=where)
    if op == "wait":
        return Step("wait", seconds=_wait_seconds(args, where_op), where=where)
    keys = ("start", "end", "from") if op == "replace" else ("start", "end")
    if not isinstance(args, Mapping):
        raise ConfigError(f"{where_op}: expected {{{', '.join(keys)}}}, got {args!r}")
    unknown = sorted(str(k) for k in args if k not in keys)
    if unknown:
        raise ConfigError(f"{where_op}: unknown key(s) {', '.join(unknown)}; valid: {', '.join(keys)}")
    start = _id(args.get("start"), "start", where_op)
    end = _id(args.get("end"), "end", where_op)
    if end <= start:
        raise ConfigError(f"{where_op}: end ({end}) must be greater than start ({start})")
    source = _id(args["from"], "from", where_op) if "from" in args else None
    return Step(op, start, end, source if op == "replace" else None, where=where)


def _id(value: Any, key: str, where: str) -> int:
    if value is None:
        raise ConfigError(f"{where}: '{key}' is required (a data-set row id)")
    if not is_int(value) or int(value) < 0:
        raise ConfigError(f"{where}: {key} must be a non-negative integer, got {value!r}")
    return int(value)


def _wait_seconds(args: Any, where: str) -> float | None:
    if args == "ready":
        return None
    if isinstance(args, Mapping):
        unknown = sorted(str(k) for k in args if k != "seconds")
        if unknown or "seconds" not in args:
            raise ConfigError(f"{where}: expected 'ready', a number of seconds or {{seconds: S}}")
        args = args["seconds"]
    if not is_number(args):
        raise ConfigError(f"{where}: expected 'ready' or a number of seconds, got {args!r}")
    seconds = float(args)
    if not math.isfinite(seconds) or not 0 < seconds <= MAX_WAIT_S:
        raise ConfigError(f"{where}: seconds must be in (0, {MAX_WAIT_S:g}], got {args!r}")
    return seconds


# -- YAML with line numbers -----------------------------------------------------------------


def parse_runbook(text: str, source: str = "runbook.yaml") -> Runbook:
    """A runbook from YAML text; every error names ``source`` and the line of the step."""
    loader = yaml.SafeLoader(text)
    try:
        try:
            root = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = f" line {mark.line + 1}" if mark is not None else ""
            raise ConfigError(f"{source}{line}: {exc.problem or exc.context or 'invalid YAML'}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{source}: invalid YAML: {exc}") from None
        if root is None:
            raise ConfigError(f"{source}: the runbook is empty")
        return _from_nodes(loader, root, source)
    finally:
        loader.dispose()


def _line(node: yaml.Node, source: str) -> str:
    return f"{source} line {node.start_mark.line + 1}"


def _from_nodes(loader: yaml.SafeLoader, root: yaml.Node, source: str) -> Runbook:
    name, description, steps_node = Path(source).stem or "runbook", "", root
    if isinstance(root, yaml.MappingNode):
        steps_node = None
        for key_node, value_node in root.value:
            key = loader.construct_object(key_node, deep=True)
            where = _line(key_node, source)
            if key not in _TOP_KEYS:
                raise ConfigError(f"{where}: unknown key {key!r}; valid: {', '.join(_TOP_KEYS)}")
            if key == "steps":
                steps_node = value_node
            elif key == "name":
                name = _name(loader.construct_object(value_node, deep=True), source, where)
            else:
                description = str(loader.construct_object(value_node, deep=True) or "")
        if steps_node is None:
            raise ConfigError(f"{_line(root, source)}: 'steps' is required (a list of {', '.join(OPS)})")
    if not isinstance(steps_node, yaml.SequenceNode):
        raise ConfigError(f"{_line(steps_node, source)}: steps must be a list of {', '.join(OPS)}")
    steps = tuple(
        _parse_step(loader.construct_object(item, deep=True), _line(item, source))
        for item in steps_node.value
    )
    return _finish(Runbook(name, steps, source, description))


def load_runbook(value: Any, base: Path | None = None) -> Runbook:
    """A Runbook from a Runbook, a YAML file's path (relative to ``base`` when given) or a
    mapping (``{name, steps}``) or list of steps."""
    if isinstance(value, Runbook):
        return value
    if isinstance(value, (str, Path)):
        path = Path(value)
        if base is not None and not path.is_absolute():
            path = base / path
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read runbook {path}: {exc.strerror or exc}") from None
        return parse_runbook(text, str(path))
    if isinstance(value, (Mapping, list, tuple)):
        return Runbook.from_mapping(value)
    raise ConfigError(f"runbook must be a YAML file's path or a mapping of steps, got {type(value).__name__}")
