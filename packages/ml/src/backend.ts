// TensorFlow.js backend selection: native tfjs-node when its binding loads,
// else the WASM backend (binaries ship inside the npm package, so no network),
// else the pure-JS cpu backend. Safe to call from worker threads: each thread
// has its own tfjs engine and initialises it once.

import { existsSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs-core";

export type BackendName = "tensorflow" | "wasm" | "cpu";

export interface BackendInfo {
  backend: string;
  fallbacks: { name: string; error: string }[];
}

export interface InitBackendOptions {
  /** Where to report the chosen backend; default console.info. Pass `() => {}` to silence. */
  log?: (message: string, fields: Record<string, unknown>) => void;
}

const DEFAULT_ORDER: BackendName[] = ["tensorflow", "wasm", "cpu"];
let active: Promise<BackendInfo> | null = null;
let activeInfo: BackendInfo | null = null;

// Throws unless tfjs-node's native binding (lib/napi-v<N>/tfjs_binding.node) was built.
function checkNativeBinding(spec: string): void {
  const main = createRequire(import.meta.url).resolve(spec);
  const lib = path.join(path.dirname(main), "..", "lib");
  const built = existsSync(lib) && readdirSync(lib).some((d) => d.startsWith("napi-v") && existsSync(path.join(lib, d, "tfjs_binding.node")));
  if (!built) throw new Error(`native binding not built (${lib}/napi-v*/tfjs_binding.node is missing)`);
}

async function tryTensorflow(): Promise<void> {
  // The specifier is built at runtime so bundlers and tsc do not require the optional package.
  const spec = ["@tensorflow", "tfjs-node"].join("/");
  // Checking for the binding first avoids loading the whole tfjs umbrella (~1 s) just to fail.
  checkNativeBinding(spec);
  // Registers the 'tensorflow' backend on import.
  await import(spec);
  if (!(await tf.setBackend("tensorflow"))) throw new Error("tf.setBackend('tensorflow') returned false");
}

async function tryWasm(): Promise<void> {
  const wasm = await import("@tensorflow/tfjs-backend-wasm");
  const require = createRequire(import.meta.url);
  const main = require.resolve("@tensorflow/tfjs-backend-wasm");
  wasm.setWasmPaths(path.dirname(main) + path.sep);
  if (!(await tf.setBackend("wasm"))) throw new Error("tf.setBackend('wasm') returned false");
}

async function tryCpu(): Promise<void> {
  await import("@tensorflow/tfjs-backend-cpu");
  if (!(await tf.setBackend("cpu"))) throw new Error("tf.setBackend('cpu') returned false");
}

const LOADERS: Record<BackendName, () => Promise<void>> = { tensorflow: tryTensorflow, wasm: tryWasm, cpu: tryCpu };

/**
 * Picks the first backend from `prefer` that initialises. Idempotent per thread:
 * later calls return the first result (the tfjs engine is process-global).
 */
export function initBackend(prefer: BackendName[] = DEFAULT_ORDER, opts: InitBackendOptions = {}): Promise<BackendInfo> {
  active ??= select(prefer, opts).catch((err) => {
    active = null;
    throw err;
  });
  return active;
}

async function select(prefer: BackendName[], opts: InitBackendOptions): Promise<BackendInfo> {
  const order = prefer.length ? prefer : DEFAULT_ORDER;
  const fallbacks: { name: string; error: string }[] = [];
  tf.enableProdMode();
  for (const name of order) {
    const load = LOADERS[name];
    if (!load) { fallbacks.push({ name, error: "unknown backend" }); continue; }
    try {
      await load();
      await tf.ready();
      const info = { backend: tf.getBackend(), fallbacks };
      activeInfo = info;
      const log = opts.log ?? ((m: string, f: Record<string, unknown>) => console.info(m, JSON.stringify(f)));
      log(`tfjs backend: ${info.backend}`, { backend: info.backend, fallbacks });
      return info;
    } catch (err) {
      fallbacks.push({ name, error: err instanceof Error ? err.message.split("\n")[0] : String(err) });
    }
  }
  throw new Error(`no TensorFlow.js backend could be initialised: ${fallbacks.map((f) => `${f.name}: ${f.error}`).join("; ")}`);
}

/** The active backend name, or null before initBackend() resolved. */
export function currentBackend(): string | null {
  return activeInfo?.backend ?? null;
}

/** Ensures a backend is ready (default order) and returns its name. */
export async function ensureBackend(): Promise<string> {
  return (await initBackend(DEFAULT_ORDER, { log: () => {} })).backend;
}
