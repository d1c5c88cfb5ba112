// Two real scheduler processes (node + tsx, as `pnpm start` runs it) against
// the same NATS namespace and database: every instant fires exactly once, and
// when the leader is SIGKILLed the other takes over and carries on, still once.
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { waitFor } from "@millrace/testkit";
import { jobsOnStream, schedulerClient, schedulerEnv, type Env, type SchedulerClient } from "./harness";

const REPO = fileURLToPath(new URL("../../../", import.meta.url));
const MAIN = fileURLToPath(new URL("../src/main.ts", import.meta.url));
const LEASE_TTL_MS = 3_000;
const INTERVAL_S = 2;

interface Proc {
  id: string;
  child: ChildProcess;
  grpcPort: number;
  api: SchedulerClient;
  logs: string[];
  exited: Promise<void>;
}

interface RunRecord {
  scheduled_for: Date;
  task_id: string;
  state: string;
  fired_at: Date;
}

describe("scheduler replicas (two OS processes)", () => {
  let e: Env;
  const procs: Proc[] = [];

  afterEach(async () => {
    for (const p of procs.splice(0)) {
      p.api.close();
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL");
      await p.exited;
    }
    await e?.cleanup();
  });

  async function spawnScheduler(id: string): Promise<Proc> {
    const env = e.env({ SCHEDULER_ID: id, LEASE_TTL_MS: String(LEASE_TTL_MS), TICK_MS: "200", RUN_POLL_MS: "1000", LOG_LEVEL: "info" });
    const child = spawn(process.execPath, ["--import", "tsx", MAIN], { cwd: REPO, env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env }, stdio: ["ignore", "pipe", "pipe"] });
    const logs: string[] = [];
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const started = new Promise<number>((resolve, reject) => {
      let buf = "";
      child.stdout!.on("data", (chunk: Buffer) => {
        buf += chunk.toString("utf8");
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          logs.push(line);
          try {
            const rec = JSON.parse(line) as { msg?: string; grpc_port?: number };
            if (rec.msg === "scheduler started" && rec.grpc_port) resolve(rec.grpc_port);
          } catch {
            /* not JSON */
          }
        }
      });
      child.stderr!.on("data", (chunk: Buffer) => logs.push(chunk.toString("utf8")));
      child.once("exit", (code) => reject(new Error(`scheduler ${id} exited (${code}) before starting:\n${logs.join("\n")}`)));
    });
    const grpcPort = await started;
    const p: Proc = { id, child, grpcPort, api: schedulerClient(grpcPort), logs, exited };
    procs.push(p);
    return p;
  }

  async function runs(): Promise<RunRecord[]> {
    const r = await e.db.pool.query<RunRecord>("select scheduled_for, task_id, state, fired_at from schedule_runs where schedule = 'every-2s' order by scheduled_for");
    return r.rows;
  }

  const submitted = (rs: RunRecord[]) => rs.filter((r) => r.state !== "SCHEDULED");

  /** One fire per instant, no instant skipped, one CreateTask and one JOBS message per fire. */
  async function expectExactlyOnce(rs: RunRecord[]): Promise<void> {
    const instants = rs.map((r) => r.scheduled_for.getTime());
    expect(new Set(instants).size).toBe(instants.length);
    for (let i = 1; i < instants.length; i++) expect(instants[i] - instants[i - 1]).toBe(INTERVAL_S * 1000);
    expect(rs.every((r) => r.state === "PENDING")).toBe(true);

    const counts = e.status.createCounts();
    expect([...counts.keys()].sort()).toEqual(rs.map((r) => r.task_id).sort());
    expect([...counts.values()].every((n) => n === 1)).toBe(true);

    const stream = await jobsOnStream(e.fx);
    expect(stream.map((m) => m.msgId).sort()).toEqual(rs.map((r) => r.task_id).sort());
    expect(stream.every((m) => m.job.name === "every-2s" && m.job.kind === "maintenance")).toBe(true);
  }

  /** SIGTERM: drain the pass in flight, release the lease, exit 0. */
  async function stop(p: Proc): Promise<void> {
    p.child.kill("SIGTERM");
    await p.exited;
    expect(p.child.exitCode).toBe(0);
  }

  it("runs two scheduler processes and fires each instant exactly once", async () => {
    e = await schedulerEnv();
    const [a, b] = await Promise.all([spawnScheduler("replica-a"), spawnScheduler("replica-b")]);
    const leaders = await Promise.all([a.api.ping(), b.api.ping()]);
    expect(leaders.filter(Boolean)).toHaveLength(1);
    // Both seeded at once: the defaults exist once.
    expect((await a.api.list()).map((s) => s.name).sort()).toEqual(["cleanup-expired-results", "train-all-products", "validate-models"]);

    // Created through the follower: every replica serves the API.
    const follower = leaders[0] ? b : a;
    await follower.api.upsert({ name: "every-2s", intervalSeconds: INTERVAL_S, kind: "maintenance", payload: { action: "validate_models" }, queue: "default" }, { createOnly: true });
    await waitFor(async () => submitted(await runs()).length >= 3, { timeoutMs: 20_000, what: "three fires" });

    // Stop both (SIGTERM drains the pass in flight), then inspect a quiet system.
    await Promise.all([stop(a), stop(b)]);
    const all = await runs();
    expect(all.length).toBeGreaterThanOrEqual(3);
    await expectExactlyOnce(all);
    const byProc = [a, b].map((p) => p.logs.filter((l) => l.includes('"schedule fired"') && l.includes("every-2s")).length);
    expect(byProc.filter((n) => n > 0)).toHaveLength(1);
  });

  it("kills the leader; the other takes over within the lease TTL and fires the next run once", async () => {
    e = await schedulerEnv();
    const [a, b] = await Promise.all([spawnScheduler("replica-a"), spawnScheduler("replica-b")]);
    await a.api.upsert({ name: "every-2s", intervalSeconds: INTERVAL_S, kind: "maintenance", payload: { action: "validate_models" }, queue: "default" }, { createOnly: true });
    await waitFor(async () => submitted(await runs()).length >= 2, { timeoutMs: 20_000, what: "two fires" });

    const [leader, survivor] = (await a.api.ping()) ? [a, b] : [b, a];
    expect(await survivor.api.ping()).toBe(false);
    // Kill just after a fire has completed, so the kill lands between fires (not mid-submit).
    await waitFor(
      async () => {
        const last = (await runs()).at(-1);
        return last && last.state !== "SCHEDULED" && Date.now() - last.fired_at.getTime() < 500;
      },
      { timeoutMs: 10_000, intervalMs: 20, what: "a fresh fire" },
    );
    leader.child.kill("SIGKILL");
    const killedAt = Date.now();
    await leader.exited;
    const before = await runs();
    const lastBefore = before.at(-1)!.scheduled_for.getTime();

    await waitFor(() => survivor.api.ping(), { timeoutMs: LEASE_TTL_MS + 5_000, intervalMs: 50, what: "the survivor to lead" });
    const takeoverMs = Date.now() - killedAt;
    expect(takeoverMs).toBeLessThanOrEqual(LEASE_TTL_MS + 1_500);

    // The instants after the dead leader's last fire come from the survivor, each once.
    await waitFor(async () => submitted(await runs()).filter((r) => r.scheduled_for.getTime() > lastBefore).length >= 2, { timeoutMs: 20_000, what: "fires after the take-over" });
    await stop(survivor);
    const all = await runs();
    await expectExactlyOnce(all);
    const after = all.filter((r) => r.scheduled_for.getTime() > lastBefore);
    expect(after[0].scheduled_for.getTime()).toBe(lastBefore + INTERVAL_S * 1000);
    for (const r of after) expect(r.fired_at.getTime()).toBeGreaterThan(killedAt);
    expect(survivor.logs.some((l) => l.includes('"became scheduler leader"') && l.includes('"previous_holder":"' + leader.id))).toBe(true);
  });
});
