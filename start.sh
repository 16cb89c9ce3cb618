#!/usr/bin/env bash
# Sets everything up, starts the local cloud and opens the course in JupyterLab (scripts/bootstrap.py;
# on Windows: py scripts\bootstrap.py start).
set -euo pipefail
cd "$(dirname "$0")"
PY=$(command -v python3 || command -v python) || { echo "Fant ikke Python. Installer Python 3.11 eller nyere." >&2; exit 1; }
exec "$PY" scripts/bootstrap.py start "$@"
