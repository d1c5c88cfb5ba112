import { afterEach, describe, expect, it } from "vitest";
import { ManualClock, createLogger } from "@millrace/runtime";
import { natsFixture, type NatsFixture } from "@millrace/testkit";
import { LeaderLease } from "../src/lease";

const logger = createLogger("scheduler-test", "silent");
const TTL = 10_000;

describe("leader lease in JetStream KV", () => {
  let fx: NatsFixture | undefined;
  afterEach(async () => fx?.cleanup());

  async function leases(clock: ManualClock, ...holders: string[]): Promise<LeaderLease[]> {
    fx = await natsFixture();
    const kv = await fx.nc.jetstream().views.kv(fx.topo.bucket("leases"));
    return holders.map((h) => new LeaderLease(kv, "scheduler", h, TTL, clock, logger));
  }

  it("one holder at a time; the other takes over only once the lease has expired", async () => {
    const clock = new ManualClock(1_000_000);
    const [a, b] = await leases(clock, "a", "b");
    expect(await a.acquire()).toBe(true);
    expect(await b.acquire()).toBe(false);
    expect(await a.verify()).toBe(true);

    clock.advance(TTL - 1);
    expect(await b.acquire()).toBe(false);

    // a stopped renewing (paused, partitioned): its lease runs out.
    clock.advance(2);
    expect(a.held).toBe(false);
    expect(await b.acquire()).toBe(true);
    expect(b.fencingToken).toBeGreaterThan(a.fencingToken);

    // The stale leader finds out at its next check and stops.
    expect(await a.renew()).toBe(false);
    expect(await a.verify()).toBe(false);
    expect(await a.confirm()).toBe(false);
    expect(await b.verify()).toBe(true);
  });

  it("renewal keeps the lease and moves the fencing revision", async () => {
    const clock = new ManualClock(1_000_000);
    const [a, b] = await leases(clock, "a", "b");
    await a.acquire();
    const first = a.fencingToken;
    for (let i = 0; i < 5; i++) {
      clock.advance(TTL / 2);
      expect(await a.keep()).toBe(true);
      expect(await b.acquire()).toBe(false);
    }
    expect(a.fencingToken).toBeGreaterThan(first);
  });

  it("a stale leader whose lease someone else renewed cannot write back (compare-and-set)", async () => {
    const clock = new ManualClock(1_000_000);
    const [a, b] = await leases(clock, "a", "b");
    await a.acquire();
    clock.advance(TTL + 1);
    await b.acquire();
    // Even with a clock that says its lease is still valid, the check before
    // a fire sees that its revision is gone, and so does a forced renewal.
    clock.set(1_000_000 + 1);
    expect(await a.confirm()).toBe(false);
    expect(a.held).toBe(false);
    expect(await a.renew()).toBe(false);
  });

  it("release hands over at once, without waiting for the TTL", async () => {
    const clock = new ManualClock(1_000_000);
    const [a, b] = await leases(clock, "a", "b");
    await a.acquire();
    await a.release();
    expect(a.held).toBe(false);
    expect(await b.acquire()).toBe(true);
  });

  it("of replicas racing for a free lease, exactly one wins", async () => {
    const clock = new ManualClock(1_000_000);
    const all = await leases(clock, "a", "b", "c", "d", "e");
    const won = await Promise.all(all.map((l) => l.acquire()));
    expect(won.filter(Boolean)).toHaveLength(1);
  });
});
