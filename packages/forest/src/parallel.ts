/**
 * Parallel fit: trees are grown on worker threads that share the training
 * data through SharedArrayBuffers. Tree t is still grown from seed t, so the
 * model is identical to a sequential fit with the same seed.
 *
 * Starting a worker costs a few hundred ms (it loads this package through
 * tsx when running from TypeScript source), so this pays off for fits that
 * take seconds, not for small ones.
 */
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ForestAbortError, ForestWorkerError } from './errors';
import { FlatTree } from './nodes';
import { FitAccumulator, type FitPlan, type FittedState } from './training';
import type { TreeReply, TreeTask, WorkerInit } from './fit-worker';

export function resolveJobs(nJobs: number | undefined): number {
  if (nJobs === undefined || nJobs === 1) return 1;
  if (nJobs === -1) return Math.max(1, availableParallelism());
  return nJobs;
}

/**
 * How to start a worker. From compiled JS: the sibling fit-worker.js. From
 * TypeScript source (tsx, vitest): `execArgv: ['--import', 'tsx']` does not
 * reliably apply the loader to a worker's entry module on Node 20, so the
 * worker is a tiny eval'd bootstrap that registers tsx's ESM hooks through its
 * API and then imports fit-worker.ts.
 */
function startWorker(init: WorkerInit): Worker {
  const self = import.meta.url;
  if (!self.endsWith('.ts')) return new Worker(new URL('./fit-worker.js', self), { workerData: init });
  const req = createRequire(self);
  const api = pathToFileURL(join(dirname(req.resolve('tsx/package.json')), 'dist/esm/api/index.mjs')).href;
  const entry = new URL('./fit-worker.ts', self).href;
  const boot = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { eval: true, workerData: init, execArgv: [] });
}

export function fitParallel(
  plan: FitPlan,
  nJobs: number,
  onTree: (done: number, total: number) => void,
  signal: AbortSignal | undefined,
): Promise<FittedState> {
  const T = plan.treeSeeds.length;
  const nWorkers = Math.min(nJobs, T);
  const init: WorkerInit = {
    data: plan.data,
    presorted: plan.presorted,
    grow: plan.grow,
    bootstrap: plan.bootstrap,
    nBoot: plan.nBoot,
  };
  const acc = new FitAccumulator(plan);

  return new Promise<FittedState>((resolve, reject) => {
    const workers: Worker[] = [];
    let next = 0;
    let done = 0;
    let settled = false;

    const finish = (err: Error | null, value?: FittedState): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      for (const w of workers) void w.terminate();
      if (err) reject(err);
      else resolve(value!);
    };
    const onAbort = (): void => finish(new ForestAbortError('fit aborted', { cause: signal?.reason }));
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });

    const dispatch = (w: Worker): void => {
      if (next >= T) return;
      const task: TreeTask = { t: next, seed: plan.treeSeeds[next] };
      next++;
      w.postMessage(task);
    };

    for (let i = 0; i < nWorkers; i++) {
      const w = startWorker(init);
      workers.push(w);
      w.on('message', (r: TreeReply) => {
        if (settled) return;
        try {
          const tree = new FlatTree(r.nNodes, r.nOutputs, r.feature, r.threshold, r.left, r.right, r.value, r.cover);
          acc.add(r.t, tree, r.importances);
          done++;
          onTree(done, T);
        } catch (e) {
          return finish(e as Error);
        }
        if (settled) return; // onProgress may have aborted
        if (done === T) finish(null, acc.finish());
        else dispatch(w);
      });
      w.on('error', (e) => finish(new ForestWorkerError(`fit worker failed: ${e.message}`, { cause: e })));
      w.on('exit', (code) => {
        if (!settled) finish(new ForestWorkerError(`fit worker exited with code ${code} before the fit finished`));
      });
      dispatch(w);
    }
  });
}
