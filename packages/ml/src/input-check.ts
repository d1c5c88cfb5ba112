// Warnings about request rows that predict and explain accept but that are
// probably a mistake: an input column no row carries (the pipeline imputes it
// for every row, so the predictions are all "average" ones) and columns the
// model does not read (ignored). A mistyped column name causes both, so the
// unknown one names the absent one it is likely meant to be.
//
// These are warnings, not errors: a request may carry id or label columns, and
// a single-row request may leave out a column the pipeline imputes on purpose.
import type { ColumnSchema } from "./frame";

export type InputWarningCode = "COLUMN_ABSENT" | "COLUMN_UNKNOWN";

export interface InputWarning {
  code: InputWarningCode;
  column: string;
  message: string;
}

/** At most this many unknown columns are reported (a wide table of extras would swamp the answer). */
export const MAX_UNKNOWN_REPORTED = 20;

/**
 * `inputs` are the raw columns the model reads; `target` may appear in rows
 * (scoring labelled data) and is ignored without a warning.
 */
export function inputWarnings(rows: readonly Record<string, unknown>[], inputs: readonly ColumnSchema[], target: string): InputWarning[] {
  const known = new Set(inputs.map((c) => c.name));
  const seen = new Set<string>();
  const unknown = new Set<string>();
  for (const row of rows) {
    for (const k of Object.keys(row)) {
      if (known.has(k)) seen.add(k);
      else if (k !== target) unknown.add(k);
    }
  }
  const absent = inputs.map((c) => c.name).filter((n) => !seen.has(n));
  const out: InputWarning[] = absent.map((column) => ({
    code: "COLUMN_ABSENT",
    column,
    message: `column '${column}' is absent from every instance; it was treated as missing in all of them`,
  }));
  for (const column of [...unknown].slice(0, MAX_UNKNOWN_REPORTED)) {
    const meant = likelyMeant(column, absent);
    out.push({
      code: "COLUMN_UNKNOWN",
      column,
      message: `column '${column}' is not an input of the model and was ignored${meant ? `; did you mean '${meant}'?` : ""}`,
    });
  }
  if (unknown.size > MAX_UNKNOWN_REPORTED) {
    out.push({ code: "COLUMN_UNKNOWN", column: "*", message: `${unknown.size - MAX_UNKNOWN_REPORTED} more columns are not inputs of the model and were ignored` });
  }
  return out;
}

/** The absent input a mistyped name most likely stands for: same letters and digits, or within a small edit distance. */
function likelyMeant(name: string, absent: readonly string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, "");
  let best: string | undefined;
  let bestD = Infinity;
  for (const a of absent) {
    const d = norm(a) === norm(name) ? 0 : editDistance(name.toLowerCase(), a.toLowerCase());
    const allowed = Math.min(2, Math.floor(Math.max(name.length, a.length) / 3));
    if (d <= allowed && d < bestD) {
      best = a;
      bestD = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return Infinity;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}
