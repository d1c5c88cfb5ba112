// The stack's fallback when no Postgres answers: PGlite served over a socket
// must take every migration and concurrent queries through `pg`.
import { describe, expect, it } from "vitest";
import { connectPostgres, migrate } from "@millrace/runtime";
import { serveEmbeddedPostgres } from "../scripts/embedded-postgres";

describe("embedded Postgres fallback (PGlite)", () => {
  it("runs the migrations and answers concurrent queries", async () => {
    const pg = await serveEmbeddedPostgres();
    try {
      const pool = await connectPostgres({ url: pg.url, createDatabase: true, max: 4 });
      const applied = await migrate(pool);
      expect(applied).toContain("001_tasks.sql");
      const r = await Promise.all([1, 2, 3, 4].map((i) => pool.query("select $1::int as i", [i])));
      expect(r.map((x) => x.rows[0].i)).toEqual([1, 2, 3, 4]);
      await pool.query("insert into sales (tenant, product_sku, date, quantity) values ('t', 'A', '2026-01-01', 3)");
      expect((await pool.query("select quantity from sales")).rows[0].quantity).toBe(3);
      await pool.end();
    } finally {
      await pg.stop();
    }
  });
});
