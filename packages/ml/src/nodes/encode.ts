// encode node: one_hot | label | ordinal | target.

import { DataError, PipelineValidationError, RowValidationError } from "../errors";
import { withColumns, type Cell, type Column, type ColumnType, type DataFrame } from "../frame";
import { checkColumnRefs, compareCells, resolveColumns } from "./columns";
import type { FitContext, FittedState, NodeImpl } from "./types";

export type EncodeMethod = "one_hot" | "label" | "ordinal" | "target";

export interface EncodeParams {
  method: EncodeMethod;
  columns?: string[];
  categories?: Record<string, unknown[]>;
  handle_unknown?: "ignore" | "error";
  max_categories?: number;
  smoothing?: number;
}

export interface EncodeState extends FittedState {
  method: EncodeMethod;
  handle_unknown: "ignore" | "error";
  /** Per column: category keys (String(value)) in code order. */
  categories: Record<string, string[]>;
  /** Per column: generated column names (one_hot, target). */
  outputs: Record<string, string[]>;
  /** target: per column, per output, the encoding of each category (aligned with categories). */
  encodings?: Record<string, number[][]>;
  /** target: per output, the prior used for unknown categories. */
  prior?: number[];
}

const ENCODABLE: readonly ColumnType[] = ["category", "text", "boolean", "integer"];

function targetOutputs(col: string, ctx: { task: string; classes: unknown[] }): string[] {
  if (ctx.task === "regression") return [col];
  const cls = ctx.classes.map(String);
  return cls.length === 2 ? [`${col}__${cls[1]}`] : cls.map((c) => `${col}__${c}`);
}

