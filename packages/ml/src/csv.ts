// Streaming RFC 4180 CSV parser with bounded-state column type inference.
// Chunks may split anywhere (inside quotes, between CR and LF, inside a UTF-8
// sequence). Without `collect` only counters and a capped distinct-value set
// per column are kept, so arbitrarily large files can be profiled.

import { TextDecoder } from "node:util";
import { CsvFormatError } from "./errors";
import {
  COLUMN_TYPES,
  convertCell,
  isIntegerText,
  parseBoolean,
  parseDate,
  parseNumber,
  type Cell,
  type ColumnType,
  type DataFrame,
} from "./frame";

export interface CsvParserOptions {
  /** Force a column's type instead of inferring it; cells that do not fit raise CsvFormatError. */
  columnTypes?: Record<string, ColumnType>;
  /** The field a columnTypes entry naming no header column is reported under (default 'column_types'; the gateway's query is 'types'). */
  columnTypesField?: string;
  /** Keep the cells so `toFrame()` can build a DataFrame (default false: profile only). */
  collect?: boolean;
  /** Field separator, one character (default ','). */
  delimiter?: string;
  /** A string column with more distinct values than this is `text`, not `category` (default 100). */
  categoryMaxDistinct?: number;
  /** More header columns than this is a CsvFormatError (default 10,000): each column gets a profile and a cell list. */
  maxColumns?: number;
}

export interface CsvColumnSummary {
  name: string;
  type: ColumnType;
  /** True when the type came from `columnTypes`. */
  overridden: boolean;
  missing: number;
  /** Distinct non-empty values, capped at categoryMaxDistinct + 1. */
  distinct: number;
  distinctCapped: boolean;
}

export interface CsvSummary {
  rows: number;
  columns: CsvColumnSummary[];
}

const QUOTE = 34, LF = 10, CR = 13;
const enum State { FieldStart, Unquoted, Quoted, QuoteInQuoted }

class ColumnProfile {
  missing = 0;
  nonEmpty = 0;
  canBoolean = true;
  canInteger = true;
  canNumber = true;
  canDate = true;
  maxLength = 0;
  distinct: Set<string> | null = new Set();

  constructor(private readonly cap: number) {}

  observe(raw: string): void {
    const s = raw.trim();
    if (s === "") { this.missing++; return; }
    this.nonEmpty++;
    if (raw.length > this.maxLength) this.maxLength = raw.length;
    if (this.canBoolean && parseBoolean(s) === null) this.canBoolean = false;
    if (this.canInteger && !isIntegerText(s)) this.canInteger = false;
    if (this.canNumber && !this.canInteger && parseNumber(s) === null) this.canNumber = false;
    if (this.canDate && parseDate(s) === null) this.canDate = false;
    if (this.distinct) {
      this.distinct.add(raw);
      if (this.distinct.size > this.cap) this.distinct = null;
    }
  }

  inferred(): ColumnType {
    if (this.nonEmpty === 0) return "text";
    if (this.canBoolean) return "boolean";
    if (this.canInteger) return "integer";
    if (this.canNumber) return "number";
    if (this.canDate) return "date";
    const d = this.distinct?.size;
    // Few repeated short values → category; near-unique or long strings → text.
    if (d !== undefined && this.maxLength <= 200 && (d <= 20 || d <= 0.5 * this.nonEmpty)) return "category";
    return "text";
  }
}

export class CsvParser {
  private readonly delim: number;
  private readonly overrides: Record<string, ColumnType>;
  private readonly overridesField: string;
  private readonly collect: boolean;
  private readonly maxColumns: number;
  private readonly cap: number;
  private decoder: TextDecoder | null = null;
  private started = false;
  private ended = false;

  private state = State.FieldStart;
  private field = "";
  private record: string[] = [];
  private sawCR = false;
  private line = 1;
  private recordLine = 1;

  private names: string[] | null = null;
  private types: (ColumnType | undefined)[] = [];
  private profiles: ColumnProfile[] = [];
  private cells: string[][] = [];
  private rows = 0;

