#!/usr/bin/env bash
# Set up and run the whole test suite (what .ci/run calls). Extra arguments go to pytest.
#
# 1. .venv with vecbench[test] (every client library) and the engines that run here without
#    Docker (scripts/install-engines.sh: chroma, milvus, pgvector, redis + libssl1.1, and
#    elasticsearch, opensearch from Maven Central, which need mvn and a JDK >= 21, and
#    weaviate, built with go install once: ~3.5 min cold on 2 cores, then cached).
# 2. ruff.
# 3. The engine lifecycle and fault tests, which start (and kill) servers of their own.
# 4. Everything else, against engines started once for the run (`vecbench services up`)
#    and stopped at the end whatever happens. Set VECBENCH_TEST_SERVICES="" to start none
#    (their adapter tests then skip), or to a subset.
set -euo pipefail
cd "$(dirname "$0")/.."
# Built servers (weaviate-server) outlive a clone: a second run on this machine builds nothing.
export VECBENCH_BUILD_CACHE="${VECBENCH_BUILD_CACHE:-$HOME/.cache/vecbench/build}"
bash scripts/setup.sh test
VENV=.venv bash scripts/install-engines.sh
.venv/bin/ruff check vecbench adapters tests benchmarks
.venv/bin/ruff format --check vecbench adapters tests benchmarks

export VECBENCH_PROGRESS=0
# A temp root of this checkout's own: pytest makes /tmp/pytest-of-$USER private (0700) at the
# start of every session on the machine, which would cut the engines that run as another
# user (Elasticsearch, OpenSearch, PostgreSQL refuse root) off a test's cache mid-run.
BASETEMP="$PWD/.pytest-tmp"
pytest_run() {
  local rc=0
  .venv/bin/python -m pytest --basetemp="$BASETEMP" "$@" || rc=$?
  if [ "$rc" -eq 5 ]; then
    echo "pytest collected no tests: treated as a failure" >&2
    return 1
  fi
  return "$rc"
}

pytest_run -q tests/integration/test_services.py tests/integration/test_server_faults.py

# A cache of its own, and ports apart from the defaults, so a developer's own running
# engines are left alone (Milvus's embedded etcd always takes port 2379, though).
export VECBENCH_CACHE="${VECBENCH_TEST_CACHE:-$PWD/.test-cache}"
export VECBENCH_CHROMA_PORT=28000 VECBENCH_MILVUS_PORT=39530 VECBENCH_PGVECTOR_PORT=25432 VECBENCH_REDIS_PORT=26379
export VECBENCH_ELASTICSEARCH_PORT=29200 VECBENCH_OPENSEARCH_PORT=29210
export VECBENCH_WEAVIATE_PORT=28080 VECBENCH_WEAVIATE_GRPC_PORT=25051
services="${VECBENCH_TEST_SERVICES-chroma milvus pgvector redis elasticsearch opensearch weaviate}"
# After a failed run, the tail of every engine's log and the disk and memory left: an engine
# that stalled (a full disk, a long GC) says so there, and the clone is gone afterwards.
service_logs() {
  echo "--- engines after a failed run: disk, memory, and the last lines of each log" >&2
  df -h "$VECBENCH_CACHE" >&2 || true
  free -m >&2 || true
  for name in $services; do
    log="$VECBENCH_CACHE/services/$name/service.log"
    [ -f "$log" ] && { echo "--- $log" >&2; tail -n 15 "$log" >&2; }
  done
  return 0
}
if [ -n "$services" ]; then
  trap '.venv/bin/vecbench services down $services >&2 || true' EXIT
  # shellcheck disable=SC2086
  eval "$(.venv/bin/vecbench services up $services)"
fi
rc=0
pytest_run tests --ignore=tests/integration/test_services.py --ignore=tests/integration/test_server_faults.py "$@" || rc=$?
[ "$rc" -eq 0 ] || service_logs
exit "$rc"
