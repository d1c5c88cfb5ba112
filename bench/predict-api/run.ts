// Sync prediction through the whole API: gateway (HTTP, JSON) → gRPC →
// predictor (cached model) → back. Trains a 100-tree random forest on a
// synthetic 2,000 × 10 dataset through the API, then times POST /v1/predict
// with 10,000 instances (warm, cached model) and the same predict in-process
// (loadModel(artifact).predict) to show the HTTP + gRPC overhead.
//
//   npx tsx bench/predict-api/run.ts [--runs 15] [--rows 10000]
//
// Target: 10,000 rows in under 1 s (p50 of the warm runs).
import { loadModel } from "@millrace/ml";
import { connectPostgres, Topology } from "@millrace/runtime";
import { connect } from "nats";
import { Registry } from "../../packages/artifacts/src/index";
import { percentile, startBenchStack, stopOnSignals } from "./stack";

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const RUNS = arg("runs", 15);
const ROWS = arg("rows", 10_000);
const FEATURES = 10;
const TARGET_MS = 1_000;

function lcg(seed: number) {
  let s = seed;
  return () => (s = (s * 16807) % 2147483647) / 2147483647;
}

function trainingCsv(rows: number): string {
  const r = lcg(7);
  const lines = [[...Array.from({ length: FEATURES }, (_, i) => `f${i}`), "label"].join(",")];
  for (let i = 0; i < rows; i++) {
    const x = Array.from({ length: FEATURES }, () => Math.round(r() * 10_000) / 100);
    const s = x[0] - 0.5 * x[1] + 0.3 * x[2] * (x[3] > 50 ? 1 : -1) + (r() - 0.5) * 20;
    lines.push([...x, s > 25 ? "yes" : "no"].join(","));
  }
  return lines.join("\n");
}

function instances(n: number): Record<string, number>[] {
  const r = lcg(99);
  return Array.from({ length: n }, () => Object.fromEntries(Array.from({ length: FEATURES }, (_, i) => [`f${i}`, Math.round(r() * 10_000) / 100])));
}

const fmt = (ms: number) => `${ms.toFixed(1)} ms`;

