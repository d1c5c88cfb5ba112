// Streaming CSV row reader for sales uploads: hands each data row to a
// callback as chunks arrive, so a large file never sits in memory. RFC 4180
// quoting (quoted fields may span chunks and lines), CRLF or LF, UTF-8 with or
// without BOM. (Dataset uploads profile columns with @millrace/ml's CsvParser;
// this reader exists because sales rows go to Postgres one batch at a time.)
import { MillraceError } from "@millrace/runtime";

/** Malformed CSV: 400 naming the 1-based physical line. */
export class CsvFormatError extends MillraceError {
  readonly line: number;
  constructor(message: string, line: number) {
    super(`line ${line}: ${message}`, "CSV_FORMAT", 400, false, { field: "body", details: { line } });
    this.line = line;
  }
}

export interface CsvRowsOptions {
  /** Called with each data row (not the header); `row` is 0-based, `line` 1-based. */
  onRow: (fields: string[], row: number, line: number) => void;
  maxColumns?: number;
  maxFieldChars?: number;
}

const QUOTE = 34;
const COMMA = 44;
const LF = 10;
const CR = 13;

export class CsvRows {
  private readonly decoder = new TextDecoder("utf-8");
  private readonly onRow: CsvRowsOptions["onRow"];
  private readonly maxColumns: number;
  private readonly maxFieldChars: number;
  private header: string[] | undefined;
  private fields: string[] = [];
  private field = "";
  private quoted = false;
  /** 0 field start, 1 unquoted, 2 inside quotes, 3 quote seen inside quotes */
  private state = 0;
  private line = 1;
  private rowLine = 1;
  private quoteLine = 1;
  private rows = 0;
  private ended = false;

  constructor(opts: CsvRowsOptions) {
    this.onRow = opts.onRow;
    this.maxColumns = opts.maxColumns ?? 10_000;
    this.maxFieldChars = opts.maxFieldChars ?? 1 << 20;
  }

  /** Header names once the header row was read. */
  get columnNames(): readonly string[] | undefined {
    return this.header;
  }

  push(chunk: Uint8Array): void {
    this.parse(this.decoder.decode(chunk, { stream: true }));
  }

  /** Finishes the last row; returns the number of data rows. */
  end(): number {
    if (this.ended) throw new Error("CsvRows.end() called twice");
    this.ended = true;
    this.parse(this.decoder.decode());
    if (this.state === 2) throw new CsvFormatError("quoted field is never closed", this.quoteLine);
    if (this.state !== 0 || this.fields.length > 0) {
      this.endField();
      this.endRow();
    }
    if (!this.header) throw new CsvFormatError("the file is empty: expected a header row", 1);
    return this.rows;
  }

  private appendField(s: string): void {
    this.field += s;
    if (this.field.length > this.maxFieldChars) throw new CsvFormatError(`field longer than ${this.maxFieldChars} characters`, this.line);
  }

  private endField(): void {
    this.fields.push(this.field);
    if (this.fields.length > this.maxColumns) throw new CsvFormatError(`more than ${this.maxColumns} fields`, this.rowLine);
    this.field = "";
    this.state = 0;
  }

  private endRow(): void {
    const f = this.fields;
    this.fields = [];
    const quoted = this.quoted;
    this.quoted = false;
    const line = this.rowLine;
    this.rowLine = this.line + 1;
    // A blank line is no record.
    if (f.length === 1 && f[0] === "" && !quoted) return;
    if (!this.header) {
      const names = f.map((n) => n.trim());
      const seen = new Set<string>();
      names.forEach((n, i) => {
        if (!n) throw new CsvFormatError(`header column ${i + 1} has no name`, line);
        if (seen.has(n)) throw new CsvFormatError(`header names column '${n}' twice`, line);
        seen.add(n);
      });
      this.header = names;
      return;
    }
    if (f.length !== this.header.length) throw new CsvFormatError(`expected ${this.header.length} fields, found ${f.length}`, line);
    this.onRow(f, this.rows, line);
    this.rows++;
  }

  private parse(s: string): void {
    const n = s.length;
    let i = 0;
    while (i < n) {
      if (this.state === 2) {
        // Inside quotes: copy up to the next quote, counting the newlines crossed.
        const q = s.indexOf('"', i);
        const end = q === -1 ? n : q;
        for (let k = s.indexOf("\n", i); k !== -1 && k < end; k = s.indexOf("\n", k + 1)) this.line++;
        this.appendField(s.slice(i, end));
        if (q === -1) return;
        this.state = 3;
        i = q + 1;
        continue;
      }
      const c = s.charCodeAt(i);
      if (this.state === 3) {
        if (c === QUOTE) {
          this.appendField('"');
          this.state = 2;
          i++;
        } else if (c === COMMA) {
          this.endField();
          i++;
        } else if (c === LF) {
          this.endField();
          this.endRow();
          this.line++;
          i++;
        } else if (c === CR) {
          i++;
        } else {
          throw new CsvFormatError("unexpected character after a closing quote", this.line);
        }
        continue;
      }
      if (this.state === 0 && c === QUOTE) {
        this.state = 2;
        this.quoted = true;
        this.quoteLine = this.line;
        i++;
        continue;
      }
      // Unquoted field: take everything up to a delimiter.
      let j = i;
      while (j < n) {
        const d = s.charCodeAt(j);
        if (d === COMMA || d === LF || d === CR || d === QUOTE) break;
        j++;
      }
      if (j > i) this.appendField(s.slice(i, j));
      this.state = 1;
      if (j === n) return;
      const d = s.charCodeAt(j);
      if (d === QUOTE) throw new CsvFormatError("quote inside an unquoted field", this.line);
      if (d === COMMA) this.endField();
      else if (d === LF) {
        this.endField();
        this.endRow();
        this.line++;
      }
      // CR outside quotes is dropped (CRLF line ends).
      i = j + 1;
    }
  }
}
