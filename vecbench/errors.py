"""Typed exceptions. Every error vecbench raises on purpose derives from VecbenchError.

All errors pickle and unpickle intact (worker processes send them back to the parent),
whatever arguments a subclass's constructor takes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def _restore(cls: type[BaseException], args: tuple[Any, ...], state: dict[str, Any]) -> BaseException:
    err = cls.__new__(cls)
    Exception.__init__(err, *args)
    err.__dict__.update(state)
    return err


class VecbenchError(Exception):
    """Base class of every vecbench error. The CLI prints it as one line, exit code 2."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (type(self), self.args, self.__dict__))


class ConfigError(VecbenchError, ValueError):
    """A configuration value, file or argument is wrong."""


class UnknownNameError(ConfigError):
    """A name (store, metric, dataset, index type, ...) that is not one of the valid ones."""

    def __init__(self, kind: str, name: object, valid: Iterable[str]) -> None:
        self.kind = kind
        self.name = name
        self.valid = sorted(valid)
        shown = ", ".join(self.valid) if self.valid else "(none)"
        super().__init__(f"unknown {kind} {name!r}; valid: {shown}")


class InvalidParameterError(ConfigError):
    """A parameter a store's index or search does not know, or a bad value for one."""


class DimensionMismatchError(VecbenchError, ValueError):
    """Vectors whose dimension differs from the collection's or dataset's."""


class InvalidVectorError(VecbenchError, ValueError):
    """Vectors containing NaN or inf, or of the wrong shape or dtype."""


class DuplicateIdError(VecbenchError, ValueError):
    """The same id more than once in one batch."""


class DatasetError(VecbenchError):
    """A data set that cannot be read: missing, unreadable, incomplete or empty."""


class EmptyDatasetError(DatasetError):
    """A data set with no base vectors or no queries."""


class ChecksumMismatchError(DatasetError):
    """A downloaded or cached file whose digest (sha256 or md5) is not the manifest's."""


class ResultsFormatError(VecbenchError):
    """A results file that is not vecbench's, or of an unknown schema version."""


class MissingDependencyError(VecbenchError, ImportError):
    """An optional client library that is not installed; the message says which extra installs it."""

    def __init__(self, package: str, extra: str) -> None:
        self.package = package
        self.extra = extra
        super().__init__(f"{package} is not installed; pip install 'vecbench[{extra}]'")


class StoreError(VecbenchError):
    """A store failed: unreachable, refused an operation, or returned something unusable."""


class CollectionExistsError(StoreError):
    """create() on a collection that already exists, without drop_old."""


class NotReadyError(StoreError, TimeoutError):
    """wait_ready() ran past its timeout."""


class CapabilityError(StoreError):
    """The store cannot do what was asked (say, share its collection with another process)."""


class NodeLostError(VecbenchError):
    """A cell's task or a load actor was lost on a cluster (its node died, its worker crashed)."""
