// missing_values node: drop_rows | mean | median | most_frequent | constant.

import { DataError, PipelineValidationError, RowValidationError } from "../errors";
import { isNumericType, parseDate, takeRows, withColumns, type Cell, type Column, type ColumnType } from "../frame";
import { checkColumnRefs, compareCells, resolveColumns } from "./columns";
import type { FittedState, NodeImpl } from "./types";

export type ImputeStrategy = "drop_rows" | "mean" | "median" | "most_frequent" | "constant";

export interface ImputeParams {
  strategy: ImputeStrategy;
  columns?: string[];
  fill_value?: unknown;
}

export interface ImputeState extends FittedState {
  strategy: ImputeStrategy;
  /** Fill value per column (absent for drop_rows). */
  fills: Record<string, Cell>;
  /** Output type per column (mean/median turn integer into number). */
  types: Record<string, ColumnType>;
}

const NUMERIC: readonly ColumnType[] = ["number", "integer", "date"];
const ALL: readonly ColumnType[] = ["number", "integer", "date", "boolean", "category", "text"];

function constantFor(type: ColumnType, fill: unknown, column: string): Cell {
  if (fill === undefined || fill === null) {
    return isNumericType(type) ? 0 : type === "boolean" ? false : "missing_value";
  }
  if (isNumericType(type)) {
    if (typeof fill === "number" && Number.isFinite(fill)) return fill;
    if (type === "date" && typeof fill === "string") {
      const t = parseDate(fill);
      if (t !== null) return t;
    }
    throw new DataError(`fill_value ${JSON.stringify(fill)} does not fit ${type} column '${column}'`);
  }
  if (type === "boolean") {
    if (typeof fill === "boolean") return fill;
    throw new DataError(`fill_value ${JSON.stringify(fill)} does not fit boolean column '${column}'`);
  }
  if (typeof fill === "string" || typeof fill === "number" || typeof fill === "boolean") return String(fill);
  throw new DataError(`fill_value must be a string, number or boolean`);
}

export function median(sorted: Float64Array | number[]): number {
  const n = sorted.length;
  const h = n >> 1;
  return n % 2 ? sorted[h] : (sorted[h - 1] + sorted[h]) / 2;
}

function nonNullNumbers(col: Column): Float64Array {
  let n = 0;
  for (const v of col.values) if (v !== null) n++;
  const out = new Float64Array(n);
  let k = 0;
  for (const v of col.values) if (v !== null) out[k++] = v as number;
  return out;
}

/** Mode; ties go to the smallest value (sklearn SimpleImputer). */
export function mostFrequent(values: Cell[]): Cell {
  const counts = new Map<Cell, number>();
  for (const v of values) if (v !== null) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best: Cell = null, bestN = 0;
  for (const [v, n] of counts) {
    if (n > bestN || (n === bestN && best !== null && compareCells(v as never, best as never) < 0)) { best = v; bestN = n; }
  }
  return best;
}

export const imputeNode: NodeImpl<ImputeParams, ImputeState> = {
  validate(p, schema, at) {
    const numeric = p.strategy === "mean" || p.strategy === "median";
    const cols = checkColumnRefs(p.columns, schema, `${at}.columns`, { allowed: numeric ? NUMERIC : undefined, purpose: `${p.strategy} imputation` });
    if (p.fill_value !== undefined && p.strategy !== "constant") {
      throw new PipelineValidationError("fill_value is only used with strategy 'constant'", `${at}.fill_value`);
    }
    if (p.strategy === "constant" && p.fill_value !== undefined && p.fill_value !== null) {
      const fv = p.fill_value;
      if (!["string", "number", "boolean"].includes(typeof fv)) throw new PipelineValidationError("must be a string, number or boolean", `${at}.fill_value`);
      for (const [i, name] of (cols ?? []).entries()) {
        const t = schema.columns.get(name);
        if (t && isNumericType(t) && typeof fv !== "number" && !(t === "date" && typeof fv === "string" && parseDate(fv) !== null)) {
          throw new PipelineValidationError(`fill_value ${JSON.stringify(fv)} does not fit ${t} column '${name}'`, `${at}.columns[${i}]`);
        }
      }
    }
    if (numeric) {
      const targets = cols ?? [...schema.columns].filter(([n, t]) => n !== schema.target && NUMERIC.includes(t)).map(([n]) => n);
      for (const name of targets) if (schema.columns.get(name) === "integer") schema.columns.set(name, "number");
    }
  },

  fit(frame, p, ctx) {
    const numeric = p.strategy === "mean" || p.strategy === "median";
    const cols = resolveColumns(frame, p.columns, numeric ? NUMERIC : ALL, ctx.target);
    const fills: Record<string, Cell> = {};
    const types: Record<string, ColumnType> = {};
    for (const col of cols) {
      types[col.name] = col.type;
      if (p.strategy === "drop_rows") continue;
      if (numeric && !isNumericType(col.type)) throw new DataError(`${p.strategy} imputation needs a numeric column; '${col.name}' is ${col.type}`);
      if (p.strategy === "constant") { fills[col.name] = constantFor(col.type, p.fill_value, col.name); continue; }
      if (numeric) {
        const xs = nonNullNumbers(col);
        if (xs.length === 0) throw new DataError(`column '${col.name}' has no values to compute the ${p.strategy} from`);
        if (p.strategy === "mean") {
          let s = 0;
          for (let i = 0; i < xs.length; i++) s += xs[i];
          fills[col.name] = s / xs.length;
        } else {
          xs.sort();
          fills[col.name] = median(xs);
        }
        if (col.type === "integer") types[col.name] = "number";
        continue;
      }
      const mode = mostFrequent(col.values);
      if (mode === null) throw new DataError(`column '${col.name}' has no values to compute the most frequent value from`);
      fills[col.name] = mode;
    }
    return { strategy: p.strategy, columns: cols.map((c) => c.name), fills, types };
  },

  apply(frame, s, ctx) {
    const present = s.columns.map((n) => frame.columns.find((c) => c.name === n)).filter((c): c is Column => !!c);
    if (s.strategy === "drop_rows") {
      if (ctx.mode === "predict") {
        for (const col of present) {
          const i = col.values.indexOf(null);
          if (i >= 0) throw new RowValidationError("missing value (training dropped rows where this column was missing)", i, ctx.sourceOf(col.name));
        }
        return frame;
      }
      const keep: number[] = [];
      outer: for (let i = 0; i < frame.nRows; i++) {
        for (const col of present) if (col.values[i] === null) continue outer;
        keep.push(i);
      }
      return keep.length === frame.nRows ? frame : takeRows(frame, keep);
    }
    const replaced = present.map((col) => {
      const fill = s.fills[col.name];
      const values = col.values.slice();
      for (let i = 0; i < values.length; i++) if (values[i] === null) values[i] = fill;
      return { name: col.name, type: s.types[col.name] ?? col.type, values };
    });
    return withColumns(frame, replaced);
  },

  describe(s) {
    if (s.strategy === "drop_rows") return `drop rows missing any of ${s.columns.length} column(s)`;
    if (!s.columns.length) return `${s.strategy}: no columns to fill`;
    return `${s.strategy}: ${Object.entries(s.fills).map(([k, v]) => `${k}=${typeof v === "number" ? +v.toFixed(6) : v}`).join(", ")}`;
  },
};
