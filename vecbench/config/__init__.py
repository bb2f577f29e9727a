"""Run configuration: the YAML/mapping a user writes (``RunConfig``), its grid parts, and the
measurement ``Settings`` every cell of a run shares."""

from vecbench.config import run, settings
from vecbench.config.run import *  # noqa: F403
from vecbench.config.run import TOP_LEVEL_KEYS, parse_load
from vecbench.config.settings import *  # noqa: F403

__all__ = [*run.__all__, *settings.__all__, "parse_load", "TOP_LEVEL_KEYS"]
