#!/usr/bin/env bash
# One gate: generated code is current, types check, then every test runs
# against the real nats-server and Postgres.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== contracts: regenerate and check nothing changed"
pnpm gen >/dev/null
if ! git diff --quiet -- packages/contracts/src/gen 2>/dev/null; then
  echo "generated code in packages/contracts/src/gen is stale: run 'pnpm gen' and commit" >&2
  git diff --stat -- packages/contracts/src/gen >&2
  exit 1
fi
echo "== typecheck"
pnpm exec tsc -p tsconfig.json --noEmit
echo "== tests"
pnpm exec vitest run "$@"
