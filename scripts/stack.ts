// Brings the whole Millrace stack up in one terminal: NATS (started when none
// answers and nats-server is on the PATH), Postgres (the local one, else an
// embedded PGlite), then the five services as separate processes with their
// logs prefixed. `--demo` then drives upload → train → predict through the
// API and prints what happened, leaving the stack running. A process that
// dies is started again (supervisor.ts); one that keeps dying stops the stack.
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { freePort, reachable, signHs256Token } from "@millrace/runtime";
import { serveEmbeddedPostgres } from "./embedded-postgres";
import { DEV_RESTARTS, Supervised } from "./supervisor";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const env = { ...process.env };
const demo = process.argv.includes("--demo");
const COLORS = ["\x1b[36m", "\x1b[35m", "\x1b[33m", "\x1b[32m", "\x1b[34m", "\x1b[31m"];
const children: Supervised[] = [];

async function until(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 150));
  }
  return false;
}

/** Writes a line of `name`'s, prefixed by the name in its colour: the service's own logs and the runner's notes on it alike. */
function lineOf(name: string, color: string): (line: string) => void {
  const prefix = `${color}${name.padEnd(9)}\x1b[0m| `;
  return (line) => process.stdout.write(prefix + line + "\n");
}

function pipeLogs(child: ChildProcess, write: (line: string) => void): void {
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on("line", write);
  }
}

function run(name: string, cmd: string, args: string[], extraEnv: Record<string, string>, color: string): Supervised {
  const say = lineOf(name, color);
  const s = new Supervised(cmd, args, { cwd: root, env: { ...env, ...extraEnv }, stdio: ["ignore", "pipe", "pipe"] }, {
    started(child, restarts) {
      pipeLogs(child, say);
      say(restarts === 0 ? `started (pid ${child.pid})` : `restarted (pid ${child.pid}, restart ${restarts})`);
    },
    exited(exit, d) {
      if (shuttingDown) return;
      if (d.restart) say(`exited (${exit}); restarting in ${d.delayMs} ms (${d.restartsInWindow} restarts in the last minute)`);
    },
    gaveUp(exit) {
      if (shuttingDown) return;
      say(`exited (${exit}) after ${DEV_RESTARTS.maxRestarts} restarts within a minute; stopping the stack`);
      void shutdown(1);
    },
  });
  s.start();
  children.push(s);
  return s;
}

let shuttingDown = false;
let stopEmbedded: (() => Promise<void>) | undefined;
async function shutdown(code: number): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  await Promise.all(children.slice().reverse().map((c) => c.stop("SIGTERM")));
  await stopEmbedded?.();
  process.exit(code);
}
process.on("SIGINT", () => void shutdown(0));
process.on("SIGTERM", () => void shutdown(0));

async function ensureNats(): Promise<string> {
  const url = env.NATS_URL ?? "nats://127.0.0.1:4222";
  const u = new URL(url.replace(/^nats:/, "http:"));
  if (await reachable(u.hostname, Number(u.port || 4222))) return url;
  const dir = join(root, ".data", "nats");
  mkdirSync(dir, { recursive: true });
  console.log(`no NATS at ${url}; starting nats-server with JetStream in ${dir}`);
  run("nats", "nats-server", ["-a", u.hostname, "-p", String(u.port || 4222), "-js", "-sd", dir, "-m", "8222"], {}, COLORS[5]);
  if (!(await until(() => reachable(u.hostname, Number(u.port || 4222)), 10_000))) throw new Error("nats-server did not start; install it or set NATS_URL");
  return url;
}

async function ensurePostgres(): Promise<string> {
  if (env.DATABASE_URL) return env.DATABASE_URL;
  if (await reachable("127.0.0.1", 5432)) return "postgres://postgres@127.0.0.1:5432/millrace";
  // No local Postgres: serve an embedded PGlite to `pg` over a local socket.
  const dir = join(root, ".data", "pglite");
  mkdirSync(dir, { recursive: true });
  const embedded = await serveEmbeddedPostgres(dir);
  stopEmbedded = embedded.stop;
  console.log(`no Postgres on 127.0.0.1:5432; serving embedded PGlite (${dir}) at ${embedded.url}`);
  return embedded.url;
}

function devToken(secret: string, tenant: string): string {
  return signHs256Token(secret, { sub: tenant, tenant, exp: Math.floor(Date.now() / 1000) + 7 * 24 * 3600 });
}

