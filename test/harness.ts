// Starts Millrace services as separate OS processes for end-to-end and
// failure tests, each run in its own namespace and database.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { dropDatabase, freePort, reachable, signHs256Token } from "@millrace/runtime";

export { freePort };
import { testDatabaseUrl, testNatsUrl, waitFor } from "@millrace/testkit";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export type ServiceName = "status" | "gateway" | "trainer" | "predictor" | "scheduler";


// Each token carries its own jti: without it, two tokens for one tenant signed
// in the same second were byte-identical, so revoking one revoked the other.
export function signToken(secret: string, claims: Record<string, unknown>): string {
  return signHs256Token(secret, { exp: Math.floor(Date.now() / 1000) + 3600, jti: randomUUID(), ...claims });
}

export interface Stack {
  url: string;
  ns: string;
  databaseUrl: string;
  natsUrl: string;
  token(tenant: string): string;
  env: Record<string, string>;
  procs: Map<string, ChildProcess>;
  logs: Map<string, string[]>;
  start(name: ServiceName, extraEnv?: Record<string, string>, instance?: string): Promise<ChildProcess>;
  kill(instance: string, signal?: NodeJS.Signals): Promise<void>;
  api(path: string, init?: RequestInit & { tenant?: string; json?: unknown }): Promise<{ status: number; body: any; headers: Headers }>;
  stop(): Promise<void>;
}

export async function startStack(opts: { services?: ServiceName[]; env?: Record<string, string>; perService?: Partial<Record<ServiceName, Record<string, string>>>; natsUrl?: string } = {}): Promise<Stack> {
  const ns = `e${randomBytes(4).toString("hex")}`;
  const databaseUrl = testDatabaseUrl(`mr_e2e_${ns}`);
  const natsUrl = opts.natsUrl ?? testNatsUrl();
  const secret = "e2e-secret";
  const [port, statusGrpc, predictorGrpc, schedulerGrpc] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const env: Record<string, string> = {
    NATS_URL: natsUrl,
    DATABASE_URL: databaseUrl,
    MILLRACE_NAMESPACE: ns,
    JWT_SECRET: secret,
    // Every internal gRPC call is checked, as in a deployment.
    GRPC_SERVICE_TOKEN: randomBytes(16).toString("hex"),
    LOG_LEVEL: "info",
    STATUS_GRPC_ADDR: `127.0.0.1:${statusGrpc}`,
    STATUS_LISTEN: `127.0.0.1:${statusGrpc}`,
    PREDICTOR_GRPC_ADDR: `127.0.0.1:${predictorGrpc}`,
    PREDICTOR_LISTEN: `127.0.0.1:${predictorGrpc}`,
    SCHEDULER_GRPC_ADDR: `127.0.0.1:${schedulerGrpc}`,
    HEALTH_PORT: "0",
    PORT: String(port),
    ...opts.env,
  };
  const procs = new Map<string, ChildProcess>();
  const logs = new Map<string, string[]>();
  const url = `http://127.0.0.1:${port}`;

  const stack: Stack = {
    url,
    ns,
    databaseUrl,
    natsUrl,
    env,
    procs,
    logs,
    token: (tenant) => signToken(secret, { sub: `user-${tenant}`, tenant }),
    async start(name, extraEnv = {}, instance = name) {
      // node --import tsx runs the service in this very process, so a SIGKILL hits it (the tsx CLI would fork a child).
      const child = spawn(process.execPath, ["--import", "tsx", join(root, "services", name, "src", "main.ts")], {
        cwd: root,
        env: { ...process.env, ...env, ...(opts.perService?.[name] ?? {}), ...extraEnv, WORKER_ID: `${instance}-${ns}` },
        stdio: ["ignore", "pipe", "pipe"],
      });
      const buf: string[] = [];
      logs.set(instance, buf);
      child.stdout?.on("data", (d) => buf.push(String(d)));
      child.stderr?.on("data", (d) => buf.push(String(d)));
      procs.set(instance, child);
      return child;
    },
    async kill(instance, signal = "SIGKILL") {
      const p = procs.get(instance);
      if (!p || p.exitCode !== null || p.signalCode) return;
      const exited = new Promise((r) => p.once("exit", r));
      p.kill(signal);
      await exited;
    },
    async api(path, init = {}) {
      const headers = new Headers(init.headers);
      if (init.tenant !== undefined) headers.set("authorization", `Bearer ${stack.token(init.tenant)}`);
      let body = init.body;
      if (init.json !== undefined) {
        headers.set("content-type", "application/json");
        body = JSON.stringify(init.json);
      }
      const res = await fetch(url + path, { ...init, headers, body });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        /* not JSON */
      }
      return { status: res.status, body: parsed, headers: res.headers };
    },
    async stop() {
      await Promise.all([...procs.keys()].map((k) => stack.kill(k, "SIGKILL")));
      await dropDatabase(databaseUrl).catch(() => undefined);
    },
  };
  // Status first (the others call it), then the rest in parallel.
  const services = opts.services ?? ["status", "predictor", "trainer", "scheduler", "gateway"];
  if (services.includes("status")) {
    await stack.start("status");
    await waitFor(() => reachable("127.0.0.1", statusGrpc), { timeoutMs: 60_000, what: "status service" });
  }
  for (const s of services.filter((x) => x !== "status")) await stack.start(s);
  if (services.includes("gateway")) {
    await waitFor(
      async () => {
        const r = await fetch(`${url}/readyz`).catch(() => undefined);
        return r?.ok;
      },
      { timeoutMs: 90_000, what: `gateway ready (logs: ${(logs.get("gateway") ?? []).join("").slice(-2000)})` },
    );
  }
  return stack;
}


