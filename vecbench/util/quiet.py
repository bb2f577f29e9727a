"""Keep third-party progress bars, advisory warnings and log chatter off the user's terminal.

The command line calls ``quiet_third_party()`` before a command runs: vecbench draws its own
progress (``vecbench.util.progress``), and a tqdm bar from a model loader or a library's
deprecation warning in the middle of it tells the user nothing they can act on. With
``--debug`` (``debug=True``) everything shows as usual. Library users are left alone:
``import vecbench`` changes nothing.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings

__all__ = ["quiet_third_party", "QUIET_ENV"]

# Read by the libraries themselves (in this process and in worker processes, which inherit
# the environment); a value the user set is kept.
QUIET_ENV = {
    "TQDM_DISABLE": "1",  # every tqdm bar (tqdm >= 4.66 reads TQDM_* as defaults)
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",  # huggingface_hub's own switch (and transformers')
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
    "TOKENIZERS_PARALLELISM": "false",  # else a warning each time a worker process forks
}


def quiet_third_party(debug: bool = False) -> None:
    """Silence third-party bars and warnings for this process and its children (not with
    ``debug``). vecbench's own warnings (from ``vecbench.*`` modules) still show."""
    if debug:
        return
    for name, value in QUIET_ENV.items():
        os.environ.setdefault(name, value)
    _disable_loaded_bars()
    warnings.filterwarnings("ignore")
    warnings.filterwarnings("default", module=r"vecbench(\.|$)")
    # Libraries log through the root logger's last-resort handler (WARNING and up) when the
    # application configures none: keep their errors, drop their warnings.
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setLevel(logging.ERROR)
        handler.setFormatter(logging.Formatter("%(name)s: %(levelname)s: %(message)s"))
        root.addHandler(handler)


def _disable_loaded_bars() -> None:
    """Libraries imported before the environment was set read it at import time: tell them."""
    hub = sys.modules.get("huggingface_hub.utils")
    if hub is not None and hasattr(hub, "disable_progress_bars"):
        hub.disable_progress_bars()
    tf_logging = sys.modules.get("transformers.utils.logging")
    if tf_logging is not None and hasattr(tf_logging, "disable_progress_bar"):
        tf_logging.disable_progress_bar()
        tf_logging.set_verbosity_error()
