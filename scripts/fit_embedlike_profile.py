"""Fit the ``minilm`` embedlike profile: MiniLM vectors of the packaged Cranfield passages.

    .venv/bin/python scripts/fit_embedlike_profile.py            # writes the packaged profile
    .venv/bin/python scripts/fit_embedlike_profile.py --out /tmp/p.npz --clusters 32

Offline: the corpus and the model ship with vecbench (``vecbench[embed]``); the embeddings
are cached under $VECBENCH_CACHE/embedlike/. Run it again only to change the fit: the
profile it writes is what ``load("embedlike:minilm")`` samples from.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from vecbench.datasets.embedlike import PROFILES
from vecbench.datasets.embedlike_fit import calibrate_topics, fit_profile, save_profile
from vecbench.datasets.embedlike_real import CHUNK_CHARS, cranfield_minilm

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "vecbench" / "datasets" / "profiles" / PROFILES["minilm"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--clusters", type=int, default=64)
    parser.add_argument("--rank", type=int, default=32)
    parser.add_argument("--shrink", type=float, default=32.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    t0 = time.perf_counter()
    passages, queries = cranfield_minilm()
    print(
        f"real vectors: {passages.shape[0]} passages x {passages.shape[1]} ({time.perf_counter() - t0:.1f} s)"
    )
    meta = {
        "model": "all-MiniLM-L6-v2 (packaged, normalized)",
        "corpus": f"cranfield (packaged), recursive chunks of {CHUNK_CHARS} chars, no overlap",
        "fit": f"clusters={args.clusters} rank={args.rank} shrink={args.shrink} seed={args.seed}",
    }
    profile = fit_profile(
        passages, clusters=args.clusters, rank=args.rank, shrink=args.shrink, seed=args.seed, meta=meta
    )
    profile = calibrate_topics(profile, passages, seed=args.seed)
    print(f"calibrated: topics={int(profile['topics'])} local_frac={float(profile['local_frac'])}")
    save_profile(args.out, profile)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e3:.0f} kB) in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
