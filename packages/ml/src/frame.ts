// Columnar data frame. Missing cells are null. Date columns hold epoch
// milliseconds so every numeric node can treat them as numbers.

export type ColumnType = "number" | "integer" | "boolean" | "category" | "date" | "text";
export const COLUMN_TYPES: readonly ColumnType[] = ["number", "integer", "boolean", "category", "date", "text"];

export type Cell = number | string | boolean | null;

export interface Column {
  name: string;
  type: ColumnType;
  values: Cell[];
}

export interface DataFrame {
  columns: Column[];
  nRows: number;
}

export interface ColumnSchema {
  name: string;
  type: ColumnType;
}

export function isNumericType(t: ColumnType): boolean {
  return t === "number" || t === "integer" || t === "date";
}

export function schemaOf(frame: DataFrame): ColumnSchema[] {
  return frame.columns.map((c) => ({ name: c.name, type: c.type }));
}

export function findColumn(frame: DataFrame, name: string): Column | undefined {
  return frame.columns.find((c) => c.name === name);
}

export function getColumn(frame: DataFrame, name: string): Column {
  const col = findColumn(frame, name);
  if (!col) throw new Error(`column '${name}' not in frame`);
  return col;
}

/** New frame keeping only the given row indices (in that order). */
export function takeRows(frame: DataFrame, rows: ArrayLike<number>): DataFrame {
  const n = rows.length;
  return {
    nRows: n,
    columns: frame.columns.map((c) => {
      const src = c.values;
      const out = new Array<Cell>(n);
      for (let i = 0; i < n; i++) out[i] = src[rows[i]];
      return { name: c.name, type: c.type, values: out };
    }),
  };
}

/** Replaces columns by name (keeping position) and appends new ones. */
export function withColumns(frame: DataFrame, replace: Column[], drop: Iterable<string> = []): DataFrame {
  const byName = new Map(replace.map((c) => [c.name, c]));
  const dropped = new Set(drop);
  const out: Column[] = [];
  for (const c of frame.columns) {
    if (dropped.has(c.name)) continue;
    const r = byName.get(c.name);
    out.push(r ?? c);
    byName.delete(c.name);
  }
  for (const c of byName.values()) out.push(c);
  return { columns: out, nRows: frame.nRows };
}

/** Builds a frame from row objects with a known schema, coercing loosely (for tests and previews). */
export function frameFromRecords(records: Record<string, unknown>[], schema: ColumnSchema[]): DataFrame {
  return {
    nRows: records.length,
    columns: schema.map((s) => ({
      name: s.name,
      type: s.type,
      values: records.map((r) => {
        const v = r[s.name];
        return v === undefined || v === "" ? null : (v as Cell);
      }),
    })),
  };
}

/** First `limit` rows as records, for previews. */
export function frameHead(frame: DataFrame, limit = 10): Record<string, Cell>[] {
  const n = Math.min(limit, frame.nRows);
  const out: Record<string, Cell>[] = [];
  for (let i = 0; i < n; i++) {
    const row: Record<string, Cell> = {};
    for (const c of frame.columns) row[c.name] = c.values[i];
    out.push(row);
  }
  return out;
}

export interface ColumnStats {
  name: string;
  type: ColumnType;
  missing: number;
  distinct?: number;
  min?: number;
  max?: number;
  mean?: number;
  std?: number;
  top?: Cell;
}

/** Per-column summary used by single-node runs and previews. */
export function describeFrame(frame: DataFrame): ColumnStats[] {
  return frame.columns.map((c) => {
    let missing = 0;
    if (isNumericType(c.type)) {
      let n = 0, sum = 0, sumSq = 0, min = Infinity, max = -Infinity;
      for (const v of c.values) {
        if (v === null) { missing++; continue; }
        const x = v as number;
        n++; sum += x; sumSq += x * x;
        if (x < min) min = x;
        if (x > max) max = x;
      }
      const mean = n ? sum / n : undefined;
      const std = n ? Math.sqrt(Math.max(0, sumSq / n - (sum / n) ** 2)) : undefined;
      return { name: c.name, type: c.type, missing, ...(n ? { min, max, mean, std } : {}) };
    }
    const counts = new Map<Cell, number>();
    for (const v of c.values) {
      if (v === null) { missing++; continue; }
      counts.set(v, (counts.get(v) ?? 0) + 1);
    }
    let top: Cell = null, best = 0;
    for (const [k, n] of counts) if (n > best) { best = n; top = k; }
    return { name: c.name, type: c.type, missing, distinct: counts.size, ...(counts.size ? { top } : {}) };
  });
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** Epoch ms for an ISO 8601 date / date-time, or null when not a date. Dates without zone are UTC. */
export function parseDate(s: string): number | null {
  const m = ISO_DATE.exec(s);
  if (!m) return null;
  const month = +m[2], day = +m[3];
  if (month < 1 || month > 12 || day < 1 || day > 31) return null;
  let iso = s.replace(" ", "T");
  if (m[4] === undefined) iso += "T00:00:00Z";
  else if (m[7] === undefined) iso += "Z";
  const t = Date.parse(iso);
  return Number.isFinite(t) ? t : null;
}

const NUMBER_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const INTEGER_RE = /^[+-]?\d+$/;

export function parseNumber(s: string): number | null {
  if (!NUMBER_RE.test(s)) return null;
  const x = Number(s);
  return Number.isFinite(x) ? x : null;
}

export function isIntegerText(s: string): boolean {
  return INTEGER_RE.test(s) && Number.isSafeInteger(Number(s));
}

export function parseBoolean(s: string): boolean | null {
  const l = s.toLowerCase();
  if (l === "true") return true;
  if (l === "false") return false;
  return null;
}

/** Converts one raw CSV text cell to a frame cell of the given type (null when missing or unparseable). */
export function convertCell(raw: string, type: ColumnType): Cell {
  const s = raw.trim();
  if (s === "") return null;
  switch (type) {
    case "number":
    case "integer":
      return parseNumber(s);
    case "boolean":
      return parseBoolean(s);
    case "date":
      return parseDate(s);
    default:
      return raw;
  }
}

export const MS_PER_DAY = 86_400_000;
