// The dev runner (`./millrace up`, scripts/stack.ts) keeps its services up:
// a service that dies is started again after a backoff, and work submitted
// while it was down is done once it is back. A process that keeps dying makes
// the supervisor give up (and the runner stop the stack).
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dropDatabase, freePort } from "@millrace/runtime";
import { testDatabaseUrl, testNatsUrl, waitFor } from "@millrace/testkit";
import { RestartPolicy, Supervised, type ExitDecision } from "../scripts/supervisor";
import { signToken } from "./harness";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const json = async (r: Response): Promise<any> => r.json();

describe("RestartPolicy", () => {
  const opts = { maxRestarts: 3, windowMs: 60_000, firstDelayMs: 500, maxDelayMs: 1_500 };

  it("doubles the delay up to its cap, then gives up after maxRestarts within the window", () => {
    let now = 0;
    const p = new RestartPolicy(opts, () => now);
    const seen: ExitDecision[] = [];
    for (let i = 0; i < 4; i++) {
      seen.push(p.onExit());
      now += 1_000;
    }
    expect(seen).toEqual([
      { restart: true, delayMs: 500, restartsInWindow: 1 },
      { restart: true, delayMs: 1_000, restartsInWindow: 2 },
      { restart: true, delayMs: 1_500, restartsInWindow: 3 },
      { restart: false, restartsInWindow: 3 },
    ]);
  });

  it("forgets restarts older than the window, so a process that ran well starts again at the first delay", () => {
    let now = 0;
    const p = new RestartPolicy(opts, () => now);
    p.onExit();
    p.onExit();
    p.onExit();
    now = 60_000;
    expect(p.onExit()).toEqual({ restart: true, delayMs: 500, restartsInWindow: 1 });
  });
});

