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

from vecbench.results.io import ResultsWriter, completed_cells, read_results
from vecbench.results.records import cell_id, make_record, public_config
from vecbench.results.schema import (
    KINDS,
    MEASURED,
    RAG_MEASURED,
    RAG_RECORD_KEYS,
    READABLE_VERSIONS,
    RECORD_KEYS,
    SCHEMA,
    SCHEMA_VERSION,
    upgrade_record,
    validate_record,
)
from vecbench.results.sidecar import read_sidecar, write_sidecar

__all__ = [
    "SCHEMA",
    "SCHEMA_VERSION",
    "READABLE_VERSIONS",
    "RECORD_KEYS",
    "RAG_RECORD_KEYS",
    "MEASURED",
    "RAG_MEASURED",
    "KINDS",
    "cell_id",
    "public_config",
    "make_record",
    "validate_record",
    "upgrade_record",
    "ResultsWriter",
    "read_results",
    "completed_cells",
    "write_sidecar",
    "read_sidecar",
]
