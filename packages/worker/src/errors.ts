import { MillraceError } from "@millrace/runtime";

/** The task was revoked while it ran. */
export class TaskRevokedError extends MillraceError {
  constructor(message = "task revoked") {
    super(message, "REVOKED", 409, false);
  }
}

/** Soft or hard time limit hit. Not retried. */
export class TimeLimitExceeded extends MillraceError {
  readonly hard: boolean;
  constructor(message: string, hard: boolean) {
    super(message, hard ? "HARD_TIME_LIMIT" : "SOFT_TIME_LIMIT", 408, false);
    this.hard = hard;
  }
}

/** The worker is shutting down; the job is handed back to the queue. */
export class WorkerShutdownError extends MillraceError {
  constructor() {
    super("worker shutting down", "SHUTDOWN", 503, true);
  }
}

/** A job of a kind this worker has no handler for: a deployment mistake, not retried. */
export class NoHandlerError extends MillraceError {
  constructor(kind: string) {
    super(`no handler for job kind ${kind}`, "NO_HANDLER", 500, false);
  }
}
