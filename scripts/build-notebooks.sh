#!/usr/bin/env bash
# Developers: regenerate notebooks/*.ipynb from notebooks/kilde/*.py and execute them in
# local mode, so the committed notebooks carry fresh outputs. Usage: scripts/build-notebooks.sh [NN ...]
set -euo pipefail
cd "$(dirname "$0")/.."
export KURS_HOME=${KURS_HOME:-$(mktemp -d -t kurs-bygg-XXXXXX)}
trap '.venv/bin/kurs sky stop >/dev/null 2>&1 || true' EXIT
sel=("$@")
for src in notebooks/kilde/*.py; do
  base=$(basename "$src" .py)
  if [ ${#sel[@]} -gt 0 ] && [[ ! " ${sel[*]} " =~ " ${base%%-*} " ]]; then continue; fi
  echo "Bygger $base …"
  .venv/bin/jupytext --quiet --to ipynb --output "notebooks/$base.ipynb" "$src"
  (cd notebooks && ../.venv/bin/jupyter nbconvert --log-level WARN --to notebook --execute --inplace \
     --ExecutePreprocessor.timeout=300 "$base.ipynb")
done
