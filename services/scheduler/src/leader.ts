// The leader loop: every tick, keep or try to take the lease; while leading,
// fire due instants, retry unfinished submissions and refresh run states.
// Ticks never overlap, so one process never fires the same instant twice.
import { errorMessage, type Clock, type Logger } from "@millrace/runtime";
import type { Firing } from "./firing";
import type { LeaderLease } from "./lease";
import type { RunWatch } from "./run-watch";

export interface LeaderLoopOptions {
  lease: LeaderLease;
  firing: Firing;
  runs: RunWatch;
  clock: Clock;
  logger: Logger;
  tickMs: number;
  runPollMs: number;
}

export class LeaderLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private stopped = false;
  private lastRunPoll = -Infinity;

  constructor(private readonly o: LeaderLoopOptions) {}

  get isLeader(): boolean {
    return this.o.lease.held;
  }

  /** Starts ticking; resolves when the first pass (take the lease, fire what is due) is done. */
  start(): Promise<void> {
    const loop = (): Promise<void> =>
      this.tick().finally(() => {
        if (!this.stopped) this.timer = setTimeout(loop, this.o.tickMs);
      });
    return loop();
  }

  /** One pass; concurrent callers queue behind the one running. */
  tick(): Promise<void> {
    const next = this.running.then(() => (this.stopped ? undefined : this.pass()));
    this.running = next.catch(() => undefined);
    return next;
  }

  private async pass(): Promise<void> {
    const { lease, firing, runs, clock, logger } = this.o;
    try {
      const leading = (await lease.keep()) || (await lease.acquire());
      if (!leading) return;
      const check = () => lease.confirm();
      await firing.fireDue(check);
      await firing.resubmitStuck(check);
      if (clock.now() - this.lastRunPoll >= this.o.runPollMs && lease.held) {
        this.lastRunPoll = clock.now();
        await runs.poll();
      }
    } catch (err) {
      logger.error({ err: errorMessage(err) }, "scheduler tick failed");
    }
  }

  /** Stops ticking, waits for the pass in flight, then gives the lease up. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    await this.o.lease.release();
  }
}
