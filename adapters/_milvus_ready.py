"""The waits of ``MilvusStore.wait_ready``: every index built, the collection loaded, every
flushed segment served as a sealed segment. Each takes ``call`` (the store's guarded
``MilvusClient`` call) and a ``Deadline``, and raises NotReadyError when it runs out."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from vecbench.errors import NotReadyError

from ._milvus_support import Deadline, index_done, state_name

Call = Callable[..., Any]


def wait_indexed(
    call: Call, name: str, index_names: Sequence[str], deadline: Deadline, timeout_s: float
) -> None:
    """Poll ``describe_index`` of each index (the vector index first, then the scalar ones)
    until all its rows are indexed: the state reads ``Finished`` even for a failed build."""
    for index in index_names:
        progress = call("describe_index", name, index)
        while not index_done(progress):
            if not deadline.wait():
                raise NotReadyError(
                    f"Milvus index {index!r} ({progress.get('index_type', '?')}) on {name!r} not built "
                    f"after {timeout_s:g} s: {progress['indexed_rows']} of {progress['total_rows']} rows "
                    f"indexed, {progress['pending_index_rows']} pending (the server log says why a build fails)"
                )
            progress = call("describe_index", name, index)


def load(call: Call, name: str, deadline: Deadline) -> None:
    call("load_collection", name, _async=True)
    while state_name(call("get_load_state", name)["state"]) != "Loaded":
        if not deadline.wait():
            raise NotReadyError(f"Milvus collection {name!r} not loaded before the deadline")


def check_loaded_segments(call: Call, name: str, deadline: Deadline) -> int:
    """Wait until every flushed segment is loaded as a sealed segment; return how many."""
    while True:
        flushed = {s.segment_id for s in call("list_persistent_segments", name)}
        loaded = call("list_loaded_segments", name)
        sealed = {s.segment_id for s in loaded if state_name(s.state) == "Sealed"}
        if flushed <= sealed:
            return len(flushed)
        if not deadline.wait():
            raise NotReadyError(
                f"Milvus collection {name!r}: flushed segments {sorted(flushed - sealed)} not "
                "loaded as sealed segments before the deadline"
            )
