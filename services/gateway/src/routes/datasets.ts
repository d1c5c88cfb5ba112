// Dataset uploads: the CSV body is streamed into the JetStream object store
// while @millrace/ml's streaming CsvParser counts rows and infers column types
// (the same inference the trainer applies) and a sha256 is computed, so a
// 100 MB upload never sits in memory.
import { createHash, randomUUID } from "node:crypto";
import { Hono } from "hono";
import type { ObjectStore } from "nats";
import { COLUMN_TYPES, CsvFormatError, CsvParser, type ColumnType, type CsvSummary } from "@millrace/ml";
import { DependencyUnavailableError, PayloadTooLargeError, ValidationError } from "@millrace/runtime";
import type { GatewayDeps, GatewayEnv } from "../context";
import { datasetJson, insertDataset, listDatasets, requireDataset } from "../dataset-store";
import { UnsupportedMediaTypeError } from "../errors";
import { CSV_CONTENT_TYPES, contentType, nameSchema, parseWith, queryInt } from "../validation";

/** `?types=col:type,col2:type` → column types the parser must use (cells that do not fit are a 400). */
export function parseTypeOverrides(raw: string | undefined): Record<string, ColumnType> {
  const out: Record<string, ColumnType> = {};
  if (!raw) return out;
  for (const part of raw.split(",")) {
    if (!part.trim()) continue;
    const at = part.lastIndexOf(":");
    const col = at > 0 ? part.slice(0, at).trim() : "";
    const type = at > 0 ? part.slice(at + 1).trim().toLowerCase() : "";
    if (!col || !(COLUMN_TYPES as readonly string[]).includes(type)) {
      throw new ValidationError(`types: '${part}' must be column:type with type one of ${COLUMN_TYPES.join(", ")}`, { field: "types" });
    }
    out[col] = type as ColumnType;
  }
  return out;
}

export function datasetRoutes(deps: GatewayDeps): Hono<GatewayEnv> {
  const app = new Hono<GatewayEnv>();
  let store: Promise<ObjectStore> | undefined;
  const objectStore = () => {
    store ??= deps.js.views.os(deps.topo.objectStore("datasets")).catch((err) => {
      store = undefined;
      throw new DependencyUnavailableError("the dataset object store is unavailable", { cause: err });
    });
    return store;
  };

  app.post("/datasets", async (c) => {
    const tenant = c.get("tenant");
    const name = parseWith(nameSchema, c.req.query("name") ?? "", ["name"]);
    const overrides = parseTypeOverrides(c.req.query("types"));
    const ct = contentType(c.req.header("content-type"));
    if (!CSV_CONTENT_TYPES.has(ct)) throw new UnsupportedMediaTypeError(`send the dataset as text/csv (got '${ct || "none"}')`, { field: "content-type" });
    const limit = deps.config.MAX_UPLOAD_BYTES;
    const declared = c.req.header("content-length");
    if (declared && /^\d+$/.test(declared) && Number(declared) > limit) {
      throw new PayloadTooLargeError(`dataset is larger than ${limit} bytes`, { field: "body" });
    }
    const body = c.req.raw.body;
    if (!body) throw new ValidationError("request body is empty; expected CSV", { field: "body" });

    const datasetId = randomUUID();
    const objectName = `${tenant}/${datasetId}`;
    const parser = new CsvParser({ columnTypes: overrides, columnTypesField: "types" });
    const hash = createHash("sha256");
    let bytes = 0;
    let summary: CsvSummary | undefined;
    let failure: unknown;
    const reader = body.getReader();
    // Pull-driven: the object store asks for the next chunk only when it has
    // taken the last one, so the request body is read at the store's pace.
    const source = new ReadableStream<Uint8Array>({
      async pull(ctrl) {
        try {
          const { done, value } = await reader.read();
          if (done) {
            summary = parser.end();
            // A header alone is a dataset nothing can be trained on, and its
            // columns all come out "text": the train request would then fail
            // on a misleading "target is text" instead of on the real cause.
            if (summary.rows === 0) throw new CsvFormatError("the CSV has a header but no data rows", 2);
            ctrl.close();
            return;
          }
          bytes += value.byteLength;
          if (bytes > limit) throw new PayloadTooLargeError(`dataset is larger than ${limit} bytes`, { field: "body" });
          hash.update(value);
          parser.push(value);
          ctrl.enqueue(value);
        } catch (err) {
          failure = err;
          ctrl.error(err);
          reader.cancel().catch(() => undefined);
        }
      },
      cancel(reason) {
        reader.cancel(reason).catch(() => undefined);
      },
    });

    const os = await objectStore();
    try {
      await os.put({ name: objectName, description: name }, source);
    } catch (err) {
      // put() purges the chunks it wrote; delete covers a meta entry, if any.
      await os.delete(objectName).catch(() => undefined);
      if (failure) throw failure;
      throw new DependencyUnavailableError("could not store the dataset", { cause: err });
    }
    if (!summary) throw new DependencyUnavailableError("the dataset stream ended early");
    let row;
    try {
      const columns = summary.columns.map((col) => ({ name: col.name, type: col.type }));
      row = await insertDataset(deps.pool, {
        datasetId,
        tenant,
        name,
        rows: summary.rows,
        columns,
        bytes,
        sha256: hash.digest("hex"),
        objectName,
      });
    } catch (err) {
      await os.delete(objectName).catch(() => undefined);
      throw err;
    }
    deps.logger.info({ dataset_id: datasetId, rows: row.rows, bytes }, "dataset stored");
    return c.json(datasetJson(row), 201, { Location: `/v1/datasets/${datasetId}` });
  });

  app.get("/datasets", async (c) => {
    const limit = queryInt(c.req.query("limit"), "limit", 100, 1, 1000);
    const rows = await listDatasets(deps.pool, c.get("tenant"), limit);
    return c.json({ datasets: rows.map(datasetJson) });
  });

  app.get("/datasets/:id", async (c) => {
    const d = await requireDataset(deps.pool, c.get("tenant"), c.req.param("id"), "dataset_id");
    return c.json(datasetJson(d));
  });

  return app;
}
