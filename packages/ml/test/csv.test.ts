import { describe, expect, it } from "vitest";
import { CsvFormatError, CsvParser, parseCsvToFrame, parseCsvToFrameInSlices, profileCsv } from "../src/index";
import { turnCounter } from "@millrace/testkit";

const SAMPLE = 'id,name,score,active,joined,notes\r\n1,"Smith, Jane",3.5,true,2024-01-05,"said ""hi""\r\nthen left"\r\n2,Bob,,FALSE,2024-02-10,\r\n3,"Ann",7,true,2023-12-31T10:00:00Z,plain\r\n';

function rowsOf(input: string | Uint8Array, chunk: number): string[][] {
  const rows: string[][] = [];
  const p = new CsvParser({ collect: true });
  if (typeof input === "string") for (let i = 0; i < input.length; i += chunk) p.push(input.slice(i, i + chunk));
  else for (let i = 0; i < input.length; i += chunk) p.push(input.subarray(i, i + chunk));
  const f = p.toFrame();
  for (let r = 0; r < f.nRows; r++) rows.push(f.columns.map((c) => String(c.values[r])));
  return rows;
}

describe("parseCsvToFrameInSlices", () => {
  it("gives parseCsvToFrame's frame, a chunk per event-loop turn, even with multi-byte text split across chunks", async () => {
    const text = SAMPLE + '4,"Zoë 🚀 Ångström",1,true,2024-03-01,ünïcode\r\n';
    const turns = turnCounter();
    const sliced = await parseCsvToFrameInSlices(text, undefined, { chunkBytes: 7 });
    const turned = turns.stop();
    expect(sliced).toEqual(parseCsvToFrame(text));
    expect(sliced.columns[1].values[3]).toBe("Zoë 🚀 Ångström");
    // One turn between each pair of 7-byte chunks.
    expect(turned).toBeGreaterThanOrEqual(Math.floor(Buffer.byteLength(text) / 7) - 1);
  });

  it("stops between chunks once its signal is aborted", async () => {
    const ac = new AbortController();
    ac.abort(new Error("job cancelled"));
    await expect(parseCsvToFrameInSlices(SAMPLE, undefined, { chunkBytes: 16, signal: ac.signal })).rejects.toThrow("job cancelled");
  });
});

