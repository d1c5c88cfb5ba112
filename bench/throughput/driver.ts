// Load driver on undici's Pool. Plain fetch() spends more CPU per request than
// a small server does, which on two shared cores would measure the driver; a Pool
// of 64 keep-alive connections without pipelining costs a fraction of that.
import { Pool } from "undici";

interface Reply {
  status: number;
  text: string;
}

/**
 * One request through pool.dispatch with a bare handler: no Readable stream per
 * response as pool.request() makes, which saves a quarter of the driver's CPU.
 */
function send(pool: Pool, method: "GET" | "POST", path: string, headers: Record<string, string>, body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    let status = 0;
    const chunks: Buffer[] = [];
    pool.dispatch(
      { method, path, headers, body },
      {
        // undici tells the new handler API from the deprecated one by this method.
        onRequestStart() {},
        onResponseStart(_c, statusCode) {
          status = statusCode;
        },
        onResponseData(_c, chunk) {
          chunks.push(chunk);
        },
        onResponseEnd() {
          resolve({ status, text: chunks.length === 1 ? chunks[0].toString() : Buffer.concat(chunks).toString() });
        },
        onResponseError(_c, err) {
          reject(err);
        },
      },
    );
  });
}

export interface SubmitSpec {
  path: string;
  headers: Record<string, string>;
  body: string;
  /** Pulls the task id out of the submit answer's JSON. */
  taskId(json: unknown): string;
}

export interface PollSpec {
  path(id: string): string;
  headers: Record<string, string>;
  /** undefined while the task is still running, else the terminal state name. */
  terminal(json: unknown): string | undefined;
}

export interface LoadOpts {
  origin: string;
  jobs: number;
  concurrency: number;
  submit: SubmitSpec;
  /** Absent for systems with nothing to poll (the bare handler): terminal = submitted. */
  poll?: PollSpec;
  /** Least wait before asking again about a task that was not terminal. */
  pollIntervalMs: number;
  /** Hard bound on the whole run, submit plus poll. */
  timeoutMs: number;
}

export interface LoadResult {
  jobs: number;
  submitted: number;
  submitErrors: number;
  firstSubmitError?: string;
  /** Seconds from the first submit sent to the last submit answered. */
  submitSeconds: number;
  /** Seconds from the first submit sent to the last task seen terminal. */
  terminalSeconds: number;
  submitsPerSec: number;
  jobsPerSec: number;
  submitP50Ms: number;
  submitP99Ms: number;
  submitMaxMs: number;
  pollRequests: number;
  pollErrors: number;
  /** Terminal states seen, e.g. { SUCCESS: 20000 }. */
  states: Record<string, number>;
  /** Tasks never seen terminal before the timeout. */
  unfinished: number;
  /** CPU the driver process itself used, as % of one core, over terminalSeconds. */
  driverCpuPct: number;
}

export function percentile(sortedMs: Float64Array, p: number): number {
  if (sortedMs.length === 0) return NaN;
  const i = Math.min(sortedMs.length - 1, Math.max(0, Math.ceil((p / 100) * sortedMs.length) - 1));
  return sortedMs[i];
}

const nowNs = () => process.hrtime.bigint();
const secondsSince = (t0: bigint) => Number(nowNs() - t0) / 1e9;

