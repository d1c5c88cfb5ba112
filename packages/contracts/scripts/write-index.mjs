// Writes src/gen/index.ts: explicit named exports of every generated symbol.
import { readFileSync, writeFileSync, readdirSync } from "node:fs";
const dir = new URL("../src/gen/millrace/v1/", import.meta.url);
const lines = ["// Code generated from proto/ by `pnpm gen`. DO NOT EDIT.", ""];
for (const file of readdirSync(dir).filter((f) => f.endsWith(".ts")).sort()) {
  const src = readFileSync(new URL(file, dir), "utf8");
  const values = new Set();
  const types = new Set();
  for (const m of src.matchAll(/^export (const|interface|enum|function|type) ([A-Za-z0-9_]+)/gm)) {
    (m[1] === "interface" || m[1] === "type" ? types : values).add(m[2]);
  }
  for (const t of [...types]) if (values.has(t)) types.delete(t);
  const mod = `./millrace/v1/${file.replace(/\.ts$/, "")}`;
  if (values.size) lines.push(`export { ${[...values].sort().join(", ")} } from "${mod}";`);
  if (types.size) lines.push(`export type { ${[...types].sort().join(", ")} } from "${mod}";`);
}
lines.push(`export { Struct, ListValue, Value } from "./google/protobuf/struct";`);
writeFileSync(new URL("../src/gen/index.ts", import.meta.url), lines.join("\n") + "\n");
