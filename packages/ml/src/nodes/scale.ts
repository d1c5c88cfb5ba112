// scale node: standard | minmax | robust.

import { DataError } from "../errors";
import { withColumns, type Cell, type ColumnType } from "../frame";
import { checkColumnRefs, numericCell, resolveColumns } from "./columns";
import { median } from "./impute";
import type { FittedState, NodeImpl } from "./types";

export type ScaleMethod = "standard" | "minmax" | "robust";

export interface ScaleParams {
  method: ScaleMethod;
  columns?: string[];
}

export interface ScaleState extends FittedState {
  method: ScaleMethod;
  /** x' = (x − center) / scale per column. */
  center: Record<string, number>;
  scale: Record<string, number>;
}

const DEFAULT: readonly ColumnType[] = ["number", "integer", "date"];
const ALLOWED: readonly ColumnType[] = ["number", "integer", "date", "boolean"];

/** Quantile with linear interpolation between order statistics (numpy default). */
export function quantileSorted(sorted: Float64Array, q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos), hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export const scaleNode: NodeImpl<ScaleParams, ScaleState> = {
  validate(p, schema, at) {
    const cols = checkColumnRefs(p.columns, schema, `${at}.columns`, { allowed: ALLOWED, purpose: `${p.method} scaling` });
    for (const name of cols ?? [...schema.columns].filter(([n, t]) => n !== schema.target && DEFAULT.includes(t)).map(([n]) => n)) {
      if (schema.columns.has(name)) schema.columns.set(name, "number");
    }
    // Wildcard families (one-hot outputs) become numbers too when scaled by default.
    if (!cols) for (const [prefix, t] of schema.wildcards) if (DEFAULT.includes(t)) schema.wildcards.set(prefix, "number");
  },

  fit(frame, p, ctx) {
    const cols = resolveColumns(frame, p.columns, DEFAULT, ctx.target);
    const center: Record<string, number> = {}, scale: Record<string, number> = {};
    for (const col of cols) {
      const xs: number[] = [];
      for (const v of col.values) {
        const x = numericCell(v);
        if (x !== null) xs.push(x);
      }
      if (xs.length === 0) throw new DataError(`column '${col.name}' has no values to fit the ${p.method} scaler on`);
      let c: number, s: number;
      if (p.method === "standard") {
        let sum = 0;
        for (const x of xs) sum += x;
        c = sum / xs.length;
        let ss = 0;
        for (const x of xs) ss += (x - c) ** 2;
        s = Math.sqrt(ss / xs.length);
      } else {
        const sorted = Float64Array.from(xs).sort();
        if (p.method === "minmax") {
          c = sorted[0];
          s = sorted[sorted.length - 1] - sorted[0];
        } else {
          c = median(sorted);
          s = quantileSorted(sorted, 0.75) - quantileSorted(sorted, 0.25);
        }
      }
      center[col.name] = c;
      scale[col.name] = s > 0 && Number.isFinite(s) ? s : 1; // constant column: leave spread alone (sklearn)
    }
    return { method: p.method, columns: cols.map((c) => c.name), center, scale };
  },

  apply(frame, s) {
    const replace = [];
    for (const name of s.columns) {
      const col = frame.columns.find((c) => c.name === name);
      if (!col) continue;
      const c = s.center[name], k = s.scale[name];
      const values = new Array<Cell>(frame.nRows);
      for (let i = 0; i < frame.nRows; i++) {
        const x = numericCell(col.values[i]);
        values[i] = x === null ? null : (x - c) / k;
      }
      replace.push({ name, type: "number" as const, values });
    }
    return withColumns(frame, replace);
  },

  describe(s) {
    return `${s.method}: ${s.columns.map((c) => `${c} (center ${+s.center[c].toPrecision(6)}, scale ${+s.scale[c].toPrecision(6)})`).join(", ")}`;
  },
};
