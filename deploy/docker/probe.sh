#!/bin/bash
# Health probe without curl or wget: GET http://127.0.0.1:PORT/PATH, exit 0
# on HTTP 200. Used by docker-compose healthchecks and by the chart's exec
# probes for services whose health server listens on 127.0.0.1 only.
#   millrace-probe 8081 /readyz
set -u
port="${1:?usage: millrace-probe PORT [PATH]}"
path="${2:-/healthz}"
exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$path" >&3
IFS= read -r -t "${PROBE_TIMEOUT_SECONDS:-4}" status <&3 || exit 1
exec 3<&-
case "$status" in
  "HTTP/1."[01]" 200 "*) exit 0 ;;
  *) echo "${status%$'\r'}" >&2; exit 1 ;;
esac
