// Small dense network trained with tfjs-layers. Training is seeded (kernel
// initialisers and our own batch shuffling, not tfjs' Math.random shuffle) and
// checks the abort signal between batches. After training the weights are
// copied out and the model disposed: prediction is a plain float64 forward pass,
// synchronous and independent of the tfjs backend, so serving and evaluation
// share one path.

import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { ensureBackend } from "../backend";
import { createCheckpoint } from "../cooperative";
import { createRng, deriveSeed, shuffleInPlace } from "../rng";
import { shapleyValues } from "../shapley";
import type { Task } from "../nodes/types";
import { atTrainingMean, columnMeans, columnScales, type Explanation, type FittedModel, type ModelFitContext, type TrainingSet } from "./types";

export type Activation = "relu" | "tanh" | "sigmoid";

export interface NetworkParams {
  hidden_layers?: number[];
  activation?: Activation;
  epochs?: number;
  learning_rate?: number;
  batch_size?: number;
  seed?: number;
}

interface DenseWeights {
  /** Row-major in × out. */
  kernel: Float32Array;
  bias: Float32Array;
  inputs: number;
  units: number;
}

export interface NetworkState {
  task: Task;
  nClasses: number;
  activation: Activation;
  layers: DenseWeights[];
  /** Regression target standardisation (the network learns (y − mean)/std). */
  yMean: number;
  yStd: number;
  /** Training feature means: the explanation baseline. */
  means: Float64Array;
  /** Training feature spreads (columnScales); absent in artifacts made before 2026-12-06. */
  scales?: Float64Array;
}

const ACT: Record<Activation, (x: number) => number> = {
  relu: (x) => (x > 0 ? x : 0),
  tanh: Math.tanh,
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
};

export class NeuralNetworkModel implements FittedModel {
  readonly type = "neural_network" as const;
  readonly task: Task;
  readonly nFeatures: number;
  readonly nClasses: number;

  constructor(private readonly s: NetworkState, readonly trainInfo?: Record<string, unknown>) {
    this.task = s.task;
    this.nClasses = s.nClasses;
    this.nFeatures = s.layers[0].inputs;
  }

  /** Regression: values; classification: probabilities (n × K). */
  predict(X: Float64Array, nRows: number): Float64Array {
    let cur = X, width = this.nFeatures;
    const last = this.s.layers.length - 1;
    const act = ACT[this.s.activation];
    this.s.layers.forEach((L, li) => {
      const out = new Float64Array(nRows * L.units);
      for (let i = 0; i < nRows; i++) {
        const xo = i * width, oo = i * L.units;
        for (let u = 0; u < L.units; u++) out[oo + u] = L.bias[u];
        for (let j = 0; j < width; j++) {
          const xv = cur[xo + j];
          if (xv === 0) continue;
          const ko = j * L.units;
          for (let u = 0; u < L.units; u++) out[oo + u] += xv * L.kernel[ko + u];
        }
        if (li < last) for (let u = 0; u < L.units; u++) out[oo + u] = act(out[oo + u]);
      }
      cur = out;
      width = L.units;
    });
    if (this.task === "regression") {
      const y = new Float64Array(nRows);
      for (let i = 0; i < nRows; i++) y[i] = cur[i] * this.s.yStd + this.s.yMean;
      return y;
    }
    const K = width;
    for (let i = 0; i < nRows; i++) {
      let m = -Infinity;
      for (let c = 0; c < K; c++) m = Math.max(m, cur[i * K + c]);
      let sum = 0;
      for (let c = 0; c < K; c++) sum += cur[i * K + c] = Math.exp(cur[i * K + c] - m);
      for (let c = 0; c < K; c++) cur[i * K + c] /= sum;
    }
    return cur;
  }

  explain(X: Float64Array, nRows: number, classIndex?: Int32Array): Explanation {
    const p = this.nFeatures;
    const base = new Float64Array(nRows), phi = new Float64Array(nRows * p), output = new Float64Array(nRows);
    for (let i = 0; i < nRows; i++) {
      const c = classIndex ? classIndex[i] : 0;
      const K = this.nClasses;
      const f = this.task === "regression"
        ? (B: Float64Array, n: number) => this.predict(B, n)
        : (B: Float64Array, n: number) => {
            const P = this.predict(B, n);
            const out = new Float64Array(n);
            for (let r = 0; r < n; r++) out[r] = P[r * K + c];
            return out;
          };
      const r = shapleyValues(f, this.snapToMeans(X.subarray(i * p, (i + 1) * p)), this.s.means, { seed: 17 });
      base[i] = r.base;
      output[i] = r.output;
      phi.set(r.phi, i * p);
    }
    return { base, phi, output, space: this.task === "regression" ? "value" : "probability" };
  }

