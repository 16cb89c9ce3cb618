#!/usr/bin/env bash
# Shared by start.sh and test.sh: make .venv with everything the course needs.
# Re-running is cheap: packages are reinstalled only when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {
  for cand in python3.14 python3.13 python3.12 python3.11 python3 python; do
    if command -v "$cand" >/dev/null 2>&1 &&
       "$cand" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      echo "$cand"; return 0
    fi
  done
  return 1
}

if [ ! -x .venv/bin/python ]; then
  PY=$(find_python) || { echo "Fant ikke Python 3.11 eller nyere. Installer Python 3.11+ og prøv igjen." >&2; exit 1; }
  echo "Lager et virtuelt Python-miljø i .venv med $("$PY" --version) …"
  "$PY" -m venv .venv
fi

stamp=.venv/.kurs-installert
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "Installerer pakkene kurset trenger (første gang tar det noen minutter) …"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
  # The old "quickjs" package and its successor "quickjs-ng" both install the module quickjs;
  # an environment made before the switch still has the old one, which must go.
  if .venv/bin/python -m pip show quickjs >/dev/null 2>&1; then
    .venv/bin/python -m pip uninstall --quiet -y quickjs
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps quickjs-ng
  fi
  echo "$want" > "$stamp"
fi

# JupyterLab without the "news" pop-up (settings defaults for this environment only). Its menus stay
# in English: the Norwegian language pack covers 56 strings, and a half-translated UI confuses more.
mkdir -p .venv/share/jupyter/lab/settings
cp jupyter/overrides.json .venv/share/jupyter/lab/settings/overrides.json
