#!/usr/bin/env bash
# Set up and run the embedded default benchmark (no server needed: FAISS, embedded Chroma,
# the Qdrant engine in process), write the results and an HTML report. Extra arguments go
# to `vecbench run`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh faiss chroma qdrant report
exec .venv/bin/vecbench run "$@"
