"""Moved to ``vecbench.measures.cost``; this import path stays for code written against it."""

from vecbench.measures.cost import *  # noqa: F403
from vecbench.measures.cost import __all__  # noqa: F401
