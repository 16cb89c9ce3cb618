#!/usr/bin/env bash
# The broker's real-client tests (tests/integration) also drive Debian's mosquitto_pub and mosquitto_sub.
set -euo pipefail
if ! command -v mosquitto_pub >/dev/null 2>&1 || ! command -v mosquitto_sub >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installerer mosquitto-clients for megler-testene …"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto-clients >/dev/null) || exit 1
  else
    echo "mosquitto_pub/mosquitto_sub mangler, og jeg kan ikke installere dem her (trenger root og apt-get)."
    exit 1
  fi
fi
