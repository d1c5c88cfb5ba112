/**
 * Input validation and conversion. Everything public takes X as either a
 * row-major flat Float64Array/Float32Array or an array of rows; internally we
 * use row-major Float64Array for prediction and column-major for fitting.
 */
import { ForestInputError } from './errors';

export type FeatureMatrix = Float64Array | Float32Array | ArrayLike<number>[];
export type Targets = ArrayLike<number>;

export interface RowMajor {
  data: Float64Array;
  rows: number;
  cols: number;
}

function isFlat(X: unknown): X is Float64Array | Float32Array {
  return X instanceof Float64Array || X instanceof Float32Array;
}

/**
 * Convert X to a row-major Float64Array. For flat input the shape comes from
 * `rowsHint` (fit: y.length) or `colsHint` (predict: model.nFeatures).
 * Rejects empty input, ragged rows and non-finite values.
 */
export function toRowMajor(
  X: FeatureMatrix,
  hints: { rows?: number; cols?: number },
): RowMajor {
  if (X == null || typeof (X as { length?: unknown }).length !== 'number') {
    throw new ForestInputError('X must be a Float64Array, Float32Array or an array of rows');
  }
  let data: Float64Array;
  let rows: number;
  let cols: number;
  if (isFlat(X)) {
    if (X.length === 0) throw new ForestInputError('X is empty');
    if (hints.rows !== undefined) {
      rows = hints.rows;
      if (rows === 0) throw new ForestInputError('y is empty');
      if (X.length % rows !== 0) {
        throw new ForestInputError(
          `flat X has ${X.length} values, not a multiple of ${rows} rows (y.length)`,
        );
      }
      cols = X.length / rows;
    } else {
      cols = hints.cols!;
      if (X.length % cols !== 0) {
        throw new ForestInputError(
          `flat X has ${X.length} values, not a multiple of the model's ${cols} features`,
        );
      }
      rows = X.length / cols;
    }
    data = X instanceof Float64Array ? X : Float64Array.from(X);
  } else {
    rows = X.length;
    if (rows === 0) throw new ForestInputError('X is empty');
    const first = X[0];
    if (first == null || typeof first.length !== 'number') {
      throw new ForestInputError('X[0] is not an array of numbers');
    }
    cols = first.length;
    if (hints.cols !== undefined && cols !== hints.cols) {
      throw new ForestInputError(`X has ${cols} features, the model was fit on ${hints.cols}`);
    }
    data = new Float64Array(rows * cols);
    for (let r = 0; r < rows; r++) {
      const row = X[r];
      if (row == null || row.length !== cols) {
        throw new ForestInputError(`X row ${r} has ${row?.length ?? 'no'} values, expected ${cols}`);
      }
      const o = r * cols;
      for (let c = 0; c < cols; c++) data[o + c] = row[c];
    }
  }
  if (cols === 0) throw new ForestInputError('X has no features');
  if (hints.rows !== undefined && rows !== hints.rows) {
    throw new ForestInputError(`X has ${rows} rows but y has ${hints.rows}`);
  }
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    // v - v is NaN for NaN and ±Infinity, 0 otherwise: one test for both.
    if (v - v !== 0) {
      const r = Math.floor(i / cols);
      throw new ForestInputError(
        `X[${r}][${i - r * cols}] is ${v}; features must be finite numbers (impute NaN first)`,
      );
    }
  }
  return { data, rows, cols };
}

/** Column-major copy (feature f occupies [f*rows, (f+1)*rows)), the layout the split scans read. */
export function toColumnMajor(m: RowMajor): Float64Array {
  const { data, rows, cols } = m;
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = data[o + c];
  }
  return out;
}

function checkTargetsShape(y: Targets): number {
  if (y == null || typeof (y as { length?: unknown }).length !== 'number') {
    throw new ForestInputError('y must be an array of numbers');
  }
  if (y.length === 0) throw new ForestInputError('y is empty');
  return y.length;
}

/** Class codes must be integers 0..k-1; returns them and k. */
export function toClassCodes(y: Targets): { codes: Int32Array; nClasses: number } {
  const n = checkTargetsShape(y);
  const codes = new Int32Array(n);
  let max = 0;
  for (let i = 0; i < n; i++) {
    const v = y[i];
    if (!Number.isInteger(v) || v < 0 || v > 0x7fffffff) {
      throw new ForestInputError(
        `y[${i}] is ${v}; classifier labels must be integer class codes 0..k-1 (map labels first)`,
      );
    }
    codes[i] = v;
    if (v > max) max = v;
  }
  return { codes, nClasses: max + 1 };
}

export function toRegressionTargets(y: Targets): Float64Array {
  const n = checkTargetsShape(y);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = y[i];
    if (typeof v !== 'number' || v - v !== 0) {
      throw new ForestInputError(`y[${i}] is ${v}; regression targets must be finite numbers`);
    }
    out[i] = v;
  }
  return out;
}
