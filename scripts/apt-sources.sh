#!/usr/bin/env bash
# Which Debian archive this machine's apt uses: for scripts that fetch a Debian package
# privately (install-engines.sh: Debian 11's libssl1.1), so that no mirror is hard-coded.
#
#   bash scripts/apt-sources.sh       prints DEBIAN_MIRROR=URI and DEBIAN_SECURITY_MIRROR=URI
#                                     (exit 2, saying why, when no Debian archive is configured)
#   . scripts/apt-sources.sh          defines debian_mirrors and apt_debian_entries
#
# Reads $VECBENCH_APT_ETC (default /etc/apt): sources.list, then sources.list.d/*.list (one-line
# format) and *.sources (deb822) in name order, as apt does; other files there (*.save,
# *.disabled) are not apt's and are skipped. An entry counts when it is of type deb (not
# deb-src), enabled, not a cdrom, and its suite is a Debian one (bookworm, trixie-updates,
# stable, sid, ...): the first such URI is the mirror, the first *-security (or old-style
# codename/updates) URI the security archive. URIs are kept as apt wrote them, so
# mirror+file: and file: ones work in a private sources list too.
#
# DEBIAN_MIRROR overrides the mirror; DEBIAN_SECURITY_MIRROR the security archive, which
# otherwise comes from the apt sources (without DEBIAN_MIRROR) or is derived from the
# mirror: http://host/debian -> http://host/debian-security.

# One line per Debian entry, in apt's order: "main URI" or "security URI".
_APT_AWK='
function debian_suite(s,   base) {
  base = s
  sub(/[-\/].*$/, "", base)  # bookworm-security, bookworm-updates, buster/updates -> codename
  return base ~ /^(buzz|rex|bo|hamm|slink|potato|woody|sarge|etch|lenny|squeeze|wheezy|jessie|stretch|buster|bullseye|bookworm|trixie|forky|duke|sid|stable|testing|unstable|oldstable|oldoldstable|experimental)$/
}
function emit(uri, suite) {
  if (uri ~ /^cdrom:/ || !debian_suite(suite)) return
  sub(/\/+$/, "", uri)
  print ((suite ~ /-security$/ || suite ~ /\/updates$/) ? "security" : "main"), uri
}
function flush(   nt, nu, ns, t, u, s, i, j, is_deb) {
  is_deb = 0
  nt = split(field["types"], t, /[ \t]+/)
  for (i = 1; i <= nt; i++) if (t[i] == "deb") is_deb = 1
  if (is_deb && tolower(field["enabled"]) != "no") {
    nu = split(field["uris"], u, /[ \t]+/)
    ns = split(field["suites"], s, /[ \t]+/)
    for (i = 1; i <= nu; i++) for (j = 1; j <= ns; j++) if (u[i] != "" && s[j] != "") emit(u[i], s[j])
  }
  split("", field)
  key = ""
}
FORMAT == "list" {
  sub(/#.*/, "")
  if ($1 != "deb") next
  i = 2
  if ($i ~ /^\[/) {  # options: [arch=amd64 signed-by=...], possibly spread over tokens
    while (i <= NF && $i !~ /\]$/) i++
    i++
  }
  if (i + 1 <= NF) emit($i, $(i + 1))
  next
}
FORMAT == "sources" && /^#/ { next }
FORMAT == "sources" && /^[ \t]*$/ { flush(); next }
FORMAT == "sources" && /^[ \t]/ { if (key != "") field[key] = field[key] " " $0; next }  # continuation
FORMAT == "sources" {
  colon = index($0, ":")
  if (colon == 0) next
  key = tolower(substr($0, 1, colon - 1))
  field[key] = substr($0, colon + 1)
  gsub(/^[ \t]+|[ \t]+$/, "", field[key])
}
END { if (FORMAT == "sources") flush() }
'

# apt_debian_entries [ETC_DIR]: the Debian entries of the apt sources under ETC_DIR.
apt_debian_entries() {
  local etc="${1:-${VECBENCH_APT_ETC:-/etc/apt}}" f
  if [ -f "$etc/sources.list" ]; then
    awk -v FORMAT=list "$_APT_AWK" "$etc/sources.list"
  fi
  local LC_ALL=C  # apt reads the parts in byte order
  for f in "$etc"/sources.list.d/*; do
    [ -f "$f" ] || continue
    case "$f" in
      *.list) awk -v FORMAT=list "$_APT_AWK" "$f" ;;
      *.sources) awk -v FORMAT=sources "$_APT_AWK" "$f" ;;
    esac
  done
}

# debian_mirrors: prints "MIRROR SECURITY_MIRROR" on one line; status 1 and a message on
# stderr when there is no DEBIAN_MIRROR and no Debian archive in the apt sources.
debian_mirrors() {
  local etc="${VECBENCH_APT_ETC:-/etc/apt}" entries mirror security
  mirror="${DEBIAN_MIRROR:-}"
  security="${DEBIAN_SECURITY_MIRROR:-}"
  if [ -z "$mirror" ]; then
    entries="$(apt_debian_entries "$etc")" || return 1
    mirror="$(awk '$1 == "main" { print $2; exit }' <<<"$entries")"
    if [ -z "$mirror" ]; then
      echo "no Debian archive in the apt sources under $etc (sources.list, sources.list.d/*.list, *.sources);" \
        "set DEBIAN_MIRROR to a Debian mirror's URL" >&2
      return 1
    fi
    [ -n "$security" ] || security="$(awk '$1 == "security" { print $2; exit }' <<<"$entries")"
  fi
  mirror="${mirror%/}"
  [ -n "$security" ] || security="${mirror%/debian}/debian-security"
  echo "$mirror ${security%/}"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  found="$(debian_mirrors)" || { echo "apt-sources: error: see above" >&2; exit 2; }
  read -r m s <<<"$found"
  echo "DEBIAN_MIRROR=$m"
  echo "DEBIAN_SECURITY_MIRROR=$s"
fi
