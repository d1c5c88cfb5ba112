// Process plumbing for the benchmark: spare ports, child process groups,
// readiness waits and CPU accounting. Nothing here knows about any system.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chownSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort } from "@millrace/runtime";

export const sleepMs = (ms: number) => sleep(ms);

/** A port the OS says is free right now (the usual small race is acceptable here). */
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
  /** Settles once the child's output is all in logFile (its pipes closed and the file flushed). */
  logged: Promise<void>;
}

export interface SpawnOpts {
  cwd: string;
  env?: Record<string, string>;
  logDir: string;
}

const logsOpened = new Set<string>();

/** The last `n` lines of a log, for an error message. */
function logTail(file: string, n = 15): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-n).join("\n");
  } catch {
    return "(no log)";
  }
}

/**
 * Starts a command as the leader of a new process group, so stop() can end it
 * together with whatever it forks (gunicorn and celery workers, tsx children).
 */
export function spawnGroup(name: string, cmd: string, args: string[], opts: SpawnOpts): Group {
  mkdirSync(opts.logDir, { recursive: true });
  const logFile = join(opts.logDir, `${name}.log`);
  // The first start in a bench run truncates; later rounds append under a
  // header, so a round that failed still has its log when the run ends.
  const log = createWriteStream(logFile, { flags: logsOpened.has(logFile) ? "a" : "w" });
  logsOpened.add(logFile);
  log.write(`=== ${name} started ${new Date().toISOString()}: ${cmd} ${args.join(" ")}\n`);
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  // end: false, and the log ended once both pipes have closed: with the
  // default, the first pipe to end closed the file and dropped the other's
  // last lines, often the error that explains an exit.
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  const logged = new Promise<void>((resolve) => child.once("close", () => log.end(resolve)));
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
  return { name, child, pgid: child.pid, exited, logFile, logged };
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
    if (dead) {
      // The exit can come before the last output is written; a grandchild holding the pipe open bounds the wait.
      await Promise.race([dead.logged, sleep(1000)]);
      throw new Error(`${what}: ${dead.name} exited early (see ${dead.logFile}); its log ends:\n${logTail(dead.logFile)}`);
    }
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

/**
 * A private Redis on a spare port. By default it keeps nothing on disk, as
 * the peers were first measured. `aof` turns on the append-only file in a
 * temp dir with that fsync policy: "always" fsyncs before a write is answered
 * (what Millrace's group-committed PENDING row gives a 202), "everysec" once a
 * second in the background (Redis's recommended durable setting; up to a
 * second of accepted jobs can be lost).
 */
export async function startRedis(
  name: string,
  logDir: string,
  cwd: string,
  aof?: "always" | "everysec",
): Promise<{ group: Group; port: number; stop(): Promise<void> }> {
  const port = await freePort();
  const dir = aof ? mkdtempSync(join(os.tmpdir(), "mr-bench-redis-")) : undefined;
  const persistence = dir ? ["--appendonly", "yes", "--appendfsync", aof!, "--dir", dir] : ["--appendonly", "no"];
  const group = spawnGroup(name, "redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", ...persistence], {
    cwd,
    logDir,
  });
  const stop = async () => {
    await stopGroup(group);
    if (dir) rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitUntil(`${name} on :${port}`, () => redisPing(port), 10_000, [group]);
  } catch (err) {
    await stop();
    throw err;
  }
  return { group, port, stop };
}

