// Frame → row-major Float64Array for the model, and request rows → frame.
// Both sit on the prediction hot path, so they loop column by column over
// plain arrays without per-cell allocation.

import { DataError, RowValidationError } from "./errors";
import { MS_PER_DAY, parseBoolean, parseDate, parseNumber, type Cell, type ColumnSchema, type ColumnType, type DataFrame } from "./frame";
import type { ApplyMode } from "./nodes/types";

export const FEATURE_TYPES: readonly ColumnType[] = ["number", "integer", "boolean", "date"];

/**
 * Builds the model input. Booleans become 0/1 and dates days since the epoch.
 * A missing value is a DataError while training and a RowValidationError
 * (naming the raw input column) at prediction.
 */
export function toMatrix(frame: DataFrame, features: string[], mode: ApplyMode, sourceOf: (c: string) => string): Float64Array {
  const n = frame.nRows, p = features.length;
  const X = new Float64Array(n * p);
  const byName = new Map(frame.columns.map((c) => [c.name, c]));
  for (let j = 0; j < p; j++) {
    const col = byName.get(features[j]);
    if (!col) {
      if (mode === "predict") throw new RowValidationError("required column is missing", 0, sourceOf(features[j]));
      throw new DataError(`feature column '${features[j]}' is not in the data at the model`);
    }
    const vals = col.values;
    const isDate = col.type === "date";
    for (let i = 0; i < n; i++) {
      const v = vals[i];
      let x: number;
      if (typeof v === "number") x = isDate ? v / MS_PER_DAY : v;
      else if (typeof v === "boolean") x = v ? 1 : 0;
      else x = NaN;
      if (x - x !== 0) {
        if (mode === "predict") {
          throw new RowValidationError(v === null ? "missing value for a required column" : `not a finite number: ${JSON.stringify(v)}`, i, sourceOf(features[j]));
        }
        throw new DataError(
          v === null
            ? `column '${features[j]}' has missing values at the model (row ${i}); add a missing_values node`
            : `column '${features[j]}' holds a non-numeric value ${JSON.stringify(v)} at the model; encode it first`,
        );
      }
      X[i * p + j] = x;
    }
  }
  return X;
}

function describe(v: unknown): string {
  if (typeof v === "string") return `string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + "…" : v)}`;
  if (Array.isArray(v)) return "an array";
  return v === null ? "null" : typeof v;
}

/**
 * Request rows → frame of the model's raw input columns, type-checked against
 * the training schema. Missing / null / "" are null (imputation may fill them);
 * a value of the wrong type throws RowValidationError with row and column.
 */
export function rowsToFrame(rows: readonly Record<string, unknown>[], inputs: readonly ColumnSchema[]): DataFrame {
  if (!Array.isArray(rows)) throw new RowValidationError("rows must be an array of objects", 0, "*");
  const n = rows.length;
  for (let i = 0; i < n; i++) {
    const r = rows[i];
    if (typeof r !== "object" || r === null || Array.isArray(r)) throw new RowValidationError("row must be an object", i, "*");
  }
  const columns = inputs.map(({ name, type }) => {
    const values = new Array<Cell>(n);
    for (let i = 0; i < n; i++) {
      const v = rows[i][name];
      if (v === undefined || v === null || v === "") { values[i] = null; continue; }
      values[i] = coerce(v, type, i, name);
    }
    return { name, type, values };
  });
  return { columns, nRows: n };
}

function coerce(v: unknown, type: ColumnType, row: number, column: string): Cell {
  switch (type) {
    case "number":
    case "integer": {
      if (typeof v === "number" && Number.isFinite(v)) return v;
      if (typeof v === "string") {
        const x = parseNumber(v.trim());
        if (x !== null) return x;
      }
      throw new RowValidationError(`expected a number, got ${describe(v)}`, row, column);
    }
    case "date": {
      if (typeof v === "number" && Number.isFinite(v)) return v;
      if (typeof v === "string") {
        const t = parseDate(v.trim());
        if (t !== null) return t;
      }
      throw new RowValidationError(`expected an ISO 8601 date or epoch milliseconds, got ${describe(v)}`, row, column);
    }
    case "boolean": {
      if (typeof v === "boolean") return v;
      if (typeof v === "string") {
        const b = parseBoolean(v.trim());
        if (b !== null) return b;
      }
      if (v === 0 || v === 1) return v === 1;
      throw new RowValidationError(`expected a boolean, got ${describe(v)}`, row, column);
    }
    default: {
      if (typeof v === "string") return v;
      if (typeof v === "number" || typeof v === "boolean") return String(v);
      throw new RowValidationError(`expected a string, got ${describe(v)}`, row, column);
    }
  }
}
