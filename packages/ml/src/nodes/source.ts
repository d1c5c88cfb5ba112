// dataset / upload_file nodes: the data itself comes from the caller. Their
// column_types re-type columns of a given frame (or steer CSV parsing).

import { DataError, PipelineValidationError } from "../errors";
import { COLUMN_TYPES, parseBoolean, parseDate, parseNumber, type Cell, type ColumnSchema, type ColumnType, type DataFrame } from "../frame";

export function checkColumnTypes(value: unknown, schema: ColumnSchema[] | null, at: string): Record<string, ColumnType> | undefined {
  if (value === undefined || value === null) return undefined;
  const out: Record<string, ColumnType> = {};
  for (const [name, t] of Object.entries(value as Record<string, unknown>)) {
    const field = `${at}.${name}`;
    if (typeof t !== "string" || !COLUMN_TYPES.includes(t as ColumnType)) {
      throw new PipelineValidationError(`must be one of: ${COLUMN_TYPES.join(", ")}`, field);
    }
    if (schema && !schema.some((c) => c.name === name)) throw new PipelineValidationError(`column '${name}' is not in the data`, field);
    out[name] = t as ColumnType;
  }
  return out;
}

function castCell(v: Cell, to: ColumnType, column: string): Cell {
  if (v === null) return null;
  switch (to) {
    case "category":
    case "text":
      return typeof v === "string" ? v : String(v);
    case "number":
    case "integer": {
      const x = typeof v === "number" ? v : typeof v === "boolean" ? Number(v) : parseNumber(v.trim());
      if (x === null || (to === "integer" && !Number.isInteger(x))) throw new DataError(`column '${column}': ${JSON.stringify(v)} is not a valid ${to}`);
      return x;
    }
    case "boolean": {
      const b = typeof v === "boolean" ? v : typeof v === "number" && (v === 0 || v === 1) ? v === 1 : typeof v === "string" ? parseBoolean(v.trim()) : null;
      if (b === null) throw new DataError(`column '${column}': ${JSON.stringify(v)} is not a valid boolean`);
      return b;
    }
    case "date": {
      const t = typeof v === "number" ? v : typeof v === "string" ? parseDate(v.trim()) : null;
      if (t === null) throw new DataError(`column '${column}': ${JSON.stringify(v)} is not a valid date`);
      return t;
    }
  }
}

/** Re-types columns of a frame (e.g. an integer zip code as category). */
export function castFrame(frame: DataFrame, types: Record<string, ColumnType> | undefined): DataFrame {
  if (!types || Object.keys(types).length === 0) return frame;
  return {
    nRows: frame.nRows,
    columns: frame.columns.map((c) => {
      const to = types[c.name];
      if (!to || to === c.type) return c;
      return { name: c.name, type: to, values: c.values.map((v) => castCell(v, to, c.name)) };
    }),
  };
}
