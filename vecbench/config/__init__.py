"""Run configuration: the YAML/mapping a user writes (``RunConfig``), its grid parts, and the
measurement ``Settings`` every cell of a run shares."""

from vecbench.config.parse import DatasetEntry, IndexGrid, StoreEntry, expand_grid
from vecbench.config.run import (
    TOP_LEVEL_KEYS,
    RunConfig,
    default_config,
    default_config_dict,
    load_config_dict,
    parse_load,
)
from vecbench.config.settings import SETTINGS_KEYS, Settings

__all__ = [
    "RunConfig",
    "Settings",
    "SETTINGS_KEYS",
    "DatasetEntry",
    "StoreEntry",
    "IndexGrid",
    "expand_grid",
    "load_config_dict",
    "default_config_dict",
    "default_config",
    "parse_load",
    "TOP_LEVEL_KEYS",
]
