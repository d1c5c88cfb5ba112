// transform node: log | log1p | sqrt | box_cox (λ by maximum likelihood).

import { DataError, RowValidationError } from "../errors";
import { withColumns, type Cell, type ColumnType } from "../frame";
import { checkColumnRefs, numericCell, resolveColumns } from "./columns";
import type { FittedState, NodeImpl } from "./types";

export type TransformMethod = "log" | "log1p" | "sqrt" | "box_cox";

export interface TransformParams {
  method: TransformMethod;
  columns: string[];
}

export interface TransformState extends FittedState {
  method: TransformMethod;
  /** box_cox: fitted λ per column. */
  lambdas?: Record<string, number>;
}

const NUMERIC: readonly ColumnType[] = ["number", "integer", "date"];

const DOMAIN: Record<TransformMethod, { ok: (x: number) => boolean; text: string }> = {
  log: { ok: (x) => x > 0, text: "> 0" },
  log1p: { ok: (x) => x > -1, text: "> -1" },
  sqrt: { ok: (x) => x >= 0, text: "≥ 0" },
  box_cox: { ok: (x) => x > 0, text: "> 0" },
};

/** Box-Cox log-likelihood as scipy.stats.boxcox_llf. */
export function boxCoxLlf(lambda: number, logx: Float64Array, sumLog: number): number {
  const n = logx.length;
  let mean = 0;
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    // Offset-free form (x^λ/λ): same variance, better precision (scipy does the same).
    y[i] = lambda === 0 ? logx[i] : Math.exp(lambda * logx[i]) / lambda;
    mean += y[i];
  }
  mean /= n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (y[i] - mean) ** 2;
  v /= n;
  return (lambda - 1) * sumLog - (n / 2) * Math.log(v);
}

/** λ maximising the Box-Cox likelihood: grid over [-10, 10], then golden-section refinement. */
export function fitBoxCoxLambda(xs: Float64Array): number {
  const n = xs.length;
  const logx = new Float64Array(n);
  let sumLog = 0;
  for (let i = 0; i < n; i++) { logx[i] = Math.log(xs[i]); sumLog += logx[i]; }
  let spread = 0;
  for (let i = 1; i < n; i++) spread = Math.max(spread, Math.abs(logx[i] - logx[0]));
  if (n < 2 || spread === 0) return 1; // constant column: likelihood is flat
  const f = (l: number) => {
    const v = boxCoxLlf(l, logx, sumLog);
    return Number.isFinite(v) ? v : -Infinity;
  };
  let best = 1, bestV = -Infinity;
  for (let l = -10; l <= 10 + 1e-9; l += 0.1) {
    const v = f(l);
    if (v > bestV) { bestV = v; best = l; }
  }
  const g = (Math.sqrt(5) - 1) / 2;
  let a = best - 0.1, b = best + 0.1;
  let c = b - g * (b - a), d = a + g * (b - a);
  let fc = f(c), fd = f(d);
  while (b - a > 1e-10) {
    if (fc > fd) { b = d; d = c; fd = fc; c = b - g * (b - a); fc = f(c); }
    else { a = c; c = d; fc = fd; d = a + g * (b - a); fd = f(d); }
  }
  return (a + b) / 2;
}

export function boxCox(x: number, lambda: number): number {
  return lambda === 0 ? Math.log(x) : (Math.pow(x, lambda) - 1) / lambda;
}

export const transformNode: NodeImpl<TransformParams, TransformState> = {
  validate(p, schema, at) {
    checkColumnRefs(p.columns, schema, `${at}.columns`, { allowed: NUMERIC, purpose: `the ${p.method} transform` });
    for (const name of p.columns) schema.columns.set(name, "number");
  },

  fit(frame, p) {
    const cols = resolveColumns(frame, p.columns, NUMERIC, "");
    const dom = DOMAIN[p.method];
    const state: TransformState = { method: p.method, columns: cols.map((c) => c.name) };
    if (p.method === "box_cox") state.lambdas = {};
    for (const col of cols) {
      const xs: number[] = [];
      col.values.forEach((v, i) => {
        const x = numericCell(v);
        if (x === null) return;
        if (!dom.ok(x)) throw new DataError(`${p.method} needs values ${dom.text}; column '${col.name}' has ${x} (training row ${i})`);
        xs.push(x);
      });
      if (p.method === "box_cox") {
        if (xs.length === 0) throw new DataError(`column '${col.name}' has no values to fit box_cox on`);
        state.lambdas![col.name] = fitBoxCoxLambda(Float64Array.from(xs));
      }
    }
    return state;
  },

  apply(frame, s, ctx) {
    const dom = DOMAIN[s.method];
    const replace = [];
    for (const name of s.columns) {
      const col = frame.columns.find((c) => c.name === name);
      if (!col) continue;
      const lambda = s.lambdas?.[name] ?? 0;
      const values = new Array<Cell>(frame.nRows);
      for (let i = 0; i < frame.nRows; i++) {
        const x = numericCell(col.values[i]);
        if (x === null) { values[i] = null; continue; }
        if (!dom.ok(x)) {
          if (ctx.mode === "predict") throw new RowValidationError(`${s.method} needs a value ${dom.text}, got ${x}`, i, ctx.sourceOf(name));
          throw new DataError(`${s.method} needs values ${dom.text}; column '${name}' has ${x} in a held-out row`);
        }
        values[i] = s.method === "log" ? Math.log(x) : s.method === "log1p" ? Math.log1p(x) : s.method === "sqrt" ? Math.sqrt(x) : boxCox(x, lambda);
      }
      replace.push({ name, type: "number" as const, values });
    }
    return withColumns(frame, replace);
  },

  describe(s) {
    if (s.lambdas) return `box_cox λ: ${Object.entries(s.lambdas).map(([k, l]) => `${k}=${l.toFixed(4)}`).join(", ")}`;
    return `${s.method}: ${s.columns.join(", ")}`;
  },
};
