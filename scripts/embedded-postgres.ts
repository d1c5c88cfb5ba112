// An embedded Postgres (PGlite) served to `pg` over a local socket, for a
// laptop with only Node and nats-server (./millrace up falls back to it).
import { freePort } from "@millrace/runtime";

export async function serveEmbeddedPostgres(dataDir?: string): Promise<{ url: string; stop(): Promise<void> }> {
  const { PGlite } = await import("@electric-sql/pglite");
  const { PGLiteSocketServer } = await import("@electric-sql/pglite-socket");
  const db = dataDir ? await PGlite.create(dataDir) : await PGlite.create();
  const port = await freePort();
  const server = new PGLiteSocketServer({ db, port, host: "127.0.0.1", maxConnections: 100 } as never);
  await server.start();
  return {
    // PGlite has one database; the services find "postgres" and create nothing.
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}