export async function runLoad(opts: LoadOpts): Promise<LoadResult> {
  const pool = new Pool(opts.origin, {
    connections: opts.concurrency,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    headersTimeout: 30_000,
    bodyTimeout: 30_000,
  });
  const cpu0 = process.cpuUsage();
  const t0 = nowNs();
  const deadline = Date.now() + opts.timeoutMs;
  try {
    // Phase A: every worker takes the next job number, so `concurrency` POSTs are in flight.
    const latency = new Float64Array(opts.jobs);
    const ids: (string | undefined)[] = new Array(opts.jobs);
    let next = 0;
    let submitted = 0;
    let submitErrors = 0;
    let firstSubmitError: string | undefined;
    let lastSubmitDone = t0;
    const submitWorker = async () => {
      for (let i = next++; i < opts.jobs && Date.now() < deadline; i = next++) {
        const start = nowNs();
        submitted++;
        try {
          const { status, text } = await send(pool, "POST", opts.submit.path, opts.submit.headers, opts.submit.body);
          const end = nowNs();
          latency[i] = Number(end - start) / 1e6;
          lastSubmitDone = end;
          if (status >= 300) throw new Error(`HTTP ${status}: ${text.slice(0, 200)}`);
          ids[i] = opts.submit.taskId(JSON.parse(text));
        } catch (err) {
          latency[i] = Number(nowNs() - start) / 1e6;
          submitErrors++;
          firstSubmitError ??= (err as Error).message;
        }
      }
    };
    await Promise.all(Array.from({ length: opts.concurrency }, submitWorker));
    const submitSeconds = Number(lastSubmitDone - t0) / 1e9;

    const states: Record<string, number> = {};
    let pollRequests = 0;
    let pollErrors = 0;
    let unfinished = 0;
    let lastTerminal = lastSubmitDone;
    if (opts.poll) {
      const r = await pollAll(pool, opts, ids.filter((x): x is string => x !== undefined), deadline, states);
      pollRequests = r.requests;
      pollErrors = r.errors;
      unfinished = r.unfinished;
      if (r.lastTerminal > lastTerminal) lastTerminal = r.lastTerminal;
    } else {
      states.SUBMITTED = submitted - submitErrors;
    }
    const terminalSeconds = Number(lastTerminal - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    // Jobs never sent (timeout) keep latency 0 and sort first: drop them.
    const sorted = latency.sort().subarray(opts.jobs - submitted);
    const done = submitted - submitErrors - unfinished;
    return {
      jobs: opts.jobs,
      submitted,
      submitErrors,
      firstSubmitError,
      submitSeconds,
      terminalSeconds,
      submitsPerSec: (submitted - submitErrors) / submitSeconds,
      jobsPerSec: done / terminalSeconds,
      submitP50Ms: percentile(sorted, 50),
      submitP99Ms: percentile(sorted, 99),
      submitMaxMs: sorted[sorted.length - 1] ?? NaN,
      pollRequests,
      pollErrors,
      states,
      unfinished,
      driverCpuPct: ((cpu.user + cpu.system) / 1e6 / secondsSince(t0)) * 100,
    };
  } finally {
    await pool.destroy();
  }
}

/**
 * Phase B: polls every id until terminal. Every system here finishes tasks in
 * roughly submit order, so the ids are asked about oldest first, and a task that
 * is not yet terminal means the poller has caught up with the system: newer ids
 * are held back until the older ones are done, and the number of GETs in flight
 * is halved (at most once per interval) and grows back by one per terminal
 * answer. Otherwise 64 pollers re-asking about a backlog of unfinished tasks would
 * take the two cores away from the workers whose throughput is being measured.
 */
async function pollAll(
  pool: Pool,
  opts: LoadOpts,
  ids: string[],
  deadline: number,
  states: Record<string, number>,
): Promise<{ requests: number; errors: number; unfinished: number; lastTerminal: bigint }> {
  const poll = opts.poll!;
  const interval = opts.pollIntervalMs;
  let fresh = 0; // next never-asked index into ids
  const retry: { id: string; notBefore: number }[] = []; // FIFO; notBefore only grows, so it stays sorted
  let retryHead = 0;
  let remaining = ids.length;
  let inFlight = 0;
  let window = opts.concurrency;
  let lastCut = 0;
  let requests = 0;
  let errors = 0;
  let lastTerminal = 0n;
  let timer: NodeJS.Timeout | undefined;

  return new Promise((resolve) => {
    const finish = () => {
      if (timer) clearTimeout(timer);
      resolve({ requests, errors, unfinished: remaining, lastTerminal });
    };
    const take = (now: number): string | undefined => {
      if (retryHead < retry.length) {
        const r = retry[retryHead];
        if (r.notBefore > now) return undefined; // older work pending: do not run ahead of it
        retryHead++;
        if (retryHead > 4096 && retryHead * 2 > retry.length) {
          retry.splice(0, retryHead);
          retryHead = 0;
        }
        return r.id;
      }
      return fresh < ids.length ? ids[fresh++] : undefined;
    };
    const pump = () => {
      if (remaining === 0) return finish();
      if (Date.now() > deadline) {
        if (inFlight === 0) finish();
        return;
      }
      const now = Date.now();
      while (inFlight < window) {
        const id = take(now);
        if (id === undefined) break;
        inFlight++;
        requests++;
        void ask(id);
      }
      if (inFlight === 0 && !timer && retryHead < retry.length) {
        timer = setTimeout(() => {
          timer = undefined;
          pump();
        }, Math.max(1, retry[retryHead].notBefore - now));
      }
    };
    const ask = async (id: string) => {
      let state: string | undefined;
      try {
        const { status, text } = await send(pool, "GET", poll.path(id), poll.headers);
        if (status === 200) state = poll.terminal(JSON.parse(text));
        else if (status !== 404) errors++; // 404: not projected yet, ask again
      } catch {
        errors++;
      }
      inFlight--;
      const now = Date.now();
      if (state !== undefined) {
        states[state] = (states[state] ?? 0) + 1;
        remaining--;
        lastTerminal = nowNs();
        if (window < opts.concurrency) window++;
      } else {
        retry.push({ id, notBefore: now + interval });
        if (now - lastCut >= interval) {
          window = Math.max(1, window >> 1);
          lastCut = now;
        }
      }
      pump();
    };
    pump();
  });
}
