"""Moved to ``vecbench.analysis.compare``; this import path stays for code written against it."""

from vecbench.analysis.compare import *  # noqa: F403
from vecbench.analysis.compare import __all__  # noqa: F401
