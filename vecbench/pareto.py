"""Moved to ``vecbench.analysis.pareto``; this import path stays for code written against it."""

from vecbench.analysis.pareto import *  # noqa: F403
from vecbench.analysis.pareto import __all__  # noqa: F401
