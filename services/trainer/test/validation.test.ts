// validate-models' scoring: every row with a known target scored once, a slice at a time.
import { describe, expect, it } from "vitest";
import { loadModel, parseCsvToFrame, runPipeline, trainSpec } from "@millrace/ml";
import { scoreInSlices, score } from "../src/validation";
import { turnCounter } from "@millrace/testkit";

function csv(rows: number): string {
  const lines = ["x1,x2,y"];
  for (let i = 0; i < rows; i++) {
    const x1 = (i * 7) % 13;
    const x2 = (i * 3) % 11;
    // Every tenth target is missing: those rows are not scored.
    lines.push(`${x1},${x2},${i % 10 === 9 ? "" : 2 * x1 - x2 + (i % 3)}`);
  }
  return lines.join("\n") + "\n";
}

describe("scoreInSlices", () => {
  it("scores every row with a target exactly once, in many slices, with the event loop free between them", async () => {
    const data = csv(400);
    const model = loadModel((await runPipeline(trainSpec("y", { type: "linear_regression" }), data)).artifact);
    const frame = parseCsvToFrame(data);
    const turns = turnCounter();
    // sliceMs 0: after the first slice of 100 rows, one row per slice.
    const { actual, predicted } = await scoreInSlices(model, frame, "y", new AbortController().signal, 0);
    const turned = turns.stop();
    const y = frame.columns.find((c) => c.name === "y")!;
    const known = [...Array(400).keys()].filter((i) => y.values[i] !== null);
    expect(actual).toEqual(known.map((i) => y.values[i]));
    const all = model.predict(known.map((i) => ({ x1: frame.columns[0].values[i], x2: frame.columns[1].values[i] }))).predictions;
    expect(predicted).toEqual(all);
    expect(turned).toBeGreaterThanOrEqual(250);
    expect(score("regression", actual, predicted).r2).toBeGreaterThan(0.9);
  });

  it("stops between slices once aborted", async () => {
    const data = csv(50);
    const model = loadModel((await runPipeline(trainSpec("y", { type: "linear_regression" }), data)).artifact);
    const ac = new AbortController();
    ac.abort(new Error("cancelled"));
    await expect(scoreInSlices(model, parseCsvToFrame(data), "y", ac.signal)).rejects.toThrow("cancelled");
  });
});
