// Dataset uploads stream into the object store while rows and types are
// counted; failures leave no object and no row.
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { uniqueName } from "@millrace/testkit";
import { createHarness, requester, token, type Harness } from "./harness";

let h: Harness;
beforeAll(async () => {
  h = await createHarness({ config: { MAX_UPLOAD_BYTES: "200000" } });
});
afterAll(async () => h?.cleanup());

/** A body that arrives in chunks with no Content-Length, like a real streamed upload. */
function chunked(text: string, size = 1000): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  let i = 0;
  return new ReadableStream({
    pull(ctrl) {
      if (i >= bytes.length) return ctrl.close();
      ctrl.enqueue(bytes.slice(i, i + size));
      i += size;
    },
  });
}

async function upload(tenant: string, body: string | ReadableStream<Uint8Array>, query = "name=houses", contentType = "text/csv") {
  return h.app.request(`/v1/datasets?${query}`, {
    method: "POST",
    headers: { authorization: `Bearer ${await token(tenant)}`, "content-type": contentType },
    body,
    duplex: "half",
  } as RequestInit);
}

async function objectNames(): Promise<string[]> {
  const os = await h.nats.nc.jetstream().views.os(h.nats.topo.objectStore("datasets"));
  const names: string[] = [];
  for (const info of await os.list()) names.push(info.name);
  return names;
}

function houses(rows: number): string {
  const lines = ["sqft,rooms,price,city,listed"];
  for (let i = 0; i < rows; i++) lines.push(`${1000 + i},${(i % 5) + 1},${(200000 + i * 10.5).toFixed(1)},${["Oslo", "Bergen", "Tromsø"][i % 3]},2024-01-${String((i % 28) + 1).padStart(2, "0")}`);
  return lines.join("\n") + "\n";
}

