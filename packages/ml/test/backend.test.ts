import { execFile } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import * as tf from "@tensorflow/tfjs-core";
import { describe, expect, it } from "vitest";
import { currentBackend, initBackend } from "../src/index";

describe("initBackend", () => {
  it("falls back from tfjs-node (no native binding here) to wasm, and reports it", async () => {
    const logs: string[] = [];
    const info = await initBackend(undefined, { log: (m) => logs.push(m) });
    expect(info.backend).toBe("wasm");
    expect(info.fallbacks[0]).toMatchObject({ name: "tensorflow" });
    expect(info.fallbacks[0].error).toMatch(/binding/);
    expect(currentBackend()).toBe("wasm");
    expect(tf.getBackend()).toBe("wasm");
    expect(logs).toEqual(["tfjs backend: wasm"]);
    // Idempotent per thread.
    expect(await initBackend(["cpu"])).toBe(info);
    // The wasm kernels work.
    const y = tf.tidy(() => tf.matMul(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[1], [1]])).dataSync());
    expect(Array.from(y)).toEqual([3, 7]);
  });

  it("honours a preference list (cpu) in a fresh process", async () => {
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
    const entry = fileURLToPath(new URL("../src/backend.ts", import.meta.url));
    const code = `const b = await import(${JSON.stringify(pathToFileURL(entry).href)}); const i = await b.initBackend(["cpu"], { log: () => {} }); console.log(JSON.stringify(i));`;
    const { stdout } = await promisify(execFile)(process.execPath, ["--import", tsx, "--input-type=module", "-e", code], { cwd: "/" });
    expect(JSON.parse(stdout.trim().split("\n").at(-1)!)).toEqual({ backend: "cpu", fallbacks: [] });
  });
});
