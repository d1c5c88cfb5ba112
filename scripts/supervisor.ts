// Keeps the dev runner's processes up. A service that dies (a crash, an OOM
// kill, `kill -9` to see what happens to a running task) is started again
// after a short backoff, as Kubernetes would restart its pod, so the stack
// stays usable and its queued work is picked up again. A process that keeps
// dying is a crash loop, not bad luck: after `maxRestarts` restarts within
// `windowMs`, the supervisor gives up and the runner stops the stack, saying
// which process and how it last exited.
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";

export interface RestartPolicyOptions {
  /** Restarts allowed within windowMs before giving up. */
  maxRestarts: number;
  windowMs: number;
  /** Wait before the first restart; doubles with each restart still in the window. */
  firstDelayMs: number;
  maxDelayMs: number;
}

export const DEV_RESTARTS: RestartPolicyOptions = { maxRestarts: 5, windowMs: 60_000, firstDelayMs: 500, maxDelayMs: 8_000 };

export type ExitDecision = { restart: true; delayMs: number; restartsInWindow: number } | { restart: false; restartsInWindow: number };

/** What to do when a process exits unexpectedly. Restarts older than the window are forgotten, so a process that ran well for a while starts again at the first delay. */
export class RestartPolicy {
  private restarts: number[] = [];

  constructor(
    private readonly opts: RestartPolicyOptions = DEV_RESTARTS,
    private readonly now: () => number = Date.now,
  ) {}

  onExit(): ExitDecision {
    const t = this.now();
    this.restarts = this.restarts.filter((r) => t - r < this.opts.windowMs);
    if (this.restarts.length >= this.opts.maxRestarts) return { restart: false, restartsInWindow: this.restarts.length };
    const delayMs = Math.min(this.opts.maxDelayMs, this.opts.firstDelayMs * 2 ** this.restarts.length);
    this.restarts.push(t);
    return { restart: true, delayMs, restartsInWindow: this.restarts.length };
  }
}

export interface SupervisedEvents {
  /** Each start, the first and every restart. */
  started?(child: ChildProcess, restarts: number): void;
  /** An unexpected exit; `decision` says whether (and when) it is started again. */
  exited?(exit: string, decision: ExitDecision): void;
  /** The restarts ran out: the process is left down. */
  gaveUp?(exit: string): void;
}

/** One process, started again by its policy whenever it exits before stop(). */
export class Supervised {
  private child?: ChildProcess;
  private stopped = false;
  private restartTimer?: NodeJS.Timeout;
  private restarts = 0;

  constructor(
    private readonly cmd: string,
    private readonly args: string[],
    private readonly spawnOpts: SpawnOptions,
    private readonly events: SupervisedEvents = {},
    private readonly policy = new RestartPolicy(),
  ) {}

  /** The running process, if any (undefined while a restart is pending or after giving up). */
  get current(): ChildProcess | undefined {
    return this.child;
  }

  start(): ChildProcess {
    const child = spawn(this.cmd, this.args, this.spawnOpts);
    this.child = child;
    let ended = false;
    const onEnd = (exit: string) => {
      if (ended) return;
      ended = true;
      if (this.child === child) this.child = undefined;
      if (this.stopped) return;
      const decision = this.policy.onExit();
      this.events.exited?.(exit, decision);
      if (!decision.restart) {
        this.events.gaveUp?.(exit);
        return;
      }
      this.restartTimer = setTimeout(() => {
        this.restartTimer = undefined;
        if (!this.stopped) {
          this.restarts += 1;
          this.start();
        }
      }, decision.delayMs);
    };
    child.once("exit", (code, signal) => onEnd(String(code ?? signal)));
    // A command that could not be spawned at all (ENOENT) may never emit "exit".
    child.once("error", (err) => {
      if (child.pid === undefined) onEnd((err as NodeJS.ErrnoException).code ?? err.message);
    });
    this.events.started?.(child, this.restarts);
    return child;
  }

  /** No more restarts; signals the running process and resolves once it has exited. */
  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    const c = this.child;
    if (!c || c.pid === undefined || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once("exit", r));
    c.kill(signal);
    await exited;
  }
}