/** Polls a task through the API until it reaches one of `states`. */
export async function taskIn(stack: Stack, tenant: string, taskId: string, states: string[], timeoutMs = 60_000): Promise<any> {
  let last: unknown;
  try {
    return await waitFor(
      async () => {
        const r = await stack.api(`/v1/tasks/${taskId}`, { tenant });
        last = r.body;
        return r.status === 200 && states.includes(r.body.state) ? r.body : undefined;
      },
      { timeoutMs, what: `task ${taskId} in ${states.join("/")}` },
    );
  } catch (err) {
    // The services' logs, so a failure in CI can be read: every line naming the task, and where the rest went.
    const dir = join(tmpdir(), "millrace-e2e-logs", stack.ns);
    mkdirSync(dir, { recursive: true });
    const mentions: string[] = [];
    for (const [name, buf] of stack.logs) {
      const text = buf.join("");
      writeFileSync(join(dir, `${name}.log`), text);
      for (const line of text.split("\n")) if (line.includes(taskId)) mentions.push(`${name}: ${line.slice(0, 400)}`);
    }
    throw new Error(`${(err as Error).message}; last seen: ${JSON.stringify(last).slice(0, 1500)}\nlog lines naming it:\n${mentions.slice(-30).join("\n") || "(none)"}\nlogs in ${dir}`);
  }
}

/** A private nats-server this test may stop and restart (its own port and store). */
export async function privateNats(): Promise<{ url: string; stop(signal?: NodeJS.Signals): Promise<void>; start(): Promise<void> }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "millrace-nats-"));
  let proc: ChildProcess | undefined;
  const ctl = {
    url: `nats://127.0.0.1:${port}`,
    async start() {
      proc = spawn("nats-server", ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", dir], { stdio: "ignore" });
      await waitFor(() => reachable("127.0.0.1", port), { timeoutMs: 15_000, what: "private nats-server" });
    },
    async stop(signal: NodeJS.Signals = "SIGTERM") {
      if (!proc || proc.exitCode !== null || proc.signalCode) return;
      const exited = new Promise((r) => proc!.once("exit", r));
      proc.kill(signal);
      await exited;
    },
  };
  await ctl.start();
  return ctl;
}

// y = 3*x1 - 2*x2 + 5 (+ tiny noise): a linear model should nail it.
export function linesCsv(rows = 200): string {
  const out = ["x1,x2,color,y"];
  let s = 11;
  const r = () => ((s = (s * 16807) % 2147483647) / 2147483647);
  for (let i = 0; i < rows; i++) {
    const x1 = Math.round(r() * 1000) / 100;
    const x2 = Math.round(r() * 1000) / 100;
    out.push(`${x1},${x2},${i % 2 ? "red" : "blue"},${(3 * x1 - 2 * x2 + 5 + (r() - 0.5) * 0.01).toFixed(4)}`);
  }
  return out.join("\n");
}
