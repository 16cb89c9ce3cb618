#!/usr/bin/env bash
# Sets everything up, starts the local cloud and opens the course in JupyterLab.
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup.sh
.venv/bin/kurs sky start
echo "Åpner kurset i JupyterLab. Stopp med Ctrl-C (den lokale skyen stopper du med «.venv/bin/kurs sky stop»)."
exec .venv/bin/jupyter lab notebooks/00-velkommen.ipynb "$@"