  constructor(opts: CsvParserOptions = {}) {
    const d = opts.delimiter ?? ",";
    if (d.length !== 1 || d === '"' || d === "\n" || d === "\r") throw new Error(`invalid CSV delimiter ${JSON.stringify(d)}`);
    this.delim = d.charCodeAt(0);
    this.overrides = opts.columnTypes ?? {};
    this.overridesField = opts.columnTypesField ?? "column_types";
    for (const [name, t] of Object.entries(this.overrides)) {
      if (!COLUMN_TYPES.includes(t)) throw new CsvFormatError(`unknown column type '${t}' for column '${name}'`, 1);
    }
    this.collect = opts.collect ?? false;
    this.maxColumns = opts.maxColumns ?? 10_000;
    this.cap = opts.categoryMaxDistinct ?? 100;
  }

  /** Data rows parsed so far (header excluded). */
  get rowCount(): number { return this.rows; }

  get header(): readonly string[] | null { return this.names; }

  push(chunk: string | Uint8Array): void {
    if (this.ended) throw new Error("CsvParser.push after end()");
    let text: string;
    if (typeof chunk === "string") {
      text = chunk;
    } else {
      this.decoder ??= new TextDecoder("utf-8");
      text = this.decoder.decode(chunk, { stream: true });
    }
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    this.scan(text);
  }

  end(): CsvSummary {
    if (!this.ended) {
      if (this.decoder) this.scan(this.decoder.decode());
      if (this.state === State.Quoted) throw new CsvFormatError("unterminated quoted field", this.recordLine);
      if (this.state !== State.FieldStart || this.record.length > 0) {
        this.endField();
        this.endRecord();
      }
      this.ended = true;
      if (!this.names) throw new CsvFormatError("empty file: no header row", 1);
    }
    return this.summary();
  }

  summary(): CsvSummary {
    const names = this.names ?? [];
    return {
      rows: this.rows,
      columns: names.map((name, i) => {
        const p = this.profiles[i];
        const forced = this.types[i];
        return {
          name,
          type: forced ?? p.inferred(),
          overridden: forced !== undefined,
          missing: p.missing,
          distinct: p.distinct ? p.distinct.size : this.cap + 1,
          distinctCapped: p.distinct === null,
        };
      }),
    };
  }

  /** The collected cells as a typed DataFrame; call after end(). */
  toFrame(): DataFrame {
    if (!this.collect) throw new Error("CsvParser was created without collect: true");
    const summary = this.end();
    return {
      nRows: this.rows,
      columns: summary.columns.map((c, i) => {
        const raw = this.cells[i];
        const values = new Array<Cell>(raw.length);
        for (let r = 0; r < raw.length; r++) values[r] = convertCell(raw[r], c.type);
        return { name: c.name, type: c.type, values };
      }),
    };
  }

  private scan(s: string): void {
    const n = s.length, delim = this.delim;
    let i = 0;
    while (i < n) {
      if (this.sawCR) {
        this.sawCR = false;
        if (s.charCodeAt(i) === LF) { i++; continue; }
      }
      const state = this.state;
      if (state === State.Quoted) {
        let j = i;
        while (j < n) {
          const c = s.charCodeAt(j);
          if (c === QUOTE) break;
          if (c === LF) this.line++;
          j++;
        }
        this.field += s.slice(i, j);
        if (j === n) return;
        this.state = State.QuoteInQuoted;
        i = j + 1;
        continue;
      }
      const ch = s.charCodeAt(i);
      if (state === State.QuoteInQuoted) {
        if (ch === QUOTE) { this.field += '"'; this.state = State.Quoted; i++; continue; }
        if (ch === delim) { this.endField(); this.state = State.FieldStart; i++; continue; }
        if (ch === LF || ch === CR) { this.endLine(ch); i++; continue; }
        throw new CsvFormatError("unexpected character after closing quote", this.line);
      }
      if (state === State.FieldStart && ch === QUOTE) { this.state = State.Quoted; i++; continue; }
      let j = i;
      while (j < n) {
        const c = s.charCodeAt(j);
        if (c === delim || c === LF || c === CR || c === QUOTE) break;
        j++;
      }
      if (j > i) this.field += s.slice(i, j);
      this.state = State.Unquoted;
      if (j === n) return;
      const c = s.charCodeAt(j);
      if (c === QUOTE) throw new CsvFormatError("unexpected quote inside an unquoted field", this.line);
      if (c === delim) { this.endField(); this.state = State.FieldStart; }
      else this.endLine(c);
      i = j + 1;
    }
  }

