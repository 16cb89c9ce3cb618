#!/usr/bin/env bash
# Sets everything up and runs the whole test suite: pytest, then every notebook under nbval.
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup.sh
bash scripts/setup-browser.sh || echo "Nettlesertesten hoppes over: fant ikke Chromium (se over)."
bash scripts/setup-spelling.sh || echo "Staveprøven hoppes over: fant ikke hunspell med norsk ordbok (se over)."

# Tests and notebooks get their own state folder, so a learner's local cloud is never touched.
KURS_HOME=$(mktemp -d -t kurs-test-XXXXXX)
export KURS_HOME
cleanup() { .venv/bin/kurs sky stop >/dev/null 2>&1 || true; rm -rf "$KURS_HOME"; }
trap cleanup EXIT

.venv/bin/ruff check kurs tests benchmarks conftest.py
.venv/bin/python -m pytest tests notebooks --nbval --nbval-current-env --nbval-sanitize-with tests/nbval-sanitize.cfg \
  --nbval-cell-timeout 180 "$@"
