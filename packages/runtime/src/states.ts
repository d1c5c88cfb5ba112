import { TaskState } from "@millrace/contracts";

export const TERMINAL_STATES: ReadonlySet<TaskState> = new Set([TaskState.SUCCESS, TaskState.FAILURE, TaskState.REVOKED]);

export function isTerminal(s: TaskState): boolean {
  return TERMINAL_STATES.has(s);
}

const NAMES: Record<number, string> = {
  [TaskState.PENDING]: "PENDING",
  [TaskState.STARTED]: "STARTED",
  [TaskState.PROGRESS]: "PROGRESS",
  [TaskState.RETRY]: "RETRY",
  [TaskState.SUCCESS]: "SUCCESS",
  [TaskState.FAILURE]: "FAILURE",
  [TaskState.REVOKED]: "REVOKED",
};

export function stateName(s: TaskState): string {
  return NAMES[s] ?? "PENDING";
}

export function stateFromName(name: string): TaskState | undefined {
  const entry = Object.entries(NAMES).find(([, n]) => n === name.toUpperCase());
  return entry ? (Number(entry[0]) as TaskState) : undefined;
}