describe("Supervised", () => {
  const fast = { maxRestarts: 2, windowMs: 60_000, firstDelayMs: 1, maxDelayMs: 1 };

  it("restarts a process that exits, then gives up, naming how it last exited", async () => {
    const starts: number[] = [];
    const exits: string[] = [];
    const gaveUp = new Promise<string>((resolveGaveUp) => {
      const s = new Supervised(process.execPath, ["-e", "process.exit(3)"], { stdio: "ignore" }, {
        started: (_c, restarts) => starts.push(restarts),
        exited: (exit) => exits.push(exit),
        gaveUp: resolveGaveUp,
      }, new RestartPolicy(fast));
      s.start();
    });
    expect(await gaveUp).toBe("3");
    expect(starts).toEqual([0, 1, 2]);
    expect(exits).toEqual(["3", "3", "3"]);
  });

  it("gives up on a command that cannot be spawned at all", async () => {
    const gaveUp = new Promise<string>((r) => {
      new Supervised("/nonexistent/millrace-cmd", [], { stdio: "ignore" }, { gaveUp: r }, new RestartPolicy(fast)).start();
    });
    expect(await gaveUp).toBe("ENOENT");
  });

  it("does not restart a process stopped on purpose", async () => {
    const exits: string[] = [];
    const s = new Supervised(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" }, { exited: (e) => exits.push(e) }, new RestartPolicy(fast));
    const child = s.start();
    await s.stop();
    expect(child.signalCode).toBe("SIGTERM");
    expect(s.current).toBeUndefined();
    expect(exits).toEqual([]);
  });
});

/** The runner's output, ANSI colours stripped, with a way to wait for a line. */
function lines(child: ChildProcess): { all: string[]; next(re: RegExp, what: string, timeoutMs?: number): Promise<RegExpMatchArray> } {
  const all: string[] = [];
  const waiters: Array<() => void> = [];
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on("line", (l) => {
      // eslint-disable-next-line no-control-regex
      all.push(l.replace(/\x1b\[[0-9;]*m/g, ""));
      for (const w of waiters.splice(0)) w();
    });
  }
  let from = 0;
  return {
    all,
    next(re, what, timeoutMs = 90_000) {
      return new Promise((resolveLine, reject) => {
        const timer = setTimeout(() => reject(new Error(`no line matching ${re} (${what}); output:\n${all.slice(-40).join("\n")}`)), timeoutMs);
        const look = () => {
          for (; from < all.length; from++) {
            const m = all[from].match(re);
            if (m) {
              from++;
              clearTimeout(timer);
              resolveLine(m);
              return;
            }
          }
          waiters.push(look);
        };
        look();
      });
    },
  };
}

describe("./millrace up's runner", () => {
  const ns = `dev${randomBytes(4).toString("hex")}`;
  const databaseUrl = testDatabaseUrl(`mr_${ns}`);
  const secret = "dev-runner-secret";
  let runner: ChildProcess;
  let out: ReturnType<typeof lines>;
  let base: string;

  beforeAll(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    runner = spawn(process.execPath, ["--import", "tsx", join(root, "scripts", "stack.ts")], {
      cwd: root,
      env: { ...process.env, NATS_URL: testNatsUrl(), DATABASE_URL: databaseUrl, MILLRACE_NAMESPACE: ns, PORT: String(port), JWT_SECRET: secret, LOG_LEVEL: "warn" },
      stdio: ["ignore", "pipe", "pipe"],
      // Its own process group, so a failed test can take the services down with the runner (a SIGKILL of the runner alone orphans them).
      detached: true,
    });
    out = lines(runner);
    await out.next(/^Millrace is up/, "the stack's start");
  });

  afterAll(async () => {
    const exited = runner.exitCode === null && runner.signalCode === null ? new Promise((r) => runner.once("exit", r)) : undefined;
    try {
      process.kill(-runner.pid!, "SIGKILL"); // the whole group: the runner and every service it started
    } catch {
      // ESRCH: the group is gone already (the test stopped the runner itself).
    }
    await exited;
    await dropDatabase(databaseUrl).catch(() => undefined);
  });

  it("starts a killed predictor again, and a prediction submitted while it was down succeeds", async () => {
    const auth = { authorization: `Bearer ${signToken(secret, { sub: "dev", tenant: "dev" })}` };
    const csv = ["x,y", ...Array.from({ length: 40 }, (_, i) => `${i},${3 * i + 1}`)].join("\n");
    const ds = await json(await fetch(`${base}/v1/datasets?name=line`, { method: "POST", headers: { ...auth, "content-type": "text/csv" }, body: csv }));
    const train = await json(await fetch(`${base}/v1/train`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ dataset_id: ds.dataset_id, target: "y", model: { type: "linear_regression" }, name: "line" }) }));
    const trained = await json(await fetch(`${base}/v1/tasks/${train.task_id}?wait=60`, { headers: auth }));
    expect(trained.state).toBe("SUCCESS");

    const pid = Number(out.all.map((l) => l.match(/^predictor\s*\| started \(pid (\d+)\)/)?.[1]).find(Boolean));
    expect(pid).toBeGreaterThan(0);
    process.kill(pid, "SIGKILL");
    await out.next(/^predictor\s*\| exited \(SIGKILL\); restarting in 500 ms \(1 restarts in the last minute\)/, "the predictor's restart notice");

    const submitted = await fetch(`${base}/v1/predict/async`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ model: "line", instances: [{ x: 10 }] }) });
    expect(submitted.status).toBe(202);
    const { task_id } = await json(submitted);

    const [, again] = await out.next(/^predictor\s*\| restarted \(pid (\d+), restart 1\)/, "the predictor's restart");
    expect(Number(again)).not.toBe(pid);
    const done = await waitFor(
      async () => {
        const t = await json(await fetch(`${base}/v1/tasks/${task_id}?wait=20`, { headers: auth }));
        return t.state === "SUCCESS" || t.state === "FAILURE" ? t : undefined;
      },
      { timeoutMs: 60_000, what: "the prediction submitted while the predictor was down" },
    );
    expect(done.state).toBe("SUCCESS");
    expect(done.result.predictions[0]).toBeCloseTo(31, 0);
    // The runner itself kept going: nothing said it stopped the stack.
    expect(out.all.some((l) => l.includes("stopping the stack"))).toBe(false);

    // SIGTERM stops the stack for good: the restarted predictor goes with it and is not started again.
    const exited = new Promise<number | null>((r) => runner.once("exit", (code) => r(code)));
    runner.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(() => process.kill(Number(again), 0)).toThrow();
  }, 180_000);
});