  private endLine(ch: number): void {
    this.endField();
    this.endRecord();
    this.line++;
    this.recordLine = this.line;
    this.state = State.FieldStart;
    if (ch === CR) this.sawCR = true;
  }

  private endField(): void {
    this.record.push(this.field);
    this.field = "";
  }

  private endRecord(): void {
    const rec = this.record;
    this.record = [];
    this.state = State.FieldStart;
    if (rec.length === 1 && rec[0] === "") return; // blank line
    if (!this.names) { this.setHeader(rec); return; }
    if (rec.length !== this.names.length) {
      throw new CsvFormatError(`expected ${this.names.length} fields but found ${rec.length}`, this.recordLine);
    }
    for (let k = 0; k < rec.length; k++) {
      const raw = rec[k];
      const forced = this.types[k];
      if (forced !== undefined) this.checkForced(raw, forced, k);
      this.profiles[k].observe(raw);
      if (this.collect) this.cells[k].push(raw);
    }
    this.rows++;
  }

  private checkForced(raw: string, type: ColumnType, k: number): void {
    const s = raw.trim();
    if (s === "" || type === "category" || type === "text") return;
    const ok =
      type === "integer" ? isIntegerText(s)
      : type === "number" ? parseNumber(s) !== null
      : type === "boolean" ? parseBoolean(s) !== null
      : parseDate(s) !== null;
    if (!ok) throw new CsvFormatError(`value ${JSON.stringify(raw)} in column '${this.names![k]}' is not a valid ${type}`, this.recordLine);
  }

  private setHeader(rec: string[]): void {
    if (rec.length > this.maxColumns) throw new CsvFormatError(`the header has ${rec.length} columns; at most ${this.maxColumns} are allowed`, this.recordLine);
    const names = rec.map((h, i) => h.trim() || `column_${i + 1}`);
    const seen = new Set<string>();
    for (const name of names) {
      if (seen.has(name)) throw new CsvFormatError(`duplicate column name '${name}'`, this.recordLine);
      seen.add(name);
    }
    for (const name of Object.keys(this.overrides)) {
      if (!seen.has(name)) throw new CsvFormatError(`type override for unknown column '${name}'`, this.recordLine, { field: this.overridesField });
    }
    this.names = names;
    this.types = names.map((nm) => this.overrides[nm]);
    this.profiles = names.map(() => new ColumnProfile(this.cap));
    this.cells = names.map(() => []);
  }
}

/** Parses a whole CSV (text or UTF-8 bytes) into a DataFrame; empty cells become null. */
export function parseCsvToFrame(input: string | Uint8Array, overrides?: Record<string, ColumnType>): DataFrame {
  const p = new CsvParser({ columnTypes: overrides, collect: true });
  p.push(input);
  return p.toFrame();
}

/**
 * parseCsvToFrame a chunk at a time with the event loop free in between: a
 * 100 MB upload takes seconds to parse, long enough to stall a worker's
 * leases and everything else its process serves. `signal` is checked between chunks.
 */
export async function parseCsvToFrameInSlices(
  input: string | Uint8Array,
  overrides?: Record<string, ColumnType>,
  opts: { chunkBytes?: number; signal?: AbortSignal } = {},
): Promise<DataFrame> {
  // Bytes, so a chunk boundary never splits a UTF-16 surrogate pair (the decoder joins split UTF-8).
  const bytes = typeof input === "string" ? Buffer.from(input, "utf8") : input;
  const size = Math.max(1, opts.chunkBytes ?? 1 << 20);
  const p = new CsvParser({ columnTypes: overrides, collect: true });
  for (let i = 0; i < bytes.length; i += size) {
    opts.signal?.throwIfAborted();
    p.push(bytes.subarray(i, i + size));
    if (i + size < bytes.length) await new Promise<void>((r) => setImmediate(r));
  }
  return p.toFrame();
}

/** Profiles a CSV without keeping its rows: row count and inferred column types. */
export function profileCsv(chunks: Iterable<string | Uint8Array>, opts: Omit<CsvParserOptions, "collect"> = {}): CsvSummary {
  const p = new CsvParser(opts);
  for (const c of chunks) p.push(c);
  return p.end();
}
