// Evaluation metrics, matching sklearn 1.2 definitions (zero_division → 0,
// log_loss clipping eps = 1e-15 with row renormalisation, average-rank ROC AUC).

export type EvaluatedOn = "test" | "train";

export interface ClassificationMetrics {
  evaluated_on: EvaluatedOn;
  n: number;
  accuracy: number;
  precision_macro: number;
  recall_macro: number;
  f1_macro: number;
  /** Binary: AUC of the positive class (labels[1]); multiclass: one-vs-rest macro average. null when undefined (a class absent). */
  roc_auc: number | null;
  log_loss: number;
  /** confusion_matrix[true][predicted], rows/columns in `labels` order. */
  confusion_matrix: number[][];
  labels: string[];
}

export interface RegressionMetrics {
  evaluated_on: EvaluatedOn;
  n: number;
  rmse: number;
  mae: number;
  r2: number;
}

export type Metrics = ClassificationMetrics | RegressionMetrics;

export function argmaxRows(P: Float64Array, nRows: number, K: number): Int32Array {
  const out = new Int32Array(nRows);
  for (let i = 0; i < nRows; i++) {
    let best = 0;
    for (let c = 1; c < K; c++) if (P[i * K + c] > P[i * K + best]) best = c;
    out[i] = best;
  }
  return out;
}

export function confusionMatrix(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, K: number): number[][] {
  const m = Array.from({ length: K }, () => new Array<number>(K).fill(0));
  for (let i = 0; i < yTrue.length; i++) m[yTrue[i]][yPred[i]]++;
  return m;
}

/** Macro precision / recall / F1 over all K labels (a label with no predictions or no rows scores 0). */
export function macroScores(cm: number[][]): { precision: number; recall: number; f1: number } {
  const K = cm.length;
  let p = 0, r = 0, f = 0;
  for (let c = 0; c < K; c++) {
    const tp = cm[c][c];
    let predicted = 0, actual = 0;
    for (let k = 0; k < K; k++) { predicted += cm[k][c]; actual += cm[c][k]; }
    const prec = predicted ? tp / predicted : 0;
    const rec = actual ? tp / actual : 0;
    p += prec;
    r += rec;
    f += prec + rec > 0 ? (2 * prec * rec) / (prec + rec) : 0;
  }
  return { precision: p / K, recall: r / K, f1: f / K };
}

/** ROC AUC via the Mann–Whitney statistic with average ranks for ties. null if one class is absent. */
export function rocAuc(isPositive: ArrayLike<boolean | number>, score: ArrayLike<number>): number | null {
  const n = score.length;
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => score[a] - score[b]);
  let nPos = 0;
  for (let i = 0; i < n; i++) if (isPositive[i]) nPos++;
  const nNeg = n - nPos;
  if (nPos === 0 || nNeg === 0) return null;
  let rankSum = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && score[idx[j + 1]] === score[idx[i]]) j++;
    const avg = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) if (isPositive[idx[k]]) rankSum += avg;
    i = j + 1;
  }
  return (rankSum - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

export function logLoss(yTrue: ArrayLike<number>, P: Float64Array, K: number, eps = 1e-15): number {
  const n = yTrue.length;
  let s = 0;
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let c = 0; c < K; c++) sum += Math.min(1 - eps, Math.max(eps, P[i * K + c]));
    const p = Math.min(1 - eps, Math.max(eps, P[i * K + yTrue[i]])) / sum;
    s -= Math.log(p);
  }
  return s / n;
}

export function classificationMetrics(yTrue: Int32Array, P: Float64Array, labels: string[], evaluatedOn: EvaluatedOn): ClassificationMetrics {
  const K = labels.length, n = yTrue.length;
  const yPred = argmaxRows(P, n, K);
  const cm = confusionMatrix(yTrue, yPred, K);
  let correct = 0;
  for (let i = 0; i < n; i++) if (yTrue[i] === yPred[i]) correct++;
  const { precision, recall, f1 } = macroScores(cm);
  let auc: number | null;
  if (K === 2) {
    auc = rocAuc(Array.from(yTrue, (y) => y === 1), Array.from({ length: n }, (_, i) => P[i * 2 + 1]));
  } else {
    let sum = 0;
    auc = 0;
    for (let c = 0; c < K; c++) {
      const a = rocAuc(Array.from(yTrue, (y) => y === c), Array.from({ length: n }, (_, i) => P[i * K + c]));
      if (a === null) { auc = null; break; }
      sum += a;
    }
    if (auc !== null) auc = sum / K;
  }
  return {
    evaluated_on: evaluatedOn,
    n,
    accuracy: n ? correct / n : 0,
    precision_macro: precision,
    recall_macro: recall,
    f1_macro: f1,
    roc_auc: auc,
    log_loss: logLoss(yTrue, P, K),
    confusion_matrix: cm,
    labels,
  };
}

export function regressionMetrics(yTrue: Float64Array, yPred: Float64Array, evaluatedOn: EvaluatedOn): RegressionMetrics {
  const n = yTrue.length;
  let se = 0, ae = 0, mean = 0;
  for (let i = 0; i < n; i++) mean += yTrue[i];
  mean /= n || 1;
  let ss = 0;
  for (let i = 0; i < n; i++) {
    const d = yTrue[i] - yPred[i];
    se += d * d;
    ae += Math.abs(d);
    ss += (yTrue[i] - mean) ** 2;
  }
  // sklearn: constant y_true → 1 if perfect, else 0.
  const r2 = ss > 0 ? 1 - se / ss : se === 0 ? 1 : 0;
  return { evaluated_on: evaluatedOn, n, rmse: Math.sqrt(se / (n || 1)), mae: ae / (n || 1), r2 };
}
