// Process plumbing for the benchmark: spare ports, child process groups,
// readiness waits and CPU accounting. Nothing here knows about any system.
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export const sleepMs = (ms: number) => sleep(ms);

/** A port the OS says is free right now (the usual small race is acceptable here). */
export function sparePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

let schedNice = 0;

/**
 * Raises this process's CPU priority and that of every group spawned after.
 * With the kernel's autogroup scheduling each session shares the CPU equally
 * whatever its processes' nice, so the session's autogroup gets the nice too.
 * Returns what could be applied (0 when not permitted).
 */
export function raisePriority(nice: number): number {
  try {
    os.setPriority(0, nice);
  } catch {
    return 0;
  }
  schedNice = nice;
  setAutogroupNice("self");
  return nice;
}

function setAutogroupNice(pid: number | "self"): void {
  if (schedNice === 0) return;
  try {
    writeFileSync(`/proc/${pid}/autogroup`, String(schedNice));
  } catch {
    // no autogroup scheduling on this kernel: the plain nice is enough
  }
}

export interface Group {
  name: string;
  child: ChildProcess;
  pgid: number;
  exited: Promise<number | null>;
  logFile: string;
}

export interface SpawnOpts {
  cwd: string;
  env?: Record<string, string>;
  logDir: string;
}

/**
 * Starts a command as the leader of a new process group, so stop() can end it
 * together with whatever it forks (gunicorn and celery workers, tsx children).
 */
export function spawnGroup(name: string, cmd: string, args: string[], opts: SpawnOpts): Group {
  mkdirSync(opts.logDir, { recursive: true });
  const logFile = join(opts.logDir, `${name}.log`);
  const log = createWriteStream(logFile);
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const exited = new Promise<number | null>((resolve) => {
    child.on("exit", (code, signal) => resolve(code ?? (signal ? 128 : null)));
    child.on("error", (err) => {
      log.write(`spawn error: ${err.message}\n`);
      resolve(127);
    });
  });
  if (child.pid === undefined) throw new Error(`${name}: could not spawn ${cmd}`);
  // detached means a new session, hence a new autogroup that starts at nice 0.
  setAutogroupNice(child.pid);
  return { name, child, pgid: child.pid, exited, logFile };
}

/** SIGTERM to the whole group, then SIGKILL if it has not gone within graceMs. */
export async function stopGroup(g: Group, graceMs = 5000): Promise<void> {
  const signalGroup = (sig: NodeJS.Signals) => {
    try {
      process.kill(-g.pgid, sig);
    } catch {
      // group already gone
    }
  };
  signalGroup("SIGTERM");
  const done = await Promise.race([g.exited.then(() => true), sleep(graceMs).then(() => false)]);
  // The leader may exit before its children (gunicorn workers, celery pool): give them a moment, then make sure.
  if (done) await sleep(200);
  signalGroup("SIGKILL");
  await Promise.race([g.exited, sleep(1000)]);
}

/** Waits until fn() returns true, failing after timeoutMs or when the group dies. */
export async function waitUntil(
  what: string,
  fn: () => Promise<boolean>,
  timeoutMs: number,
  groups: Group[] = [],
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let dead: Group | undefined;
  for (const g of groups) void g.exited.then(() => (dead ??= g));
  while (Date.now() < deadline) {
    if (dead) throw new Error(`${what}: ${dead.name} exited early (see ${dead.logFile})`);
    try {
      if (await fn()) return;
    } catch {
      // not up yet
    }
    await sleep(100);
  }
  throw new Error(`${what}: not ready after ${timeoutMs} ms`);
}

export async function httpStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(2000) });
  await res.arrayBuffer();
  return res.status;
}

/** One RESP PING on a fresh socket; true on +PONG. */
export function redisPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(port, "127.0.0.1");
    const finish = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1000, () => finish(false));
    sock.on("error", () => finish(false));
    sock.on("connect", () => sock.write("PING\r\n"));
    sock.on("data", (d) => finish(d.toString().startsWith("+PONG")));
  });
}

/** A private, non-persistent redis-server on a spare port. */
export async function startRedis(name: string, logDir: string, cwd: string): Promise<{ group: Group; port: number }> {
  const port = await sparePort();
  const group = spawnGroup(name, "redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
    cwd,
    logDir,
  });
  await waitUntil(`${name} on :${port}`, () => redisPing(port), 10_000, [group]);
  return { group, port };
}

const CLK_TCK = 100; // USER_HZ on Linux, what /proc/<pid>/stat counts in

/**
 * CPU seconds (user+system) used so far by the processes of a system, summed
 * per label: the process group's name, refined to `name/service` for Millrace's
 * `services/<service>/src/main.ts` processes, and `shared <comm>` for processes
 * of the shared infrastructure named in sharedComms (nats-server, postgres).
 * Sampled before and after a phase, the difference is the CPU the system spent;
 * processes that exit in between are not counted (none should).
 */
export function cpuByLabel(groups: Map<number, string>, sharedComms: Set<string> = new Set()): Map<string, number> {
  const out = new Map<string, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue;
    }
    const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    // Fields after "(comm)": state ppid pgrp ... utime(14) stime(15), counted from 1.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const group = groups.get(Number(rest[2]));
    let label: string;
    if (group !== undefined) {
      label = group;
      try {
        const service = readFileSync(`/proc/${entry}/cmdline`, "utf8").match(/services\/([\w-]+)\/src\/main\.ts/)?.[1];
        if (service) label = `${group}/${service}`;
      } catch {
        // exited meanwhile
      }
    } else if (sharedComms.has(comm)) {
      label = `shared ${comm}`;
    } else continue;
    out.set(label, (out.get(label) ?? 0) + (Number(rest[11]) + Number(rest[12])) / CLK_TCK);
  }
  return out;
}

/** Machine-wide CPU counters from /proc/stat, in seconds summed over all cores. */
export function machineCpu(): { busy: number; total: number } {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = f[3] + f[4]; // idle + iowait
  return { busy: (total - idle) / CLK_TCK, total: total / CLK_TCK };
}

/**
 * Waits (at most maxWaitMs) for the rest of the machine to go quiet, so each
 * system is measured with the cores to itself. Returns the last busy % seen
 * (of all cores together, 100 = every core busy).
 */
export async function waitForQuiet(maxBusyPct: number, maxWaitMs: number): Promise<number> {
  const deadline = Date.now() + maxWaitMs;
  for (;;) {
    const a = machineCpu();
    await sleep(1000);
    const b = machineCpu();
    const busy = ((b.busy - a.busy) / (b.total - a.total)) * 100;
    if (busy <= maxBusyPct || Date.now() >= deadline) return busy;
  }
}
