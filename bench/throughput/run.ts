// Throughput benchmark: Millrace against the seeds' stack, Hono + BullMQ and a
// bare Hono handler. Each system gets the machine to itself: start, warm up,
// measure, stop, then the next. Run from the workspace root:
//
//   npx tsx bench/throughput/run.ts [--jobs 20000] [--warmup 1000] [--concurrency 64]
//                                   [--systems celery,bullmq,bare,millrace (or bullmq-aof, bullmq-aof-sec)] [--poll-interval 20]
//                                   [--timeout 180] [--quiet-wait 10] [--nice -10] [--wrk-check]
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { adoptDescendants, cpuByLabel, machineCpu, raisePriority, sleepMs, waitForQuiet } from "./procs";

const benchDir = dirname(fileURLToPath(import.meta.url));
const root = join(benchDir, "..", "..");
const resultsDir = join(root, "bench", "results");
const logDir = join(resultsDir, "logs");

const { values: flags } = parseArgs({
  options: {
    jobs: { type: "string", default: "20000" },
    warmup: { type: "string", default: "1000" },
    concurrency: { type: "string", default: "64" },
    systems: { type: "string", default: "celery,bullmq,bare,millrace" },
    "poll-interval": { type: "string", default: "20" },
    timeout: { type: "string", default: "180" },
    "quiet-wait": { type: "string", default: "10" },
    nice: { type: "string", default: "-10" },
    "wrk-check": { type: "boolean", default: false },
    rounds: { type: "string", default: "1" },
    help: { type: "boolean", default: false },
  },
});
if (flags.help) {
  console.log(
    "usage: npx tsx bench/throughput/run.ts [--jobs N] [--warmup N] [--concurrency 64] [--systems celery,bullmq,bare,millrace] [--poll-interval ms] [--timeout s] [--quiet-wait s] [--nice n] [--wrk-check] [--rounds N]",
  );
  process.exit(0);
}
const num = (name: string, v: string | undefined) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got ${v}`);
  return n;
};
const opts = {
  jobs: num("jobs", flags.jobs),
  warmup: num("warmup", flags.warmup),
  concurrency: num("concurrency", flags.concurrency),
  pollIntervalMs: num("poll-interval", flags["poll-interval"]),
  timeoutMs: num("timeout", flags.timeout) * 1000,
  quietWaitMs: Number(flags["quiet-wait"]) * 1000,
  nice: Number(flags.nice),
  systems: flags.systems!.split(",").map((s) => s.trim()).filter(Boolean),
  wrkCheck: flags["wrk-check"],
  rounds: num("rounds", flags.rounds),
};

// On a shared machine, a higher CPU priority for the driver and (by inheritance) every
// system it starts keeps other people's builds from skewing one system's figures.
const niceApplied = opts.nice === 0 ? 0 : raisePriority(opts.nice);
if (niceApplied !== opts.nice) console.log(`could not set nice ${opts.nice}; running at normal priority`);
const { runLoad } = await import("./driver");
const { SYSTEMS } = await import("./systems");
type LoadResult = Awaited<ReturnType<typeof runLoad>>;

for (const key of opts.systems) {
  if (!SYSTEMS.some((s) => s.key === key)) throw new Error(`unknown system ${key}; known: ${SYSTEMS.map((s) => s.key).join(", ")}`);
}

interface Row {
  key: string;
  /** Which of --rounds this measurement was (1-based). */
  round?: number;
  label: string;
  available: boolean;
  error?: string;
  warmup?: LoadResult;
  result?: LoadResult;
  /** CPU the system's processes used during the measured round, % of one core. */
  systemCpuPct?: number;
  /** The same, per process group (web, worker, redis...). */
  systemCpuByGroup?: Record<string, number>;
  /** CPU seconds the system's processes used per job, in ms: the cost that decides throughput once the cores are full. */
  systemCpuMsPerJob?: number;
  /** CPU used by everything else on the machine meanwhile (other people's jobs), % of one core. */
  otherCpuPct?: number;
  /** Machine busy % (all cores) just before the system was started. */
  busyBeforePct?: number;
  wrk?: { requestsPerSec: number; p50Ms: number; p99Ms: number };
}

const fmt = (n: number | undefined, digits = 0) => (n === undefined || !Number.isFinite(n) ? "-" : n.toFixed(digits));
const log = (msg: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${msg}`);

