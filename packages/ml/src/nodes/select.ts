// select_features node: chi2 | f_classif | f_regression | f_score | rfe.
// Scores follow sklearn.feature_selection; the k best candidates are kept
// (ties → earlier column), the other candidates are dropped, non-candidates pass.

import { DataError, PipelineValidationError } from "../errors";
import { MS_PER_DAY, withColumns, type Column, type ColumnType, type DataFrame } from "../frame";
import { fitLinearRegression } from "../models/linear";
import { fitLogisticRegression } from "../models/logistic";
import { checkColumnRefs, resolveColumns } from "./columns";
import type { FitContext, FittedState, NodeImpl } from "./types";

export type SelectMethod = "chi2" | "f_classif" | "f_regression" | "f_score" | "rfe";

export interface SelectParams {
  method: SelectMethod;
  k: number;
  columns?: string[];
  step?: number;
}

export interface SelectState extends FittedState {
  method: SelectMethod;
  selected: string[];
  dropped: string[];
  /** Score per candidate (rfe: elimination rank, 1 = kept). */
  scores: Record<string, number | null>;
}

const CANDIDATE_TYPES: readonly ColumnType[] = ["number", "integer", "boolean", "date"];

function resolveMethod(m: SelectMethod, task: string): Exclude<SelectMethod, "f_score"> {
  return m === "f_score" ? (task === "classification" ? "f_classif" : "f_regression") : m;
}

function columnVector(col: Column): Float64Array {
  const out = new Float64Array(col.values.length);
  for (let i = 0; i < out.length; i++) {
    const v = col.values[i];
    if (v === null) throw new DataError(`column '${col.name}' has missing values; add a missing_values node before select_features`);
    out[i] = typeof v === "boolean" ? (v ? 1 : 0) : col.type === "date" ? (v as number) / MS_PER_DAY : (v as number);
  }
  return out;
}

/** sklearn chi2: Σ_c (O_c − E_c)² / E_c with O_c = Σ_{i∈c} x_i, E_c = P(c)·Σ_i x_i. */
export function chi2Scores(cols: Float64Array[], y: Int32Array, K: number): number[] {
  const n = y.length;
  const classCount = new Float64Array(K);
  for (let i = 0; i < n; i++) classCount[y[i]]++;
  return cols.map((x) => {
    const obs = new Float64Array(K);
    let total = 0;
    for (let i = 0; i < n; i++) {
      if (x[i] < 0) throw new DataError("chi2 needs non-negative features");
      obs[y[i]] += x[i];
      total += x[i];
    }
    let s = 0;
    for (let c = 0; c < K; c++) {
      const e = (classCount[c] / n) * total;
      s += (obs[c] - e) ** 2 / e;
    }
    return s;
  });
}

/** sklearn f_classif: one-way ANOVA F statistic per feature. */
export function fClassifScores(cols: Float64Array[], y: Int32Array, K: number): number[] {
  const n = y.length;
  return cols.map((x) => {
    const sum = new Float64Array(K), cnt = new Float64Array(K);
    let total = 0;
    for (let i = 0; i < n; i++) { sum[y[i]] += x[i]; cnt[y[i]]++; total += x[i]; }
    const mean = total / n;
    let ssb = 0, ssw = 0, groups = 0;
    for (let c = 0; c < K; c++) if (cnt[c] > 0) { ssb += cnt[c] * (sum[c] / cnt[c] - mean) ** 2; groups++; }
    for (let i = 0; i < n; i++) ssw += (x[i] - sum[y[i]] / cnt[y[i]]) ** 2;
    const dfb = groups - 1, dfw = n - groups;
    return (ssb / dfb) / (ssw / dfw);
  });
}

/** sklearn f_regression (center=True): F = r²/(1−r²)·(n−2). */
export function fRegressionScores(cols: Float64Array[], y: Float64Array): number[] {
  const n = y.length;
  let ym = 0;
  for (let i = 0; i < n; i++) ym += y[i];
  ym /= n;
  let syy = 0;
  for (let i = 0; i < n; i++) syy += (y[i] - ym) ** 2;
  return cols.map((x) => {
    let xm = 0;
    for (let i = 0; i < n; i++) xm += x[i];
    xm /= n;
    let sxy = 0, sxx = 0;
    for (let i = 0; i < n; i++) { sxy += (x[i] - xm) * (y[i] - ym); sxx += (x[i] - xm) ** 2; }
    const r = sxy / Math.sqrt(sxx * syy);
    return ((r * r) / (1 - r * r)) * (n - 2);
  });
}

/** Indices of the k highest scores; NaN ranks last, ties keep column order. */
export function topK(scores: number[], k: number): number[] {
  const idx = scores.map((_, i) => i);
  const key = (s: number) => (Number.isNaN(s) ? -Infinity : s);
  idx.sort((a, b) => key(scores[b]) - key(scores[a]) || a - b);
  return idx.slice(0, k).sort((a, b) => a - b);
}

