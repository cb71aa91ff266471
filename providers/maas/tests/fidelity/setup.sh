#!/usr/bin/env bash
# Creates (idempotently) the Python virtual environment holding python-libmaas, the real
# third-party MAAS client the fidelity test runs against brick's MAAS simulator.
#
# The venv lives outside the repository, under a cache directory:
#   ${BRICK_FIDELITY_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/brick/maas-fidelity-venv}
# The Rust test `libmaas_fidelity` looks there and skips with a message when it is absent.
set -euo pipefail

VENV="${BRICK_FIDELITY_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/brick/maas-fidelity-venv}"
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
LIBMAAS_VERSION="0.6.8"

if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import maas.client, sys; import importlib.metadata as m; sys.exit(0 if m.version('python-libmaas') == '$LIBMAAS_VERSION' else 1)" 2>/dev/null; then
    echo "python-libmaas $LIBMAAS_VERSION already installed in $VENV"
    exit 0
fi

mkdir -p "$(dirname "$VENV")"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet "python-libmaas==$LIBMAAS_VERSION"
"$VENV/bin/python" -c "import maas.client; print('python-libmaas installed in $VENV')"