function summarize(r: LoadResult): string {
  const states = Object.entries(r.states)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
  return (
    `${fmt(r.jobsPerSec)} jobs/s to terminal in ${fmt(r.terminalSeconds, 2)} s; submits ${fmt(r.submitsPerSec)}/s in ${fmt(r.submitSeconds, 2)} s, ` +
    `p50 ${fmt(r.submitP50Ms, 1)} ms p99 ${fmt(r.submitP99Ms, 1)} ms max ${fmt(r.submitMaxMs, 1)} ms; polls ${r.pollRequests} ` +
    `(${r.pollErrors} errors); ${states}${r.submitErrors ? `; SUBMIT ERRORS ${r.submitErrors}: ${r.firstSubmitError}` : ""}` +
    `${r.unfinished ? `; UNFINISHED ${r.unfinished}` : ""}; driver CPU ${fmt(r.driverCpuPct)}%`
  );
}

/** Cross-check for the bare handler: wrk (C, one thread) against the same port. */
function wrkCheck(origin: string, path: string, body: string): Row["wrk"] {
  const script = join(logDir, "wrk-post.lua");
  writeFileSync(script, `wrk.method = "POST"\nwrk.body = ${JSON.stringify(body)}\nwrk.headers["content-type"] = "application/json"\n`);
  const r = spawnSync("wrk", ["-t1", `-c${opts.concurrency}`, "-d10s", "--latency", "-s", script, origin + path], { encoding: "utf8", timeout: 30_000 });
  if (r.status !== 0) {
    log(`wrk failed: ${r.stderr || r.error?.message}`);
    return undefined;
  }
  const ms = (s: string | undefined) => {
    const m = s?.match(/([\d.]+)(us|ms|s)/);
    if (!m) return NaN;
    const v = Number(m[1]);
    return m[2] === "us" ? v / 1000 : m[2] === "s" ? v * 1000 : v;
  };
  return {
    requestsPerSec: Number(r.stdout.match(/Requests\/sec:\s+([\d.]+)/)?.[1]),
    p50Ms: ms(r.stdout.match(/\s50%\s+(\S+)/)?.[1]),
    p99Ms: ms(r.stdout.match(/\s99%\s+(\S+)/)?.[1]),
  };
}

// Systems run in their own sessions, so an interrupted bench would leave them behind: stop the current one.
let current: { stop(): Promise<void> } | undefined;
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    log(`${sig}: stopping the running system`);
    void (current?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  });
}

