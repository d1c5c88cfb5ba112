import { Writable } from "node:stream";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { connectNats } from "@millrace/runtime";
import { testNatsUrl, waitFor } from "@millrace/testkit";
import type { NatsConnection } from "nats";

describe("NATS connection status logging", () => {
  let nc: NatsConnection | undefined;
  afterEach(async () => nc?.close());

  it("logs the client's ping ticks at debug, so an idle service's info log stays quiet", async () => {
    const lines: { level: number; msg: string; nats_status?: string }[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        for (const l of String(chunk).split("\n")) if (l) lines.push(JSON.parse(l));
        done();
      },
    });
    const logger = pino({ level: "debug" }, sink);
    nc = await connectNats({ url: testNatsUrl(), name: "statuslog-test", logger, pingIntervalMs: 50 });
    // Three ticks: each must be there at debug, none at info or above.
    await waitFor(() => lines.filter((l) => l.nats_status === "pingTimer").length >= 3, { timeoutMs: 5_000, what: "three ping ticks" });
    const ticks = lines.filter((l) => l.nats_status === "pingTimer");
    expect(ticks.every((l) => l.level === pino.levels.values.debug)).toBe(true);
    expect(lines.filter((l) => l.msg === "nats status" && l.level >= pino.levels.values.info)).toEqual([]);
  });
});
