// The floor: a Hono handler that answers 202 with a random id and does nothing
// else. Whatever a real system does per job costs on top of this.
import { randomUUID } from "node:crypto";
import { serve } from "@hono/node-server";
import { Hono } from "hono";

const app = new Hono();
app.get("/healthz", (c) => c.text("ok"));
app.post("/predict/async", (c) => c.json({ task_id: randomUUID() }, 202));

const port = Number(process.env.PORT ?? 8080);
serve({ fetch: app.fetch, port, hostname: "127.0.0.1" });