async function measure(key: string): Promise<Row> {
  const def = SYSTEMS.find((s) => s.key === key)!;
  const row: Row = { key, label: def.label, available: false };
  // The machine may be shared: give other work a chance to finish first, and record what ran beside us.
  row.busyBeforePct = await waitForQuiet(10, opts.quietWaitMs);
  if (row.busyBeforePct > 10) log(`${key}: machine still ${fmt(row.busyBeforePct)}% busy with other work; measuring anyway`);
  log(`${key}: starting`);
  let running;
  try {
    running = await def.start({ root, benchDir, logDir, timeoutMs: opts.timeoutMs });
    current = running;
  } catch (err) {
    row.error = (err as Error).message;
    log(`${key}: not available (${row.error})`);
    return row;
  }
  let adopt: NodeJS.Timeout | undefined;
  try {
    row.available = true;
    const load = (jobs: number) =>
      runLoad({
        origin: running.origin,
        jobs,
        concurrency: opts.concurrency,
        submit: running.submit,
        poll: running.poll,
        pollIntervalMs: opts.pollIntervalMs,
        timeoutMs: opts.timeoutMs,
      });
    const groups = new Map(running.groups.map((g) => [g.pgid, g.name]));
    // Processes that start their own session (PostgreSQL backends) get the
    // bench's priority too, including connections opened under load.
    adoptDescendants(groups);
    adopt = setInterval(() => adoptDescendants(groups), 500);
    log(`${key}: warm-up, ${opts.warmup} jobs`);
    row.warmup = await load(opts.warmup);
    log(`${key}: warm-up ${summarize(row.warmup)}`);
    await sleepMs(1000); // let the tail of the warm-up settle (acks, result writes)
    const shared = new Set(running.sharedComms ?? []);
    const cpu0 = cpuByLabel(groups, shared);
    const machine0 = machineCpu();
    const t0 = performance.now();
    const driver0 = process.cpuUsage();
    log(`${key}: measuring, ${opts.jobs} jobs`);
    const r = await load(opts.jobs);
    clearInterval(adopt);
    const driver = process.cpuUsage(driver0);
    const wall = (performance.now() - t0) / 1000;
    const machine1 = machineCpu();
    row.systemCpuByGroup = {};
    let systemSeconds = 0;
    for (const [label, seconds] of cpuByLabel(groups, shared)) {
      const s = seconds - (cpu0.get(label) ?? 0);
      systemSeconds += s;
      row.systemCpuByGroup[label] = Math.round((s / wall) * 100);
    }
    row.systemCpuPct = (systemSeconds / wall) * 100;
    row.systemCpuMsPerJob = (systemSeconds * 1000) / opts.jobs;
    const driverSeconds = (driver.user + driver.system) / 1e6;
    row.otherCpuPct = Math.max(0, ((machine1.busy - machine0.busy - systemSeconds - driverSeconds) / wall) * 100);
    row.result = r;
    const byGroup = Object.entries(row.systemCpuByGroup)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${v}%`)
      .join(", ");
    log(`${key}: ${summarize(r)}; system CPU ${fmt(row.systemCpuPct)}% (${byGroup}), ${fmt(row.systemCpuMsPerJob, 2)} ms per job; other processes ${fmt(row.otherCpuPct)}%`);
    if (opts.wrkCheck && !running.poll) {
      row.wrk = wrkCheck(running.origin, running.submit.path, running.submit.body);
      if (row.wrk) log(`${key}: wrk -t1 -c${opts.concurrency} 10s: ${fmt(row.wrk.requestsPerSec)} req/s, p50 ${fmt(row.wrk.p50Ms, 1)} ms, p99 ${fmt(row.wrk.p99Ms, 1)} ms`);
    }
  } catch (err) {
    row.error = (err as Error).message;
    log(`${key}: failed (${row.error})`);
  } finally {
    clearInterval(adopt);
    log(`${key}: stopping`);
    await running.stop();
    current = undefined;
  }
  return row;
}

const allRows: Row[] = [];
const startedAt = new Date();
log(
  `throughput bench: ${opts.jobs} jobs (+${opts.warmup} warm-up) per system, ${opts.concurrency} concurrent clients, ` +
    `${os.cpus().length} cores, node ${process.version}, nice ${niceApplied}; logs in ${logDir}`,
);
mkdirSync(logDir, { recursive: true });
// With --rounds N the systems take turns N times (so a slow spell on a
// shared machine hits each of them) and each is reported by its median round.
for (let round = 1; round <= opts.rounds; round++) {
  if (opts.rounds > 1) log(`round ${round} of ${opts.rounds}`);
  for (const key of opts.systems) {
    allRows.push({ ...(await measure(key)), round });
    await sleepMs(2000); // let the stopped system's processes and sockets go before the next starts
  }
}
const median = (key: string): Row => {
  const mine = allRows.filter((r) => r.key === key);
  const done = mine.filter((r) => r.available && r.result && !r.result.submitErrors && !r.result.unfinished);
  if (done.length < mine.length || !done.length) return mine.find((r) => !done.includes(r)) ?? mine[0];
  const sorted = done.slice().sort((a, b) => a.result!.jobsPerSec - b.result!.jobsPerSec);
  return sorted[(sorted.length - 1) >> 1];
};
const rows: Row[] = opts.systems.map(median);

// ---- report ----
const ok = (r: Row) => (r.available && r.result && !r.result.submitErrors && !r.result.unfinished ? r.result : undefined);
const base = (key: string) => {
  const r = rows.find((x) => x.key === key);
  return r ? ok(r) : undefined;
};
const bull = base("bullmq");
const seeds = base("celery");
const ratio = (a: number | undefined, b: number | undefined) => (a && b ? `${(a / b).toFixed(2)}x` : "-");
const header = ["system", "jobs/s to terminal", "submit p50 ms", "submit p99 ms", "vs BullMQ", "vs seeds", "driver CPU", "system CPU", "CPU ms/job", "other CPU"];
const table: string[][] = [header];
for (const r of rows) {
  if (!r.available) {
    table.push([r.key === "millrace" ? "millrace: not available" : `${r.label}: not available`, "-", "-", "-", "-", "-", "-", "-", "-", "-"]);
    continue;
  }
  const m = r.result;
  const flagged = m && (m.submitErrors || m.unfinished) ? " (!)" : "";
  table.push([
    r.label + flagged,
    fmt(m?.jobsPerSec),
    fmt(m?.submitP50Ms, 1),
    fmt(m?.submitP99Ms, 1),
    ratio(m?.jobsPerSec, bull?.jobsPerSec),
    ratio(m?.jobsPerSec, seeds?.jobsPerSec),
    `${fmt(m?.driverCpuPct)}%`,
    `${fmt(r.systemCpuPct)}%`,
    fmt(r.systemCpuMsPerJob, 2),
    `${fmt(r.otherCpuPct)}%`,
  ]);
}
const widths = header.map((_, i) => Math.max(...table.map((row) => row[i].length)));
const line = (row: string[]) => row.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
console.log("");
console.log(line(table[0]));
console.log(widths.map((w) => "-".repeat(w)).join("  "));
for (const row of table.slice(1)) console.log(line(row));
console.log(
  `(${opts.jobs} jobs each, ${opts.concurrency} concurrent clients; CPU as % of one core, ${os.cpus().length} cores = ${os.cpus().length * 100}%; ` +
    `"CPU ms/job" is the system's CPU time per job; "other CPU" is what else ran meanwhile, at lower priority, mostly in cycles the system left idle)`,
);

if (opts.rounds > 1) {
  console.log("");
  console.log(`jobs/s to terminal in each round (the table shows each system's median round; an odd --rounds makes it a real round):`);
  for (const key of opts.systems) {
    console.log(`  ${key.padEnd(14)} ${allRows.filter((r) => r.key === key).map((r) => (r.result ? fmt(r.result.jobsPerSec) : "-")).join(", ")}`);
  }
}

/** Millrace's jobs/s over BullMQ's, for each round both finished. */
function pairedRatios(all: Row[]): number[] {
  const out: number[] = [];
  for (let round = 1; round <= opts.rounds; round++) {
    const of = (key: string) => all.find((r) => r.key === key && r.round === round)?.result?.jobsPerSec;
    const m = of("millrace"), b = of("bullmq");
    if (m && b) out.push(m / b);
  }
  return out;
}

const verdict: Record<string, unknown> = {};
const mr = rows.find((r) => r.key === "millrace");
if (mr) {
  console.log("");
  const m = ok(mr);
  if (!mr.available) console.log("millrace: not available");
  else if (!m) console.log(`millrace: FAIL (run incomplete: ${mr.error ?? "submit errors or unfinished tasks"})`);
  else {
    const fast = bull ? m.jobsPerSec >= bull.jobsPerSec : undefined;
    const p99 = m.submitP99Ms < 100;
    verdict.throughputAtLeastBullmq = fast;
    verdict.submitP99Under100ms = p99;
    console.log(
      `millrace jobs/s >= Hono+BullMQ: ${fast === undefined ? "n/a (BullMQ not measured in this run)" : fast ? "PASS" : "FAIL"} ` +
        `(${fmt(m.jobsPerSec)} vs ${fmt(bull?.jobsPerSec)})`,
    );
    console.log(`millrace submit p99 < 100 ms:   ${p99 ? "PASS" : "FAIL"} (${fmt(m.submitP99Ms, 1)} ms)`);
    // Rounds pair up (the two ran a minute apart), so their ratios show how much of the verdict is the
    // host's mood: a margin smaller than the spread of these is parity, not a lead.
    const pairs = pairedRatios(allRows);
    if (pairs.length > 1) {
      verdict.roundRatios = pairs;
      const ahead = pairs.filter((x) => x >= 1).length;
      console.log(`millrace / BullMQ per round:    ${pairs.map((x) => x.toFixed(2)).join(", ")} (ahead in ${ahead} of ${pairs.length})`);
    }
  }
}
for (const r of rows.filter((x) => x.wrk)) {
  console.log(`${r.key}: undici driver ${fmt(r.result?.submitsPerSec)} req/s vs wrk ${fmt(r.wrk!.requestsPerSec)} req/s (p99 ${fmt(r.wrk!.p99Ms, 1)} ms)`);
}

mkdirSync(resultsDir, { recursive: true });
const out = join(resultsDir, "throughput.json");
writeFileSync(
  out,
  JSON.stringify(
    {
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      machine: { cores: os.cpus().length, cpu: os.cpus()[0]?.model, memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version },
      options: { ...opts, niceApplied },
      results: rows,
      rounds: allRows,
      millrace: verdict,
    },
    null,
    2,
  ),
);
console.log(`\nresults written to ${out}`);
