// Hono + BullMQ with the worker in the same process: the usual Node answer to
// "Flask + Celery", and the figure Millrace has to match.
import { serve } from "@hono/node-server";
import { Queue, Worker } from "bullmq";
import { Hono } from "hono";

const port = Number(process.env.PORT ?? 8080);
const connection = { host: "127.0.0.1", port: Number(process.env.REDIS_PORT ?? 6379) };
const WEIGHTS = [0.5, -1.25, 2.0, 0.75];

const queue = new Queue("predict", { connection });
// Jobs are kept after completion (BullMQ's default) so GET /tasks/:id can read their state.
const worker = new Worker(
  "predict",
  async (job) => {
    const xs: number[] = Array.isArray(job.data?.features) ? job.data.features : [1, 2, 3, 4];
    let y = 0;
    for (let i = 0; i < WEIGHTS.length; i++) y += WEIGHTS[i] * (xs[i] ?? 0);
    return { prediction: y };
  },
  { connection, concurrency: Number(process.env.WORKER_CONCURRENCY ?? 50) },
);
worker.on("error", (err) => console.error("worker error", err.message));

const app = new Hono();
app.get("/healthz", (c) => c.text("ok"));
app.post("/predict/async", async (c) => {
  const payload = await c.req.json().catch(() => ({}));
  const job = await queue.add("predict", payload);
  return c.json({ task_id: job.id }, 202);
});
app.get("/tasks/:id", async (c) => {
  // completed | failed | active | waiting | delayed | prioritized | waiting-children | unknown
  const state = await queue.getJobState(c.req.param("id"));
  return c.json({ task_id: c.req.param("id"), state });
});

serve({ fetch: app.fetch, port, hostname: "127.0.0.1" });

const shutdown = async () => {
  await worker.close();
  await queue.close();
  process.exit(0);
};
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
