#!/usr/bin/env bash
# Make .venv with everything the course needs; the work is in scripts/bootstrap.py (also for Windows).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=$(command -v python3 || command -v python) || { echo "Fant ikke Python. Installer Python 3.11 eller nyere." >&2; exit 1; }
exec "$PY" scripts/bootstrap.py setup