  /**
   * The row with every value atTrainingMean set to the mean itself: swapping such a feature for the
   * baseline then changes no input bit, so its Shapley value is exactly 0.
   */
  private snapToMeans(x: Float64Array): Float64Array {
    const { means, scales } = this.s;
    if (!scales) return x;
    let out = x;
    for (let j = 0; j < x.length; j++) {
      if (x[j] === means[j] || !atTrainingMean(x[j], means[j], scales[j])) continue;
      if (out === x) out = Float64Array.from(x);
      out[j] = means[j];
    }
    return out;
  }

  state(): Record<string, unknown> {
    return { ...this.s };
  }

  static load(state: Record<string, unknown>): NeuralNetworkModel {
    return new NeuralNetworkModel(state as unknown as NetworkState);
  }
}

export async function fitNeuralNetwork(data: TrainingSet, params: NetworkParams, ctx: ModelFitContext): Promise<NeuralNetworkModel> {
  await ensureBackend();
  const { X, y, nRows: n, nFeatures: p, nClasses: K } = data;
  const task = ctx.task;
  const hidden = params.hidden_layers ?? [32, 16];
  const activation = params.activation ?? "relu";
  const epochs = params.epochs ?? 50;
  const lr = params.learning_rate ?? 0.01;
  const batchSize = Math.min(params.batch_size ?? 32, n);
  const seed = params.seed ?? ctx.seed;
  const checkpoint = createCheckpoint(ctx.signal);

  let yMean = 0, yStd = 1;
  if (task === "regression") {
    for (let i = 0; i < n; i++) yMean += y[i];
    yMean /= n;
    let v = 0;
    for (let i = 0; i < n; i++) v += (y[i] - yMean) ** 2;
    yStd = Math.sqrt(v / n) || 1;
  }
  const outUnits = task === "regression" ? 1 : K;
  const Xf = Float32Array.from(X);
  const Yf = new Float32Array(n * outUnits);
  for (let i = 0; i < n; i++) {
    if (task === "regression") Yf[i] = (y[i] - yMean) / yStd;
    else Yf[i * K + y[i]] = 1;
  }

  const model = tfl.sequential();
  [...hidden, outUnits].forEach((units, li) => {
    model.add(
      tfl.layers.dense({
        units,
        activation: li === hidden.length ? (task === "regression" ? "linear" : "softmax") : activation,
        inputShape: li === 0 ? [p] : undefined,
        kernelInitializer: tfl.initializers.glorotUniform({ seed: deriveSeed(seed, li) }),
        biasInitializer: "zeros",
      }),
    );
  });
  const optimizer = tf.train.adam(lr);
  model.compile({ optimizer, loss: task === "regression" ? "meanSquaredError" : "categoricalCrossentropy" });

  const Xt = tf.tensor2d(Xf, [n, p]);
  const Yt = tf.tensor2d(Yf, [n, outUnits]);
  const rng = createRng(deriveSeed(seed, 1000));
  const order = Int32Array.from({ length: n }, (_, i) => i);
  const losses: number[] = [];
  try {
    for (let epoch = 0; epoch < epochs; epoch++) {
      await checkpoint();
      shuffleInPlace(order, rng);
      let lossSum = 0, batches = 0;
      for (let start = 0; start < n; start += batchSize) {
        const idx = tf.tensor1d(order.subarray(start, Math.min(n, start + batchSize)), "int32");
        const xb = tf.gather(Xt, idx);
        const yb = tf.gather(Yt, idx);
        try {
          const l = await model.trainOnBatch(xb, yb);
          lossSum += Array.isArray(l) ? l[0] : l;
          batches++;
        } finally {
          tf.dispose([idx, xb, yb]);
        }
        await checkpoint();
      }
      const loss = lossSum / Math.max(1, batches);
      losses.push(loss);
      ctx.onProgress?.((epoch + 1) / epochs, `epoch ${epoch + 1}/${epochs}, loss ${loss.toFixed(6)}`);
    }
    const layers: DenseWeights[] = model.layers.map((layer) => {
      const [kernel, bias] = layer.getWeights();
      const [inputs, units] = kernel.shape as [number, number];
      return { kernel: Float32Array.from(kernel.dataSync()), bias: Float32Array.from(bias.dataSync()), inputs, units };
    });
    const means = columnMeans(X, n, p);
    return new NeuralNetworkModel(
      { task, nClasses: task === "regression" ? 0 : K, activation, layers, yMean, yStd, means, scales: columnScales(X, n, p, means) },
      { epochs, final_loss: losses[losses.length - 1], loss_history: losses },
    );
  } finally {
    tf.dispose([Xt, Yt]);
    model.dispose();
    optimizer.dispose();
  }
}
