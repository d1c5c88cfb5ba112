#!/bin/sh
# The image's entrypoint: the first argument (or $SERVICE) names what to run.
#   gateway | status | trainer | predictor | scheduler   a Millrace service
#   topology                                             create the JetStream topology (deploy/provision-topology.ts)
# Anything else is run as a command (e.g. `sh`). `exec` replaces the shell, so
# node itself receives SIGTERM and runs its drain (onShutdown) before exiting.
set -eu
cd /app
what="${1:-${SERVICE:-}}"
case "$what" in
  gateway | status | trainer | predictor | scheduler)
    [ "$#" -gt 0 ] && shift
    exec node --import tsx "services/$what/src/main.ts" "$@"
    ;;
  topology)
    [ "$#" -gt 0 ] && shift
    exec node --import tsx deploy/provision-topology.ts "$@"
    ;;
  "")
    echo "usage: <gateway|status|trainer|predictor|scheduler|topology> (or set SERVICE)" >&2
    exit 64
    ;;
  *)
    exec "$@"
    ;;
esac
