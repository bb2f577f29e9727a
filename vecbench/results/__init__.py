"""Result records: one JSON Lines record per benchmark cell, plus raw-data sidecars.

``schema`` says what a record holds (and upgrades older versions), ``records`` builds one
(``make_record``, for vector and text cells alike), ``io`` writes and reads results files
atomically, ``sidecar`` keeps the raw per-query arrays, ``provenance`` and ``redact`` say
where a figure came from without leaking secrets.

    writer = ResultsWriter("out/run.jsonl")
    writer.append(record)
    records = read_results("out/run.jsonl")
    done = completed_cells("out/run.jsonl")  # cell ids to skip on --resume
"""

from vecbench.results import io, schema
from vecbench.results.io import *  # noqa: F403
from vecbench.results.records import cell_id, make_record, public_config
from vecbench.results.schema import *  # noqa: F403
from vecbench.results.sidecar import read_sidecar, write_sidecar

__all__ = [
    *schema.__all__,
    "cell_id",
    "public_config",
    "make_record",
    *io.__all__,
    "write_sidecar",
    "read_sidecar",
]