/** Debian's PostgreSQL server binaries, newest major first; undefined when none are installed. */
function postgresBin(): string | undefined {
  const base = "/usr/lib/postgresql";
  if (!existsSync(base)) return undefined;
  const major = readdirSync(base)
    .filter((d) => existsSync(join(base, d, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a))[0];
  return major ? join(base, major, "bin") : undefined;
}

/**
 * A private PostgreSQL cluster (trust auth, user postgres) in a temp dir on a
 * spare port, started like the peers' private Redis: in its own process group
 * at the bench's priority, its CPU counted as the system's, gone afterwards.
 * The machine's shared Postgres runs at nice 0 while everything the bench
 * starts runs at -10, so on two busy cores it would be starved, and other
 * people's tests use it too. Default settings, fsync on: the same durability
 * as the shared one. initdb refuses to run as root, so as root the cluster
 * belongs to the postgres user (runuser).
 */
export async function startPostgres(name: string, logDir: string, cwd: string): Promise<{ group: Group; port: number; stop(): Promise<void> }> {
  const bin = postgresBin();
  if (!bin) throw new Error("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin (apt-get install postgresql)");
  const port = await freePort();
  const dir = mkdtempSync(join(os.tmpdir(), "mr-bench-pg-"));
  const data = join(dir, "data");
  const asRoot = process.getuid?.() === 0;
  const as = (cmd: string, args: string[]): [string, string[]] => (asRoot ? ["runuser", ["-u", "postgres", "--", cmd, ...args]] : [cmd, args]);
  if (asRoot) {
    const id = (flag: string) => Number(spawnSync("id", [flag, "postgres"], { encoding: "utf8" }).stdout.trim());
    chownSync(dir, id("-u"), id("-g"));
  }
  const init = spawnSync(...as(join(bin, "initdb"), ["-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"]), { encoding: "utf8", timeout: 120_000 });
  if (init.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed: ${(init.stderr || init.stdout || "").slice(-400)}`);
  }
  const group = spawnGroup(name, ...as(join(bin, "postgres"), ["-D", data, "-p", String(port), "-k", dir, "-c", "listen_addresses=127.0.0.1"]), { cwd, logDir });
  const ready = async () => spawnSync(join(bin, "pg_isready"), ["-q", "-h", "127.0.0.1", "-p", String(port)]).status === 0;
  try {
    await waitUntil(`${name} on :${port}`, ready, 30_000, [group]);
  } catch (err) {
    await stopGroup(group);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    group,
    port,
    async stop() {
      await stopGroup(group);
      rmSync(dir, { recursive: true, force: true });
    },
  };
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
interface ProcStat {
  pid: number;
  comm: string;
  ppid: number;
  pgrp: number;
  cpuSeconds: number;
}

function procStats(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue;
    }
    // Fields after "(comm)": state ppid pgrp ... utime(14) stime(15), counted from 1.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    out.push({
      pid: Number(entry),
      comm: stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")),
      ppid: Number(rest[1]),
      pgrp: Number(rest[2]),
      cpuSeconds: (Number(rest[11]) + Number(rest[12])) / CLK_TCK,
    });
  }
  return out;
}

/**
 * The group (by leader pid) each process belongs to: its own process group,
 * else an ancestor's. PostgreSQL's children call setsid(), so they leave
 * their parent's group (and autogroup) but not its family tree.
 */
function groupOf(stats: ProcStat[], groups: Map<number, string>): Map<number, number> {
  const byPid = new Map(stats.map((p) => [p.pid, p]));
  const out = new Map<number, number>();
  for (const p of stats) {
    let cur: ProcStat | undefined = p;
    for (let depth = 0; cur && depth < 6; depth++, cur = byPid.get(cur.ppid)) {
      if (groups.has(cur.pgrp)) {
        out.set(p.pid, cur.pgrp);
        break;
      }
    }
  }
  return out;
}

/**
 * Gives processes that left a system's session (see groupOf) the bench's
 * autogroup priority; call it again as they appear (new connections).
 */
export function adoptDescendants(groups: Map<number, string>): void {
  if (schedNice === 0) return;
  const stats = procStats();
  const member = groupOf(stats, groups);
  for (const p of stats) {
    const leader = member.get(p.pid);
    if (leader !== undefined && p.pgrp !== leader) setAutogroupNice(p.pid);
  }
}

export function cpuByLabel(groups: Map<number, string>, sharedComms: Set<string> = new Set()): Map<string, number> {
  const out = new Map<string, number>();
  const stats = procStats();
  const member = groupOf(stats, groups);
  for (const p of stats) {
    const entry = String(p.pid);
    const comm = p.comm;
    const leader = member.get(p.pid);
    const group = leader === undefined ? undefined : groups.get(leader);
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
    out.set(label, (out.get(label) ?? 0) + p.cpuSeconds);
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