describe("POST /v1/datasets", () => {
  it("streams the CSV into the object store and records rows, types, bytes and sha256", async () => {
    const tenant = uniqueName("tenant_");
    const text = houses(2000);
    const res = await upload(tenant, chunked(text, 777));
    expect(res.status).toBe(201);
    const body = await res.json() as any;
    expect(body).toMatchObject({
      name: "houses",
      rows: 2000,
      bytes: Buffer.byteLength(text),
      sha256: createHash("sha256").update(text).digest("hex"),
      columns: [
        { name: "sqft", type: "integer" },
        { name: "rooms", type: "integer" },
        { name: "price", type: "number" },
        { name: "city", type: "category" },
        { name: "listed", type: "date" },
      ],
    });
    expect(res.headers.get("location")).toBe(`/v1/datasets/${body.dataset_id}`);

    const os = await h.nats.nc.jetstream().views.os(h.nats.topo.objectStore("datasets"));
    const stored = await os.getBlob(`${tenant}/${body.dataset_id}`);
    expect(Buffer.from(stored!).toString()).toBe(text);
    const row = await h.db.pool.query("select tenant, object_name, rows from datasets where dataset_id = $1", [body.dataset_id]);
    expect(row.rows[0]).toEqual({ tenant, object_name: `${tenant}/${body.dataset_id}`, rows: 2000 });

    // Read back, listed, and invisible to another tenant.
    const auth = { authorization: `Bearer ${await token(tenant)}` };
    const one = await h.app.request(`/v1/datasets/${body.dataset_id}`, { headers: auth });
    expect(await one.json() as any).toEqual(body);
    const list = await h.app.request("/v1/datasets", { headers: auth });
    expect((await list.json() as any).datasets.map((d: { dataset_id: string }) => d.dataset_id)).toEqual([body.dataset_id]);
    const other = await h.app.request(`/v1/datasets/${body.dataset_id}`, { headers: { authorization: `Bearer ${await token(uniqueName("other_"))}` } });
    expect(other.status).toBe(404);
  });

  it("applies ?types= overrides", async () => {
    const res = await upload(uniqueName("tenant_"), "zip,amount\n01234,5\n99999,6\n", "name=zips&types=zip:category,amount:number");
    expect(res.status).toBe(201);
    expect((await res.json() as any).columns).toEqual([
      { name: "zip", type: "category" },
      { name: "amount", type: "number" },
    ]);
  });

  it("400 naming the line when a value does not fit a ?types= override, or the type is unknown", async () => {
    const tenant = uniqueName("tenant_");
    const res = await upload(tenant, "id,amount\n1,5\n2,lots\n", "name=x&types=amount:number");
    expect(res.status).toBe(400);
    expect((await res.json() as any).error).toMatchObject({ code: "CSV_FORMAT", line: 3 });
    const bad = await upload(tenant, "id\n1\n", "name=x&types=id:complex");
    expect(bad.status).toBe(400);
    expect((await bad.json() as any).error.field).toBe("types");
    // A column the header lacks is the query's fault, not the body's.
    const unknown = await upload(tenant, "id\n1\n", "name=x&types=nosuch:integer");
    expect(unknown.status).toBe(400);
    expect((await unknown.json() as any).error).toMatchObject({ code: "CSV_FORMAT", field: "types", line: 1 });
    expect((await objectNames()).filter((n) => n.startsWith(`${tenant}/`))).toEqual([]);
  });

  it("413 over MAX_UPLOAD_BYTES while streaming, leaving no object and no row", async () => {
    const tenant = uniqueName("tenant_");
    const res = await upload(tenant, chunked(houses(6000), 4096));
    expect(res.status).toBe(413);
    expect((await res.json() as any).error.code).toBe("PAYLOAD_TOO_LARGE");
    expect((await objectNames()).filter((n) => n.startsWith(`${tenant}/`))).toEqual([]);
    const rows = await h.db.pool.query("select count(*)::int as n from datasets where tenant = $1", [tenant]);
    expect(rows.rows[0].n).toBe(0);
    // Declared too large: refused before reading.
    const declared = await h.app.request("/v1/datasets?name=big", {
      method: "POST",
      headers: { authorization: `Bearer ${await token(tenant)}`, "content-type": "text/csv", "content-length": "300000" },
      body: "a\n1\n",
    });
    expect(declared.status).toBe(413);
  });

  it("400 naming the line for malformed CSV, leaving no object", async () => {
    const tenant = uniqueName("tenant_");
    const res = await upload(tenant, chunked("a,b\n1,2\n3,4\n5\n6,7\n", 3));
    expect(res.status).toBe(400);
    const err = (await res.json() as any).error;
    expect(err).toMatchObject({ code: "CSV_FORMAT", field: "body", line: 4 });
    expect(err.message).toContain("line 4");
    expect((await objectNames()).filter((n) => n.startsWith(`${tenant}/`))).toEqual([]);
  });

  it("400 for a header with no data rows, leaving no object and no dataset", async () => {
    const tenant = uniqueName("tenant_");
    for (const body of ["a,b,y\n", "a,b,y"]) {
      const res = await upload(tenant, body);
      expect(res.status).toBe(400);
      expect((await res.json() as any).error).toMatchObject({ code: "CSV_FORMAT", field: "body", line: 2, message: "the CSV has a header but no data rows at line 2" });
    }
    expect((await objectNames()).filter((n) => n.startsWith(`${tenant}/`))).toEqual([]);
    const listed = await requester(h.app, await token(tenant))("GET", "/v1/datasets");
    expect((await listed.json() as any).datasets).toEqual([]);
  });

  it("400 for a header of more than 10,000 columns, leaving no object", async () => {
    const tenant = uniqueName("tenant_");
    const wide = Array.from({ length: 10_001 }, (_, i) => `c${i}`).join(",") + "\n";
    const res = await upload(tenant, chunked(wide + wide.replace(/c\d+/g, "1"), 4096));
    expect(res.status).toBe(400);
    expect((await res.json() as any).error).toMatchObject({ code: "CSV_FORMAT", field: "body", line: 1 });
    expect((await objectNames()).filter((n) => n.startsWith(`${tenant}/`))).toEqual([]);
  });

  it("400 naming name, 415 for a non-CSV body", async () => {
    const tenant = uniqueName("tenant_");
    const noName = await upload(tenant, "a\n1\n", "");
    expect(noName.status).toBe(400);
    expect((await noName.json() as any).error.field).toBe("name");
    const json = await upload(tenant, "{}", "name=x", "application/json");
    expect(json.status).toBe(415);
  });
});
