// Local load check for the gateway's hot path: N concurrent clients each
// submit a predict job and poll it to a terminal state, against a gateway on
// this machine (loopback only), for a bounded time. An in-process stand-in
// for the status service answers the gateway's reads with every task finished
// (nothing runs the jobs), so the number measured is the gateway's own cost
// (auth, validation, the PENDING row in Postgres, JetStream publish, GetTasks,
// logging).
//
//   tsx services/gateway/scripts/load.ts [clients=64] [seconds=10]
//
// It starts the gateway as a child process (src/main.ts) with a fresh
// namespace and database, prints jobs/s and submit latency percentiles, then
// removes what it created.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { SignJWT } from "jose";
import { StatusServiceService, Task, TaskState } from "@millrace/contracts";
import { Topology, connectNats, destroyTopology, dropDatabase, grpc, startGrpcServer, unary } from "@millrace/runtime";

const clients = Number(process.argv[2] ?? 64);
const seconds = Number(process.argv[3] ?? 10);
const ns = `load${randomBytes(3).toString("hex")}`;
const dbUrl = `postgres://postgres@127.0.0.1:5432/${ns}`;
const secret = "load-test-secret-0123456789abcdef";

const server = new grpc.Server();
// Every task the gateway asks about is finished: its row was written by the
// gateway itself, and nothing here runs the job.
const finished = (tenant: string, taskId: string) => {
  const now = Date.now();
  return Task.fromPartial({ taskId, tenant, kind: "predict", queue: "default", state: TaskState.SUCCESS, resultJson: Buffer.from('{"predictions":[1]}'), attempts: 1, createdAtMs: now, startedAtMs: now, finishedAtMs: now });
};
server.addService(StatusServiceService, {
  getTask: unary(async (req: { tenant: string; taskId: string }) => finished(req.tenant, req.taskId)),
  getTasks: unary(async (req: { requests: { tenant: string; taskId: string }[] }) => ({ results: req.requests.map((r) => ({ task: finished(r.tenant, r.taskId) })) })),
  ping: unary(async () => ({ service: "load" })),
} as unknown as grpc.UntypedServiceImplementation);
const port = await startGrpcServer(server, "127.0.0.1:0");

const gw = spawn(process.execPath, [...(process.env.CPU_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.CPU_PROF}`] : []), "--import", "tsx", new URL("../src/main.ts", import.meta.url).pathname], {
  env: {
    ...process.env,
    PORT: "18089",
    HOST: "127.0.0.1",
    JWT_SECRET: secret,
    MILLRACE_NAMESPACE: ns,
    DATABASE_URL: dbUrl,
    STATUS_GRPC_ADDR: `127.0.0.1:${port}`,
    LOG_LEVEL: process.env.LOG_LEVEL ?? "info",
  },
  stdio: ["ignore", process.env.LOG_LEVEL === "silent" ? "ignore" : "inherit", "inherit"],
});
// Never leave the gateway running, whatever happens below.
process.on("exit", () => gw.kill("SIGTERM"));
const base = "http://127.0.0.1:18089";
try {
for (let i = 0; ; i++) {
  if (i > 200) throw new Error("gateway did not start");
  try {
    if ((await fetch(`${base}/healthz`)).ok) break;
  } catch {
    /* not yet */
  }
  await new Promise((r) => setTimeout(r, 100));
}

const bearer = await new SignJWT({ tenant: "load" }).setProtectedHeader({ alg: "HS256" }).setExpirationTime("1h").sign(new TextEncoder().encode(secret));
const headers = { authorization: `Bearer ${bearer}`, "content-type": "application/json" };
const body = JSON.stringify({ model: "m", instances: [{ x: 1, y: "a" }] });
const submitMs: number[] = [];
let done = 0;
let polls = 0;
const end = Date.now() + seconds * 1000;

async function client(): Promise<void> {
  while (Date.now() < end) {
    const t0 = performance.now();
    const r = await fetch(`${base}/v1/predict/async`, { method: "POST", headers, body });
    submitMs.push(performance.now() - t0);
    if (r.status !== 202) throw new Error(`submit answered ${r.status}: ${await r.text()}`);
    const { task_id } = (await r.json()) as { task_id: string };
    for (;;) {
      polls++;
      const s = (await (await fetch(`${base}/v1/tasks/${task_id}`, { headers })).json()) as { state: string };
      if (s.state === "SUCCESS" || s.state === "FAILURE") break;
    }
    done++;
  }
}
// CPU the gateway process spent (user + system), from /proc: a figure that
// holds even when other work shares the machine.
const { readFileSync } = await import("node:fs");
const cpuMs = (): number => {
  const f = readFileSync(`/proc/${gw.pid}/stat`, "utf8").split(") ")[1].split(" ");
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
};
const cpu0 = cpuMs();
const started = Date.now();
await Promise.all(Array.from({ length: clients }, client));
const secs = (Date.now() - started) / 1000;
const gatewayCpuMs = cpuMs() - cpu0;
submitMs.sort((a, b) => a - b);
const pct = (p: number) => submitMs[Math.min(submitMs.length - 1, Math.floor(p * submitMs.length))].toFixed(1);
console.log(JSON.stringify({ clients, seconds: secs, jobs_per_s: Math.round(done / secs), polls_per_job: +(polls / done).toFixed(2), submit_p50_ms: pct(0.5), submit_p99_ms: pct(0.99), gateway_cpu_ms_per_job: +(gatewayCpuMs / done).toFixed(3), gateway_max_jobs_per_cpu_s: Math.round((done / gatewayCpuMs) * 1000) }));
} finally {
  if (gw.exitCode === null) {
    gw.kill("SIGTERM");
    await new Promise((r) => gw.once("exit", r));
  }
  server.forceShutdown();
  const nc = await connectNats({ url: "nats://127.0.0.1:4222", name: "load-cleanup" });
  await destroyTopology(nc, new Topology(ns));
  await nc.close();
  await dropDatabase(dbUrl);
}
