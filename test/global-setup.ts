// Reaches the machine's nats-server and Postgres, starting them when they are
// not running, and hands their URLs to every test through vitest's provide().
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { reachable } from "@millrace/runtime";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";


async function until(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

let started: ChildProcess | undefined;

export default async function setup(project: TestProject) {
  const natsUrl = process.env.MILLRACE_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
  const dbUrl = process.env.MILLRACE_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
  const n = new URL(natsUrl.replace(/^nats:/, "http:"));
  let effectiveNats = natsUrl;
  if (!(await reachable(n.hostname, Number(n.port || 4222)))) {
    // Start a private JetStream server on a spare port for this run.
    const port = 14222 + Math.floor(Math.random() * 1000);
    const dir = mkdtempSync(join(tmpdir(), "millrace-nats-"));
    started = spawn("nats-server", ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", dir], { stdio: "ignore" });
    if (!(await until(() => reachable("127.0.0.1", port), 10_000))) throw new Error("could not start nats-server for tests");
    effectiveNats = `nats://127.0.0.1:${port}`;
  }
  const d = new URL(dbUrl);
  if (!(await reachable(d.hostname, Number(d.port || 5432)))) {
    spawnSync("sh", ["-c", "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"], { stdio: "inherit" });
    if (!(await until(() => reachable(d.hostname, Number(d.port || 5432)), 20_000))) throw new Error("Postgres is not reachable for tests");
  }
  project.provide("natsUrl", effectiveNats);
  project.provide("databaseUrl", dbUrl);
  return async () => {
    started?.kill("SIGTERM");
  };
}