async function main() {
  console.log(`predict-api bench: ${ROWS} instances × ${FEATURES} features, random forest 100 trees, ${RUNS} timed runs (node ${process.version})`);
  const t0 = performance.now();
  const stack = await startBenchStack();
  stopOnSignals(stack);
  console.log(`stack up in ${((performance.now() - t0) / 1000).toFixed(1)} s (namespace ${stack.ns})`);
  try {
    const up = await stack.api("/v1/datasets?name=bench", { method: "POST", headers: { "content-type": "text/csv" }, body: trainingCsv(2_000) });
    if (up.status !== 201) throw new Error(`upload: ${up.status} ${JSON.stringify(up.body)}`);
    const tr = await stack.api("/v1/train", {
      method: "POST",
      json: { dataset_id: up.body.dataset_id, target: "label", model: { type: "random_forest", params: { n_estimators: 100 } }, name: "bench-forest" },
    });
    if (tr.status !== 202) throw new Error(`train: ${tr.status} ${JSON.stringify(tr.body)}`);
    const trained = await stack.task(tr.body.task_id);
    if (trained.state !== "SUCCESS") throw new Error(`training ${trained.state}: ${JSON.stringify(trained.error)}`);
    console.log(`trained bench-forest v${trained.result.model.version}: accuracy ${trained.result.metrics.accuracy.toFixed(3)}, fit ${trained.result.fit_ms} ms`);

    const rows = instances(ROWS);
    const body = JSON.stringify({ model: "bench-forest", instances: rows });
    console.log(`request body ${(body.length / 1024).toFixed(0)} KiB`);

    // Warm: model loaded into the predictor's cache, connections and JIT warm.
    for (let i = 0; i < 3; i++) {
      const w = await stack.api("/v1/predict", { method: "POST", body });
      if (w.status !== 200 || w.body.predictions.length !== ROWS) throw new Error(`predict: ${w.status} ${JSON.stringify(w.body).slice(0, 300)}`);
    }
    const http: number[] = [];
    let respBytes = 0;
    let apiPredictions: unknown[] = [];
    for (let i = 0; i < RUNS; i++) {
      const r = await stack.api("/v1/predict", { method: "POST", body });
      if (r.status !== 200) throw new Error(`predict: ${r.status}`);
      http.push(r.ms);
      respBytes = r.bytes;
      apiPredictions = r.body.predictions;
    }

    // In-process: the very artifact the predictor serves, from the registry.
    const nc = await connect({ servers: stack.natsUrl });
    const pool = await connectPostgres({ url: stack.databaseUrl, max: 2 });
    const topo = new Topology(stack.ns);
    const registry = new Registry(pool, await nc.jetstream().views.os(topo.objectStore("models")), nc, topo.modelsChanged);
    const artifact = await registry.loadArtifact(await registry.resolve(stack.tenant, "bench-forest"));
    await pool.end();
    await nc.close();
    const model = loadModel(artifact);
    for (let i = 0; i < 3; i++) model.predict(rows);
    const inproc: number[] = [];
    const stages = { parse: [] as number[], predict: [] as number[], stringify: [] as number[] };
    let local: ReturnType<typeof model.predict> | undefined;
    for (let i = 0; i < RUNS; i++) {
      const a = performance.now();
      local = model.predict(rows);
      inproc.push(performance.now() - a);
      // The JSON work the services do around it, for the breakdown.
      const b = performance.now();
      const parsed = JSON.parse(body) as { instances: Record<string, unknown>[] };
      const c = performance.now();
      model.predict(parsed.instances);
      const d = performance.now();
      JSON.stringify(local.predictions);
      if (local.probabilities) JSON.stringify(local.probabilities);
      const e = performance.now();
      stages.parse.push(c - b);
      stages.predict.push(d - c);
      stages.stringify.push(e - d);
    }
    const same = JSON.stringify(local!.predictions) === JSON.stringify(apiPredictions);

    const s = (xs: number[]) => [...xs].sort((x, y) => x - y);
    const h = s(http);
    const p = s(inproc);
    const p50 = percentile(h, 50);
    const ip50 = percentile(p, 50);
    console.log("");
    console.log(`POST /v1/predict, ${ROWS} rows (HTTP round trip, warm)`);
    console.log(`  p50 ${fmt(p50)}  p90 ${fmt(percentile(h, 90))}  min ${fmt(h[0])}  max ${fmt(h[h.length - 1])}  over ${RUNS} runs`);
    console.log(`  ${Math.round(ROWS / (p50 / 1000)).toLocaleString("en-US")} rows/s at p50; response ${(respBytes / 1024).toFixed(0)} KiB`);
    console.log(`in-process loadModel(artifact).predict, same rows`);
    console.log(`  p50 ${fmt(ip50)}  max ${fmt(p[p.length - 1])}  → ${Math.round(ROWS / (ip50 / 1000)).toLocaleString("en-US")} rows/s`);
    console.log(`  + one JSON.parse of the body p50 ${fmt(percentile(s(stages.parse), 50))}, JSON.stringify of the answer p50 ${fmt(percentile(s(stages.stringify), 50))}`);
    console.log(`API / in-process: ${(p50 / ip50).toFixed(2)}×  (HTTP + gRPC + JSON overhead ${fmt(p50 - ip50)} at p50)`);
    console.log(`predictions identical to in-process: ${same ? "yes" : "NO"}`);
    const pass = p50 < TARGET_MS && same;
    console.log(`target "10,000 rows in under 1 s": ${pass ? "PASS" : "FAIL"} (p50 ${fmt(p50)}, max ${fmt(h[h.length - 1])})`);
    process.exitCode = pass ? 0 : 1;
  } finally {
    await stack.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(2);
});