/** Recursive feature elimination; returns kept indices and sklearn-style ranking (1 = kept). */
async function rfe(cols: Float64Array[], frame: DataFrame, k: number, step: number, ctx: FitContext, yv: Float64Array): Promise<{ keep: number[]; ranking: number[] }> {
  const n = frame.nRows;
  let remaining = cols.map((_, i) => i);
  const droppedIn = new Array<number>(cols.length).fill(0);
  let round = 0;
  while (remaining.length > k) {
    const p = remaining.length;
    const X = new Float64Array(n * p);
    remaining.forEach((c, j) => { const col = cols[c]; for (let i = 0; i < n; i++) X[i * p + j] = col[i]; });
    const data = { X, nRows: n, nFeatures: p, y: yv, nClasses: ctx.task === "classification" ? ctx.classes.length : 0, featureNames: [] };
    let importance: Float64Array;
    if (ctx.task === "classification") {
      const m = await fitLogisticRegression(data, { C: 1, max_iter: 200, tol: 1e-5 }, { signal: ctx.signal });
      // sklearn RFE on multiclass coef_: L1 norm over classes.
      importance = new Float64Array(p);
      const rows = m.coef.length / p;
      for (let c = 0; c < rows; c++) for (let j = 0; j < p; j++) importance[j] += Math.abs(m.coef[c * p + j]);
    } else {
      const m = await fitLinearRegression(data, {}, { signal: ctx.signal });
      importance = m.coef.map(Math.abs);
    }
    const nDrop = Math.min(step, p - k);
    const order = remaining.map((_, j) => j).sort((a, b) => importance[a] - importance[b] || a - b);
    const drop = new Set(order.slice(0, nDrop));
    round++;
    for (const j of drop) droppedIn[remaining[j]] = round;
    remaining = remaining.filter((_, j) => !drop.has(j));
  }
  // Eliminated first → highest rank, as sklearn's ranking_.
  return { keep: remaining, ranking: droppedIn.map((r) => (r === 0 ? 1 : round - r + 2)) };
}

export const selectNode: NodeImpl<SelectParams, SelectState> = {
  validate(p, schema, at) {
    const m = p.method;
    if (schema.task === "regression" && (m === "chi2" || m === "f_classif")) {
      throw new PipelineValidationError(`${m} scores a classification target; use f_regression or f_score for regression`, `${at}.method`);
    }
    if (schema.task === "classification" && m === "f_regression") {
      throw new PipelineValidationError("f_regression scores a regression target; use f_classif or f_score", `${at}.method`);
    }
    if (p.step !== undefined && m !== "rfe") throw new PipelineValidationError("step is only used with method 'rfe'", `${at}.step`);
    const explicit = checkColumnRefs(p.columns, schema, `${at}.columns`, { allowed: CANDIDATE_TYPES, purpose: "feature selection" });
    if (explicit && p.k > explicit.length) {
      throw new PipelineValidationError(`k = ${p.k} but only ${explicit.length} candidate column(s) are listed`, `${at}.k`);
    }
    // Which candidates survive depends on the data: later nodes may only name non-candidates or any
    // candidate (validation cannot know), so the schema keeps them all.
  },

  async fit(frame, p, ctx) {
    const cands = resolveColumns(frame, p.columns, CANDIDATE_TYPES, ctx.target);
    const method = resolveMethod(p.method, ctx.task);
    if (ctx.task === "regression" && (method === "chi2" || method === "f_classif")) throw new DataError(`${method} needs a classification target`);
    if (ctx.task === "classification" && method === "f_regression") throw new DataError("f_regression needs a regression target");
    const k = Math.min(p.k, cands.length);
    const xs = cands.map(columnVector);
    const yCol = frame.columns.find((c) => c.name === ctx.target);
    if (!yCol) throw new DataError(`target column '${ctx.target}' is needed for feature selection`);
    const classIndex = new Map(ctx.classes.map((c, i) => [String(c), i]));
    const yv = new Float64Array(frame.nRows);
    for (let i = 0; i < frame.nRows; i++) {
      const v = yCol.values[i];
      yv[i] = ctx.task === "classification" ? classIndex.get(String(v))! : (v as number);
    }
    const yc = Int32Array.from(yv);
    const scores: Record<string, number | null> = {};
    let keep: number[];
    if (method === "rfe") {
      const r = await rfe(xs, frame, k, p.step ?? 1, ctx, yv);
      keep = r.keep;
      cands.forEach((c, i) => (scores[c.name] = r.ranking[i]));
    } else {
      const s = method === "chi2" ? chi2Scores(xs, yc, ctx.classes.length)
        : method === "f_classif" ? fClassifScores(xs, yc, ctx.classes.length)
        : fRegressionScores(xs, yv);
      cands.forEach((c, i) => (scores[c.name] = Number.isFinite(s[i]) ? s[i] : null));
      keep = topK(s, k);
    }
    const selected = keep.map((i) => cands[i].name);
    const dropped = cands.filter((_, i) => !keep.includes(i)).map((c) => c.name);
    return { method: p.method, columns: cands.map((c) => c.name), selected, dropped, scores };
  },

  apply(frame, s) {
    return withColumns(frame, [], s.dropped);
  },

  describe(s) {
    return `${s.method}: kept ${s.selected.join(", ")}${s.dropped.length ? `; dropped ${s.dropped.join(", ")}` : ""}`;
  },
};
