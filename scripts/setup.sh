#!/usr/bin/env bash
# Creates .venv (if absent) and installs vecbench into it, editable, with the extras given
# as arguments (default: faiss). Idempotent and offline when nothing changed: a stamp in
# .venv records pyproject.toml's hash, the extras and the torch pin of the last install that
# succeeded, and a rerun with the same three touches no package index (pip would otherwise
# fetch the build backend again to rebuild the editable wheel). Remove .venv/.vecbench-setup
# (or set VECBENCH_SETUP_FORCE=1) to reinstall anyway.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${*:-faiss}"
extras="${extras// /,}"
py="${PYTHON:-python3}"
if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
  echo "vecbench needs Python >= 3.10 ($py is $("$py" --version 2>&1))" >&2
  exit 2
fi
if [ ! -x .venv/bin/python ]; then
  "$py" -m venv .venv || { echo "python3 -m venv failed: on Debian, apt-get install python3-venv" >&2; exit 2; }
  .venv/bin/python -m pip install --quiet --upgrade pip
fi
torch_pin="${VECBENCH_TORCH_VERSION:-2.13.0}"
stamp=.venv/.vecbench-setup
want="pyproject=$(sha256sum pyproject.toml | cut -c1-16) extras=$(tr ',' '\n' <<<"$extras" | sort -u | paste -sd, -) torch=$torch_pin"
have="$(cat "$stamp" 2>/dev/null || true)"
case "$have" in
  # An install with the test or all extra holds every other extra too.
  *" extras=all torch=$torch_pin"|*" extras=test torch=$torch_pin")
    [ "${have%% *}" = "${want%% *}" ] && have="$want" ;;
esac
if [ "${VECBENCH_SETUP_FORCE:-0}" != 1 ] && [ "$have" = "$want" ] \
   && .venv/bin/python -c "import vecbench" 2>/dev/null; then
  echo "setup: .venv is up to date ($want)" >&2
  exit 0
fi
rm -f "$stamp"
case ",${extras}," in
  *,test,*|*,embed,*|*,all,*)
    # sentence-transformers needs torch. The pin keeps every machine on one version; PyPI's
    # default Linux wheel (several GB with its CUDA libraries) runs on the CPU here, and pip's
    # cache makes a second venv on the same machine download nothing.
    .venv/bin/python -m pip install --quiet --disable-pip-version-check "torch==$torch_pin" ;;
esac
# setuptools warns on every editable install of a package-dir mapping ("folders in your
# working directory with the same name as your package"): adapters/ and datasets/ are
# mapped into vecbench on purpose (pyproject.toml), so the warning is kept off the terminal.
PYTHONWARNINGS=ignore .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[${extras}]"
echo "$want" > "$stamp"
