/**
 * Worker-thread side of a parallel fit (see parallel.ts). Receives the shared
 * training data once, then grows one tree per {t, seed} message and sends its
 * node arrays back (transferred, not copied).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { TreeGrower, type GrowParams, type TrainingSet } from './builder';
import { growSeeded } from './training';

export interface WorkerInit {
  data: TrainingSet;
  presorted: Int32Array;
  grow: GrowParams;
  bootstrap: boolean;
  nBoot: number;
}

export interface TreeTask {
  t: number;
  seed: number;
}

export interface TreeReply {
  t: number;
  nNodes: number;
  nOutputs: number;
  feature: Int32Array;
  threshold: Float64Array;
  left: Int32Array;
  right: Int32Array;
  value: Float64Array;
  cover: Float64Array;
  importances: Float64Array;
}

const init = workerData as WorkerInit;
const port = parentPort!;
const grower = new TreeGrower(init.data, init.presorted, init.grow);
const weights = new Float64Array(init.data.n);

port.on('message', (task: TreeTask) => {
  const { tree, importances } = growSeeded(grower, task.seed, init.bootstrap, init.data.n, init.nBoot, weights);
  const reply: TreeReply = {
    t: task.t,
    nNodes: tree.nNodes,
    nOutputs: tree.nOutputs,
    feature: tree.feature,
    threshold: tree.threshold,
    left: tree.left,
    right: tree.right,
    value: tree.value,
    cover: tree.cover,
    importances,
  };
  port.postMessage(reply, [
    tree.feature.buffer, tree.threshold.buffer, tree.left.buffer, tree.right.buffer,
    tree.value.buffer, tree.cover.buffer, importances.buffer,
  ] as ArrayBuffer[]);
});
