#!/usr/bin/env bash
# The browser test drives JupyterLab in Debian's Chromium through Playwright (no browser download).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installerer Chromium for nettlesertesten …"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-color-emoji >/dev/null) || exit 1
  else
    echo "Chromium mangler, og jeg kan ikke installere det her (trenger root og apt-get)."
    exit 1
  fi
fi
