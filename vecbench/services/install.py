"""``python -m vecbench.services.install NAME...``: fetch and unpack the engines that come from
Maven Central (elasticsearch, opensearch) with the machine's mvn; ``scripts/install-engines.sh``
calls it. Idempotent: an installed engine is left alone, a second run downloads nothing.
"""

from __future__ import annotations

import sys

from vecbench.errors import VecbenchError
from vecbench.services._dist import Distribution, install
from vecbench.services.elasticsearch import DISTRIBUTION as ELASTICSEARCH
from vecbench.services.opensearch import DISTRIBUTION as OPENSEARCH

DISTRIBUTIONS: dict[str, Distribution] = {d.name: d for d in (ELASTICSEARCH, OPENSEARCH)}


def _note(msg: str) -> None:
    print(f"install: {msg}", file=sys.stderr, flush=True)


def main(argv: list[str]) -> int:
    unknown = [n for n in argv if n not in DISTRIBUTIONS]
    if not argv or unknown:
        _note(
            f"usage: python -m vecbench.services.install {' | '.join(DISTRIBUTIONS)}... (unknown: {unknown})"
        )
        return 2
    try:
        for name in argv:
            home = install(DISTRIBUTIONS[name], _note)
            _note(f"{name}: ready in {home}")
    except VecbenchError as exc:
        _note(f"error: {exc}")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