describe("CsvParser", () => {
  it("refuses a header over maxColumns (default 10,000) before building a profile per column", () => {
    const wide = Array.from({ length: 10_001 }, (_, i) => `c${i}`).join(",") + "\n" + "1,".repeat(10_000) + "1\n";
    expect(() => profileCsv([wide])).toThrow(/the header has 10001 columns; at most 10000 are allowed/);
    expect(profileCsv(["a,b,c\n1,2,3\n"], { maxColumns: 3 }).columns).toHaveLength(3);
    expect(() => profileCsv(["a,b,c\n1,2,3\n"], { maxColumns: 2 })).toThrow(CsvFormatError);
  });

  it("parses RFC 4180 quoting, escaped quotes, embedded CRLF and empty cells", () => {
    const f = parseCsvToFrame(SAMPLE);
    expect(f.nRows).toBe(3);
    expect(f.columns.map((c) => c.name)).toEqual(["id", "name", "score", "active", "joined", "notes"]);
    expect(f.columns[1].values).toEqual(["Smith, Jane", "Bob", "Ann"]);
    expect(f.columns[5].values).toEqual(['said "hi"\r\nthen left', null, "plain"]);
    expect(f.columns[2].values).toEqual([3.5, null, 7]);
    expect(f.columns[3].values).toEqual([true, false, true]);
    expect(f.columns[4].values).toEqual([Date.UTC(2024, 0, 5), Date.UTC(2024, 1, 10), Date.UTC(2023, 11, 31, 10)]);
  });

  it("infers number, integer, boolean, date, category and text", () => {
    const f = parseCsvToFrame(SAMPLE);
    expect(Object.fromEntries(f.columns.map((c) => [c.name, c.type]))).toEqual({
      id: "integer", name: "category", score: "number", active: "boolean", joined: "date", notes: "category",
    });
    const lines = ["code,label"];
    for (let i = 0; i < 300; i++) lines.push(`${["a", "b", "c"][i % 3]},unique-${i}`);
    const g = parseCsvToFrame(lines.join("\n"));
    expect(g.columns.map((c) => c.type)).toEqual(["category", "text"]);
  });

  it("gives identical results whatever the chunk boundaries (strings and split UTF-8 bytes)", () => {
    const text = SAMPLE.replace("Bob", "Björk ☃");
    const expected = rowsOf(text, text.length);
    for (const n of [1, 2, 3, 7]) expect(rowsOf(text, n)).toEqual(expected);
    const bytes = new TextEncoder().encode("\uFEFF" + text);
    for (const n of [1, 2, 5]) expect(rowsOf(bytes, n)).toEqual(expected);
  });

  it("honours type overrides and rejects cells that do not fit, naming the line", () => {
    const f = parseCsvToFrame("zip,v\n02134,1\n10001,2\n", { zip: "category" });
    expect(f.columns[0]).toMatchObject({ type: "category", values: ["02134", "10001"] });
    expect(() => parseCsvToFrame("a,b\n1,2\n3,x\n", { b: "integer" })).toThrow(/line 3/);
  });

  it("reports a wrong field count with the physical line number", () => {
    const lines = ["a,b,c", '1,"multi\nline",3'];
    for (let i = 0; i < 13; i++) lines.push(`${i},x,y`);
    lines.push("oops,only-two"); // physical line 17
    const err = (() => { try { parseCsvToFrame(lines.join("\n")); } catch (e) { return e; } })() as CsvFormatError;
    expect(err).toBeInstanceOf(CsvFormatError);
    expect(err.line).toBe(17);
    expect(err.message).toBe("expected 3 fields but found 2 at line 17");
    expect(err.code).toBe("CSV_FORMAT");
    expect(err.retryable).toBe(false);
  });

  it("rejects unterminated quotes, stray quotes, empty input and duplicate headers", () => {
    expect(() => parseCsvToFrame('a,b\n1,"open\n2,3\n')).toThrow(/unterminated quoted field at line 2/);
    expect(() => parseCsvToFrame('a,b\n1,ab"c\n')).toThrow(/unexpected quote.*line 2/);
    expect(() => parseCsvToFrame('a,b\n"x"y,1\n')).toThrow(/after closing quote at line 2/);
    expect(() => parseCsvToFrame("")).toThrow(CsvFormatError);
    expect(() => parseCsvToFrame("a,a\n1,2\n")).toThrow(/duplicate column name 'a' at line 1/);
  });

  it("skips blank lines and accepts a missing final newline", () => {
    const f = parseCsvToFrame("a,b\n1,2\n\n3,4");
    expect(f.nRows).toBe(2);
    expect(f.columns[0].values).toEqual([1, 3]);
  });

  it("profiles a large stream with bounded state", () => {
    function* chunks() {
      yield "id,kind,free\n";
      for (let b = 0; b < 200; b++) {
        let s = "";
        for (let i = 0; i < 1000; i++) { const n = b * 1000 + i; s += `${n},k${n % 5},${n % 7 === 0 ? "" : "v" + n}\n`; }
        yield s;
      }
    }
    const p = new CsvParser();
    for (const c of chunks()) p.push(c);
    const summary = p.end();
    expect(summary.rows).toBe(200_000);
    const byName = Object.fromEntries(summary.columns.map((c) => [c.name, c]));
    expect(byName.id.type).toBe("integer");
    expect(byName.kind).toMatchObject({ type: "category", distinct: 5, distinctCapped: false });
    expect(byName.free).toMatchObject({ type: "text", distinctCapped: true, missing: Math.ceil(200_000 / 7) });
    expect(profileCsv(["x\n1\n2.5\n"]).columns[0].type).toBe("number");
  });
});
