#!/usr/bin/env bash
# Sets everything up and runs the whole test suite: ruff, pytest, then every notebook under nbval
# (scripts/bootstrap.py; on Windows: py scripts\bootstrap.py test).
set -euo pipefail
cd "$(dirname "$0")"
PY=$(command -v python3 || command -v python) || { echo "Fant ikke Python. Installer Python 3.11 eller nyere." >&2; exit 1; }
exec "$PY" scripts/bootstrap.py test "$@"
