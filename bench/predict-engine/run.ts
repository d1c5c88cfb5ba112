// Batch-prediction bench for @millrace/ml: 10,000 raw rows through the full
// serving path (row validation → fitted preprocessing → model).
// Run: cd /work/main && npx tsx bench/predict-engine/run.ts

import { loadModel, runPipeline, trainSpec, type DataFrame } from "@millrace/ml";

/** Park–Miller generator: the same rows on every run. */
function createRng(seed: number): () => number {
  let s = seed % 2147483647 || 1;
  return () => (s = (s * 16807) % 2147483647) / 2147483647;
}

const N_TRAIN = 2000;
const N_PREDICT = 10_000;
const REPEATS = 7;

function syntheticFrame(n: number, seed: number): DataFrame {
  const rng = createRng(seed);
  const cols: Record<string, (number | string | null)[]> = { x0: [], x1: [], x2: [], x3: [], x4: [], x5: [], x6: [], color: [], city: [], y: [], label: [] };
  for (let i = 0; i < n; i++) {
    const xs = Array.from({ length: 7 }, () => rng() * 10);
    const color = ["red", "green", "blue", "black"][Math.floor(rng() * 4)];
    const city = ["Paris", "Lyon", "Nice"][Math.floor(rng() * 3)];
    xs.forEach((x, j) => cols[`x${j}`].push(rng() < 0.03 ? null : x));
    cols.color.push(color);
    cols.city.push(city);
    const y = 2 * xs[0] - xs[1] + 0.5 * xs[2] * xs[3] / 10 + (color === "red" ? 3 : 0) + rng();
    cols.y.push(y);
    cols.label.push(y > 8 ? "high" : "low");
  }
  return {
    nRows: n,
    columns: Object.entries(cols).map(([name, values]) => ({
      name,
      type: name === "color" || name === "city" || name === "label" ? ("category" as const) : ("number" as const),
      values,
    })),
  };
}

function rowsOf(frame: DataFrame, n: number): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, i) => {
    const r = i % frame.nRows;
    const row: Record<string, unknown> = {};
    for (const c of frame.columns) if (c.name !== "y" && c.name !== "label") row[c.name] = c.values[r];
    return row;
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

function time(fn: () => void): number {
  fn(); // warm-up
  const ts: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const t0 = performance.now();
    fn();
    ts.push(performance.now() - t0);
  }
  return median(ts);
}

const train = syntheticFrame(N_TRAIN, 1);
const rows = rowsOf(syntheticFrame(N_PREDICT, 2), N_PREDICT);

const forest = await runPipeline(trainSpec("label", { type: "random_forest", params: { n_estimators: 100 } }), train, { seed: 42 });
const forestModel = loadModel(forest.artifact);
const linear = await runPipeline(trainSpec("y", { type: "linear_regression" }), train, { seed: 42 });
const linearModel = loadModel(linear.artifact);

const tLoad = time(() => loadModel(forest.artifact));
const tForest = time(() => forestModel.predict(rows));
const tLinear = time(() => linearModel.predict(rows));
const tExplain = time(() => forestModel.explain(rows.slice(0, 100)));

const fmt = (ms: number) => `${ms.toFixed(1)} ms`;
console.log(`@millrace/ml predict bench — ${N_PREDICT.toLocaleString("en")} rows, median of ${REPEATS} (node ${process.version})`);
console.log(`  random forest (100 trees, ${forest.feature_names.length} features): ${fmt(tForest)}  [${(N_PREDICT / tForest * 1000).toFixed(0)} rows/s]`);
console.log(`  linear regression (${linear.feature_names.length} features):             ${fmt(tLinear)}  [${(N_PREDICT / tLinear * 1000).toFixed(0)} rows/s]`);
console.log(`  forest artifact: ${(forest.artifact.byteLength / 1024).toFixed(0)} KiB, loadModel ${fmt(tLoad)}; TreeSHAP explain of 100 rows ${fmt(tExplain)}`);
console.log(`  training: forest ${forest.fit_ms} ms (${forest.backend}), linear ${linear.fit_ms} ms (${linear.backend})`);
