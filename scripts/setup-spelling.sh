#!/usr/bin/env bash
# The spelling test checks the notebooks' bokmål with hunspell and Debian's Norwegian dictionary.
set -euo pipefail
if ! command -v hunspell >/dev/null 2>&1 || [ ! -e /usr/share/hunspell/nb_NO.dic ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installerer hunspell og den norske ordboka for staveprøven …"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hunspell hunspell-no >/dev/null) || exit 1
  else
    echo "hunspell med norsk ordbok mangler, og jeg kan ikke installere det her (trenger root og apt-get)."
    exit 1
  fi
fi