function sortedKeys(values: Cell[]): { keys: string[]; counts: Map<string, number> } {
  const first = new Map<string, Cell>();
  const counts = new Map<string, number>();
  for (const v of values) {
    if (v === null) continue;
    const k = String(v);
    if (!first.has(k)) first.set(k, v);
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  const keys = [...first.entries()].sort((a, b) => compareCells(a[1] as never, b[1] as never)).map(([k]) => k);
  return { keys, counts };
}

export const encodeNode: NodeImpl<EncodeParams, EncodeState> = {
  validate(p, schema, at) {
    if (p.max_categories !== undefined && p.method !== "one_hot") throw new PipelineValidationError("max_categories is only used with method 'one_hot'", `${at}.max_categories`);
    if (p.categories !== undefined && p.method !== "one_hot" && p.method !== "ordinal") {
      throw new PipelineValidationError("categories is only used with methods 'one_hot' and 'ordinal'", `${at}.categories`);
    }
    const explicit = checkColumnRefs(p.columns, schema, `${at}.columns`, { allowed: ENCODABLE, purpose: `${p.method} encoding` });
    const cols = explicit ?? [...schema.columns].filter(([n, t]) => n !== schema.target && t === "category").map(([n]) => n);
    for (const [name, list] of Object.entries(p.categories ?? {})) {
      const field = `${at}.categories.${name}`;
      if (!cols.includes(name)) throw new PipelineValidationError(`column '${name}' is not encoded by this node`, field);
      if (!Array.isArray(list) || list.length === 0) throw new PipelineValidationError("must be a non-empty array of category values", field);
      list.forEach((v, i) => {
        if (!["string", "number", "boolean"].includes(typeof v)) throw new PipelineValidationError("must be a string, number or boolean", `${field}[${i}]`);
      });
    }
    for (const name of cols) {
      schema.columns.delete(name);
      if (p.method === "one_hot") {
        const fixed = p.categories?.[name];
        if (fixed) for (const v of fixed) schema.columns.set(`${name}=${String(v)}`, "integer");
        else schema.wildcards.set(`${name}=`, "integer");
      } else if (p.method === "target") {
        if (schema.task === "regression") schema.columns.set(name, "number");
        else schema.wildcards.set(`${name}__`, "number");
      } else {
        schema.columns.set(name, "integer");
      }
    }
  },

  fit(frame, p, ctx) {
    const cols = resolveColumns(frame, p.columns, ["category"], ctx.target);
    const state: EncodeState = {
      method: p.method,
      handle_unknown: p.handle_unknown ?? "ignore",
      columns: cols.map((c) => c.name),
      categories: {},
      outputs: {},
      derived: {},
    };
    for (const col of cols) {
      const { keys, counts } = sortedKeys(col.values);
      let cats = keys;
      const fixed = p.categories?.[col.name];
      if (fixed) {
        cats = fixed.map(String);
        if (p.method === "ordinal") {
          const missing = keys.find((k) => !cats.includes(k));
          if (missing !== undefined) throw new DataError(`value '${missing}' of column '${col.name}' is not in categories.${col.name}`);
        }
      } else if (p.method === "one_hot" && p.max_categories !== undefined && keys.length > p.max_categories) {
        const top = new Set([...keys].sort((a, b) => counts.get(b)! - counts.get(a)! || keys.indexOf(a) - keys.indexOf(b)).slice(0, p.max_categories));
        cats = keys.filter((k) => top.has(k));
      }
      if (cats.length === 0) throw new DataError(`column '${col.name}' has no values to encode`);
      state.categories[col.name] = cats;
      if (p.method === "one_hot") {
        state.outputs[col.name] = cats.map((k) => `${col.name}=${k}`);
      } else if (p.method === "target") {
        state.outputs[col.name] = targetOutputs(col.name, ctx);
      }
      for (const out of state.outputs[col.name] ?? []) {
        if (out !== col.name && frame.columns.some((c) => c.name === out)) throw new DataError(`encoded column name '${out}' collides with an existing column`);
        state.derived![out] = col.name;
      }
    }
    if (p.method === "target") fitTarget(frame, cols, state, p.smoothing ?? 1, ctx);
    return state;
  },

  apply(frame, s, ctx) {
    const replace: Column[] = [];
    for (const name of s.columns) {
      const col = frame.columns.find((c) => c.name === name);
      if (!col) continue;
      const cats = s.categories[name];
      const index = new Map(cats.map((k, i) => [k, i]));
      const n = frame.nRows;
      const codes = new Int32Array(n); // -1 unknown, -2 missing
      for (let i = 0; i < n; i++) {
        const v = col.values[i];
        if (v === null) { codes[i] = -2; continue; }
        const k = index.get(String(v));
        if (k === undefined) {
          if (ctx.mode === "predict" && s.handle_unknown === "error") {
            throw new RowValidationError(`unknown category ${JSON.stringify(v)} (known: ${cats.slice(0, 10).join(", ")}${cats.length > 10 ? ", …" : ""})`, i, ctx.sourceOf(name));
          }
          codes[i] = -1;
        } else codes[i] = k;
      }
      if (s.method === "label" || s.method === "ordinal") {
        const values = new Array<Cell>(n);
        for (let i = 0; i < n; i++) values[i] = codes[i] === -2 ? null : codes[i];
        replace.push({ name, type: "integer", values });
        continue;
      }
      const outs = s.outputs[name];
      const cols: Column[] = outs.map((o) => ({ name: o, type: s.method === "one_hot" ? ("integer" as const) : ("number" as const), values: new Array<Cell>(n) }));
      for (let o = 0; o < outs.length; o++) {
        const values = cols[o].values;
        if (s.method === "one_hot") {
          for (let i = 0; i < n; i++) values[i] = codes[i] === -2 ? null : codes[i] === o ? 1 : 0;
        } else {
          const enc = s.encodings![name][o], prior = s.prior![o];
          for (let i = 0; i < n; i++) values[i] = codes[i] === -2 ? null : codes[i] === -1 ? prior : enc[codes[i]];
        }
      }
      // Keep generated columns where the source column was.
      const pos = frame.columns.indexOf(col);
      const base = frame.columns.filter((c) => c !== col && !outs.includes(c.name));
      base.splice(Math.min(pos, base.length), 0, ...cols);
      frame = { columns: base, nRows: frame.nRows };
    }
    return replace.length ? withColumns(frame, replace) : frame;
  },

  describe(s) {
    if (!s.columns.length) return `${s.method}: no columns to encode`;
    return `${s.method}: ${s.columns.map((c) => `${c} (${s.categories[c].length} categories)`).join(", ")}`;
  },
};

function fitTarget(frame: DataFrame, cols: Column[], state: EncodeState, m: number, ctx: FitContext): void {
  const y = frame.columns.find((c) => c.name === ctx.target);
  if (!y) throw new DataError(`target column '${ctx.target}' is needed for target encoding`);
  const n = frame.nRows;
  const classIndex = new Map(ctx.classes.map((c, i) => [String(c), i]));
  // Per output o: indicator/value of row i.
  const nOut = ctx.task === "regression" ? 1 : ctx.classes.length === 2 ? 1 : ctx.classes.length;
  const yv = (i: number, o: number): number => {
    const v = y.values[i];
    if (ctx.task === "regression") return v as number;
    const k = classIndex.get(String(v))!;
    return ctx.classes.length === 2 ? (k === 1 ? 1 : 0) : k === o ? 1 : 0;
  };
  const prior = new Array<number>(nOut).fill(0);
  for (let i = 0; i < n; i++) for (let o = 0; o < nOut; o++) prior[o] += yv(i, o);
  for (let o = 0; o < nOut; o++) prior[o] /= n;
  state.prior = prior;
  state.encodings = {};
  for (const col of cols) {
    const cats = state.categories[col.name];
    const idx = new Map(cats.map((k, i) => [k, i]));
    const sums = Array.from({ length: nOut }, () => new Float64Array(cats.length));
    const counts = new Float64Array(cats.length);
    for (let i = 0; i < n; i++) {
      const v = col.values[i];
      if (v === null) continue;
      const k = idx.get(String(v))!;
      counts[k]++;
      for (let o = 0; o < nOut; o++) sums[o][k] += yv(i, o);
    }
    state.encodings[col.name] = sums.map((s, o) => Array.from(s, (sum, k) => (sum + m * prior[o]) / (counts[k] + m)));
  }
}
