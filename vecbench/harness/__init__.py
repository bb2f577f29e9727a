"""The vector harness: build one index on one data set, run its search grid, record cells.

``run_index`` (``vecbench.harness.vector``) drives one ``IndexSetting``; the build phase is
in ``vecbench.harness.build``, the timed passes and their scoring in
``vecbench.harness.measure`` (the measuring core that the retrieval harness and the pytest
plugin call too), the records of an index setting in ``vecbench.harness.cells``. What every
cell of a run shares is a ``vecbench.config.Settings``.
"""

from vecbench.harness.build import build_collection, collection_name
from vecbench.harness.cells import CellResult, IndexSetting
from vecbench.harness.measure import timed_serial_search
from vecbench.harness.vector import run_index

__all__ = [
    "CellResult",
    "IndexSetting",
    "run_index",
    "timed_serial_search",
    "collection_name",
    "build_collection",
]