async function main(): Promise<void> {
  const natsUrl = await ensureNats();
  const databaseUrl = await ensurePostgres();
  const port = Number(env.PORT ?? 8080);
  const jwtSecret = env.JWT_SECRET ?? "dev-secret-change-me";
  const [statusGrpc, predictorGrpc, schedulerGrpc, h1, h2, h3, h4] = await Promise.all(Array.from({ length: 7 }, freePort));
  const common = {
    NATS_URL: natsUrl,
    DATABASE_URL: databaseUrl,
    JWT_SECRET: jwtSecret,
    // A fresh secret per run for the services' gRPC calls to one another (service-token.ts).
    GRPC_SERVICE_TOKEN: env.GRPC_SERVICE_TOKEN ?? randomBytes(16).toString("hex"),
    LOG_LEVEL: env.LOG_LEVEL ?? "info",
    STATUS_GRPC_ADDR: `127.0.0.1:${statusGrpc}`,
    PREDICTOR_GRPC_ADDR: `127.0.0.1:${predictorGrpc}`,
    SCHEDULER_GRPC_ADDR: `127.0.0.1:${schedulerGrpc}`,
  };
  // node --import tsx keeps each service one process (signals reach it directly).
  const svc = (name: string, extra: Record<string, string>, color: string) => run(name, process.execPath, ["--import", "tsx", join(root, "services", name, "src", "main.ts")], { ...common, ...extra }, color);
  // Status first: the others call it.
  svc("status", { STATUS_LISTEN: `127.0.0.1:${statusGrpc}`, HEALTH_PORT: String(h1) }, COLORS[0]);
  if (!(await until(() => reachable("127.0.0.1", statusGrpc), 60_000))) throw new Error("status service did not start");
  svc("predictor", { PREDICTOR_LISTEN: `127.0.0.1:${predictorGrpc}`, HEALTH_PORT: String(h2) }, COLORS[1]);
  svc("trainer", { HEALTH_PORT: String(h3) }, COLORS[2]);
  svc("scheduler", { HEALTH_PORT: String(h4) }, COLORS[3]);
  svc("gateway", { PORT: String(port) }, COLORS[4]);
  const ready = await until(async () => {
    try {
      return (await fetch(`http://127.0.0.1:${port}/readyz`)).ok;
    } catch {
      return false;
    }
  }, 90_000);
  if (!ready) throw new Error("gateway did not become ready");
  const token = devToken(jwtSecret, "demo");
  console.log(`\nMillrace is up: API at http://127.0.0.1:${port}/v1  (health: /healthz, /readyz)`);
  console.log(`dev token for tenant "demo" (JWT_SECRET=${env.JWT_SECRET ? "<from env>" : jwtSecret}):\n  export TOKEN=${token}\n`);
  if (demo) await runDemo(`http://127.0.0.1:${port}`, token);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
const getJson = async (r: Response): Promise<Json> => r.json();

async function runDemo(base: string, token: string): Promise<void> {
  const auth = { authorization: `Bearer ${token}` };
  const rows = ["sqft,rooms,age,price"];
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let i = 0; i < 300; i++) {
    const sqft = 500 + Math.round(rand() * 2500);
    const rooms = 1 + Math.floor(rand() * 5);
    const age = Math.floor(rand() * 50);
    rows.push(`${sqft},${rooms},${age},${Math.round(50_000 + 120 * sqft + 8_000 * rooms - 600 * age + (rand() - 0.5) * 20_000)}`);
  }
  const step = (s: string) => console.log(`\x1b[1mdemo\x1b[0m ▸ ${s}`);
  const ds = await getJson(await fetch(`${base}/v1/datasets?name=houses`, { method: "POST", headers: { ...auth, "content-type": "text/csv" }, body: rows.join("\n") }));
  step(`uploaded dataset ${ds.dataset_id}: ${ds.rows} rows, columns ${JSON.stringify(ds.columns)}`);
  const t = await getJson(await fetch(`${base}/v1/train`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ dataset_id: ds.dataset_id, target: "price", model: { type: "linear_regression" }, name: "houses" }) }));
  step(`training task ${t.task_id} accepted (${t.state})`);
  const done = await getJson(await fetch(`${base}/v1/tasks/${t.task_id}?wait=60`, { headers: auth }));
  step(`training ${done.state}: ${JSON.stringify(done.result?.model)} metrics ${JSON.stringify(done.result?.metrics)}`);
  const p = await getJson(await fetch(`${base}/v1/predict`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ model: "houses", instances: [{ sqft: 1500, rooms: 3, age: 10 }] }) }));
  step(`sync prediction for 1500 sqft / 3 rooms / 10 years: ${JSON.stringify(p.predictions)}`);
  // Pinned to the version just trained: a machine that ran the demo before already has earlier ones.
  const pinned = `houses@v${done.result?.model?.version ?? 1}`;
  const a = await getJson(await fetch(`${base}/v1/predict/async`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ model: pinned, instances: [{ sqft: 900, rooms: 2, age: 30 }] }) }));
  const ar = await getJson(await fetch(`${base}/v1/tasks/${a.task_id}?wait=30`, { headers: auth }));
  step(`async prediction with ${pinned}, task ${a.task_id}: ${ar.state} ${ar.state === "SUCCESS" ? JSON.stringify(ar.result?.predictions) : JSON.stringify(ar.error)}`);
  console.log(`\nthe stack keeps running; Ctrl-C stops it. Try:\n  curl -H "authorization: Bearer $TOKEN" ${base}/v1/tasks\n  kill -9 <a service's pid above>   (it is started again; queued work carries on)\n`);
  if (process.argv.includes("--exit-after-demo")) await shutdown(done.state === "SUCCESS" && ar.state === "SUCCESS" ? 0 : 1);
}

main().catch((err) => {
  console.error(`stack failed: ${err instanceof Error ? err.message : err}`);
  void shutdown(1);
});

