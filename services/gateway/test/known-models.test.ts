// The registry check before an async predict/explain job is queued: what is
// remembered, for how long, and what happens when the registry cannot answer.
import { describe, expect, it } from "vitest";
import type { RegistryServiceClient } from "@millrace/contracts";
import { ManualClock, NotFoundError, createLogger, grpc } from "@millrace/runtime";
import { KnownModels } from "../src/known-models";

type Answer = "found" | "missing" | "down";

/** A stand-in for our own registry client: answers resolveModel by `answers[ref]`, counting calls. */
function fakeRegistry(answers: Record<string, Answer>) {
  const calls: string[] = [];
  const client = {
    resolveModel(req: { tenant: string; model: string }, _md: grpc.Metadata, _opts: unknown, cb: (err: grpc.ServiceError | null, res?: unknown) => void) {
      calls.push(`${req.tenant}/${req.model}`);
      const a = answers[req.model] ?? "missing";
      if (a === "found") return cb(null, { name: req.model, version: 1 });
      const md = new grpc.Metadata();
      if (a === "missing") md.set("millrace-code", "NOT_FOUND");
      const err = Object.assign(new Error(a), { code: a === "missing" ? grpc.status.NOT_FOUND : grpc.status.UNAVAILABLE, details: `model ${req.model} ${a}`, metadata: md });
      cb(err as grpc.ServiceError);
    },
  };
  return { client: client as unknown as RegistryServiceClient, calls };
}

const logger = createLogger("test", "silent");

describe("KnownModels", () => {
  it("remembers a found model per tenant for the ttl, then asks again", async () => {
    const clock = new ManualClock(1_000);
    const { client, calls } = fakeRegistry({ house: "found" });
    const k = new KnownModels(client, clock, logger, { ttlMs: 30_000 });
    await k.check("a", "house");
    await k.check("a", "house");
    clock.advance(29_999);
    await k.check("a", "house");
    expect(calls).toEqual(["a/house"]);
    await k.check("b", "house"); // another tenant is its own entry
    clock.advance(1);
    await k.check("a", "house");
    expect(calls).toEqual(["a/house", "b/house", "a/house"]);
  });

  it("a model not found is a NotFoundError naming model, and is asked about again next time", async () => {
    const answers: Record<string, Answer> = { house: "missing" };
    const { client, calls } = fakeRegistry(answers);
    const k = new KnownModels(client, new ManualClock(0), logger);
    const err = await k.check("a", "house").catch((e) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err).toMatchObject({ code: "NOT_FOUND", field: "model" });
    answers.house = "found"; // trained a moment later
    await expect(k.check("a", "house")).resolves.toBeUndefined();
    expect(calls).toHaveLength(2);
  });

  it("a registry that cannot answer lets the job through unchecked, and is asked again next time", async () => {
    const { client, calls } = fakeRegistry({ house: "down" });
    const k = new KnownModels(client, new ManualClock(0), logger);
    await expect(k.check("a", "house")).resolves.toBeUndefined();
    await expect(k.check("a", "house")).resolves.toBeUndefined();
    expect(calls).toHaveLength(2);
  });

  it("keeps at most maxEntries, dropping the oldest", async () => {
    const { client, calls } = fakeRegistry({ m1: "found", m2: "found", m3: "found" });
    const k = new KnownModels(client, new ManualClock(0), logger, { maxEntries: 2 });
    for (const m of ["m1", "m2", "m3", "m2", "m1"]) await k.check("a", m);
    expect(calls).toEqual(["a/m1", "a/m2", "a/m3", "a/m1"]);
  });
});
