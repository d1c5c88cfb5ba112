// Column references: checked against a schema at validation time, resolved
// against the frame at fit time.

import { DataError, PipelineValidationError } from "../errors";
import type { Column, ColumnType, DataFrame } from "../frame";
import type { SchemaState } from "./types";

/** Type of a column in the validation schema, looking through one-hot wildcards. */
export function schemaType(schema: SchemaState, name: string): ColumnType | undefined {
  const t = schema.columns.get(name);
  if (t) return t;
  for (const [prefix, wt] of schema.wildcards) if (name.startsWith(prefix) && name.length > prefix.length) return wt;
  return undefined;
}

/**
 * Validates explicit column references: they must exist, must not be the
 * target, and must have an allowed type. Errors name the exact array element.
 */
export function checkColumnRefs(
  columns: unknown,
  schema: SchemaState,
  at: string,
  opts: { allowed?: readonly ColumnType[]; purpose: string },
): string[] | undefined {
  if (columns === undefined || columns === null) return undefined;
  const cols = columns as string[];
  cols.forEach((name, i) => {
    const field = `${at}[${i}]`;
    if (name === schema.target) throw new PipelineValidationError(`'${name}' is the target column and cannot be used for ${opts.purpose}`, field);
    const t = schemaType(schema, name);
    if (!t) throw new PipelineValidationError(`column '${name}' does not exist at this point of the pipeline`, field);
    if (opts.allowed && !opts.allowed.includes(t)) {
      throw new PipelineValidationError(`column '${name}' is ${t}; ${opts.purpose} needs ${opts.allowed.join("/")}`, field);
    }
  });
  return cols;
}

/** Schema columns (not the target) whose type is in `types`; wildcard families included when asked. */
export function schemaColumnsOfType(schema: SchemaState, types: readonly ColumnType[]): string[] {
  const out: string[] = [];
  for (const [name, t] of schema.columns) if (name !== schema.target && types.includes(t)) out.push(name);
  return out;
}

/** Fit-time resolution: explicit names (must exist) or every non-target column of the given types. */
export function resolveColumns(frame: DataFrame, explicit: string[] | undefined, defaultTypes: readonly ColumnType[], target: string): Column[] {
  if (explicit) {
    return explicit.map((name) => {
      const col = frame.columns.find((c) => c.name === name);
      if (!col) throw new DataError(`column '${name}' is not in the data`);
      return col;
    });
  }
  return frame.columns.filter((c) => c.name !== target && defaultTypes.includes(c.type));
}

/** Compares two cells for sorting categories: numbers numerically, booleans false<true, strings by code unit. */
export function compareCells(a: number | string | boolean, b: number | string | boolean): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (typeof a === "boolean" && typeof b === "boolean") return Number(a) - Number(b);
  const sa = String(a), sb = String(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

/** Numeric view of a cell for numeric nodes (booleans as 0/1); null stays null. */
export function numericCell(v: unknown): number | null {
  if (v === null || v === undefined) return null;
  if (typeof v === "number") return v;
  if (typeof v === "boolean") return v ? 1 : 0;
  return null;
}
