// The streaming CSV row reader on its own: chunk boundaries anywhere, quoting,
// blank lines, and errors naming the line.
import { describe, expect, it } from "vitest";
import { CsvFormatError, CsvRows } from "../src/csv-rows";

function read(text: string, chunk = 7): { rows: string[][]; lines: number[]; count: number } {
  const bytes = new TextEncoder().encode(text);
  const rows: string[][] = [];
  const lines: number[] = [];
  const r = new CsvRows({ onRow: (f, _row, line) => (rows.push(f), lines.push(line)) });
  for (let i = 0; i < bytes.length; i += chunk) r.push(bytes.subarray(i, i + chunk));
  return { rows, lines, count: r.end() };
}

describe("CsvRows", () => {
  const csv = '\uFEFFid,note,city\r\n1,"a, ""quoted""\nline",Oslo\r\n2,plain,Bergen\n\n3,,"Tromsø"\n';

  it.each([1, 2, 3, 7, 64, 10_000])("reads the same rows with %i-byte chunks", (chunk) => {
    const { rows, lines, count } = read(csv, chunk);
    expect(count).toBe(3);
    expect(rows).toEqual([
      ["1", 'a, "quoted"\nline', "Oslo"],
      ["2", "plain", "Bergen"],
      ["3", "", "Tromsø"],
    ]);
    // Physical line where each record starts (the quoted newline counts).
    expect(lines).toEqual([2, 4, 6]);
  });

  it("reads a last row without a trailing newline", () => {
    expect(read("a,b\n1,\n2,3").rows).toEqual([
      ["1", ""],
      ["2", "3"],
    ]);
  });

  it.each([
    ["a,b\n1,2\n3\n", 3, /expected 2 fields, found 1/],
    ['a,b\n1,"2\n3,4\n', 2, /never closed/],
    ['a,b\n1,x"y\n', 2, /quote inside an unquoted field/],
    ['a,b\n1,"x"y\n', 2, /after a closing quote/],
    ["a,a\n1,2\n", 1, /twice/],
    ["", 1, /empty/],
  ])("rejects malformed CSV naming the line (%#)", (text, line, msg) => {
    let err: unknown;
    try {
      read(text as string, 3);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CsvFormatError);
    expect((err as CsvFormatError).line).toBe(line);
    expect((err as Error).message).toMatch(msg as RegExp);
    expect((err as Error).message).toContain(`line ${line}`);
  });
});
