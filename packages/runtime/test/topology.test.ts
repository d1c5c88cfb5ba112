import { afterEach, describe, expect, it } from "vitest";
import { JOB_KINDS, QUEUES, Topology, ensureTopology, migrate } from "@millrace/runtime";
import { dbFixture, natsFixture, type DbFixture, type NatsFixture } from "@millrace/testkit";

describe("topology", () => {
  let fx: NatsFixture | undefined;
  afterEach(async () => fx?.cleanup());

  it("uses production names for the empty namespace", () => {
    const t = new Topology("");
    expect(t.jobSubject("train", "default")).toBe("jobs.train.default");
    expect(t.jobsStream).toBe("MILLRACE_JOBS");
    expect(t.eventSubject("abc")).toBe("events.abc");
    expect(new Topology("t1").jobSubject("predict", "high")).toBe("t1.jobs.predict.high");
  });

  it("creates streams and consumers once; a second start changes nothing", async () => {
    fx = await natsFixture();
    const jsm = await fx.nc.jetstreamManager();
    const jobs = await jsm.streams.info(fx.topo.jobsStream);
    expect(jobs.config.retention).toBe("workqueue");
    expect(jobs.config.subjects).toEqual([fx.topo.jobsWildcard]);
    const consumers = [];
    for await (const c of jsm.consumers.list(fx.topo.jobsStream)) consumers.push(c.name);
    expect(consumers.length).toBe(JOB_KINDS.length * QUEUES.length);
    const before = await jsm.consumers.info(fx.topo.jobsStream, "train_default");
    const again = await ensureTopology(fx.nc, fx.topo);
    expect(again.created).toEqual([]);
    const after = await jsm.consumers.info(fx.topo.jobsStream, "train_default");
    expect(after.created).toBe(before.created);
    expect(after.config.ack_policy).toBe("explicit");
  });

  it("projector consumer: one replica's ack never covers an event another replica holds", async () => {
    fx = await natsFixture();
    const js = fx.nc.jetstream();
    await js.publish(fx.topo.eventSubject("task-a"), new Uint8Array([1]));
    await js.publish(fx.topo.eventSubject("task-b"), new Uint8Array([2]));
    // Two status replicas pulling from the same durable: A takes event 1 and
    // has not committed it; B takes event 2, commits and acks.
    const consumer = await js.consumers.get(fx.topo.eventsStream, fx.topo.projectorConsumer);
    const heldByA = [];
    for await (const m of await consumer.fetch({ max_messages: 1, expires: 2_000 })) heldByA.push(m);
    expect(heldByA.map((m) => m.seq)).toEqual([1]);
    const ackedByB = [];
    for await (const m of await consumer.fetch({ max_messages: 1, expires: 2_000 })) {
      ackedByB.push(m.seq);
      expect(await m.ackAck()).toBe(true);
    }
    expect(ackedByB).toEqual([2]);
    const info = await consumer.info();
    // Under ack-all, B's ack would have acked event 1 too (pending 0, floor 2).
    expect({ pending: info.num_ack_pending, floor: info.ack_floor.stream_seq }).toEqual({ pending: 1, floor: 0 });
    expect(info.config.ack_policy).toBe("explicit");
  });

  it("dedupes a republished job by Nats-Msg-Id", async () => {
    fx = await natsFixture();
    const js = fx.nc.jetstream();
    const a = await js.publish(fx.topo.jobSubject("train", "default"), new Uint8Array([1]), { msgID: "task-1" });
    const b = await js.publish(fx.topo.jobSubject("train", "default"), new Uint8Array([1]), { msgID: "task-1" });
    expect(a.duplicate).toBe(false);
    expect(b.duplicate).toBe(true);
    const jsm = await fx.nc.jetstreamManager();
    expect((await jsm.streams.info(fx.topo.jobsStream)).state.messages).toBe(1);
  });
});

describe("migrations", () => {
  let db: DbFixture | undefined;
  afterEach(async () => db?.cleanup());

  it("apply once and are idempotent", async () => {
    db = await dbFixture();
    expect(await migrate(db.pool)).toEqual([]);
    const r = await db.pool.query("select count(*)::int as n from information_schema.tables where table_name = 'tasks'");
    expect(r.rows[0].n).toBe(1);
  });
});
