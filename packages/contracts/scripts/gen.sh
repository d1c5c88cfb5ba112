#!/usr/bin/env bash
# Regenerates src/gen from ../../proto with buf (its own compiler, no protoc
# download) running the ts-proto plugin from this workspace's install.
set -euo pipefail
cd "$(dirname "$0")/.."
./node_modules/.bin/buf generate ../../proto --template buf.gen.yaml
# Mark every generated file so nobody edits it by hand.
for f in $(find src/gen -name '*.ts'); do
  if ! head -1 "$f" | grep -q 'DO NOT EDIT'; then
    { echo '// Code generated from proto/ by `pnpm gen`. DO NOT EDIT.'; cat "$f"; } > "$f.tmp" && mv "$f.tmp" "$f"
  fi
done
echo "generated $(find src/gen -name '*.ts' | wc -l) files in packages/contracts/src/gen"
# One public entry: list every generated name explicitly.
node scripts/write-index.mjs
