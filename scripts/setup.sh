#!/usr/bin/env bash
# Creates .venv (if absent) and installs vecbench into it, editable, with the extras given
# as arguments (default: faiss). Idempotent: rerunning only installs what changed.
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
case ",${extras}," in
  *,test,*|*,embed,*|*,all,*)
    # sentence-transformers needs torch: take the CPU build pinned here (on this project's
    # machines it lies on disk; an unpinned torch would pull a multi-GB CUDA build).
    .venv/bin/python -m pip install --quiet --disable-pip-version-check "torch==${VECBENCH_TORCH_VERSION:-2.13.0}" ;;
esac
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[${extras}]"
