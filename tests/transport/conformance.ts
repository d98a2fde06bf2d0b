/**
 * The Transport contract as a reusable test suite. Every driver runs it:
 *
 * ```ts
 * transportConformance("local://", async () => ({ transport, cleanup }));
 * ```
 *
 * `make` returns a started transport (fresh and empty is best; every test
 * uses its own topic and group names) and a `cleanup` that stops it and
 * removes its files. When `defaultPartitions` is returned too, auto-created
 * topics are checked to have that many partitions.
 *
 * @module
 */
import assert from "node:assert/strict";
import type {
  Consumer,
  RebalanceListener,
  Transport,
  TransportRecord,
} from "../../src/transport/transport.ts";
import { type TP, tpKey } from "../../src/util/types.ts";

/** What `make` returns. */
export interface ConformanceSubject {
  /** A started transport. */
  transport: Transport;
  /** Stop the transport and remove what it left. */
  cleanup(): Promise<void>;
  /** The transport's `defaultPartitions`, when known. */
  defaultPartitions?: number;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const bytes = (s: string): Uint8Array => enc.encode(s);
const text = (
  b: Uint8Array | null,
): string | null => (b === null ? null : dec.decode(b));

/** A listener that records what it was given. */
export function recordingListener(): RebalanceListener & {
  assigned: TP[][];
  revoked: TP[][];
} {
  const assigned: TP[][] = [];
  const revoked: TP[][] = [];
  return {
    assigned,
    revoked,
    onPartitionsAssigned(tps: readonly TP[]): Promise<void> {
      assigned.push([...tps]);
      return Promise.resolve();
    },
    onPartitionsRevoked(tps: readonly TP[]): Promise<void> {
      revoked.push([...tps]);
      return Promise.resolve();
    },
  };
}

function sortTps(tps: readonly TP[]): string[] {
  return tps.map((tp) => `${tp.topic}/${tp.partition}`).sort();
}

/** Poll until `count` records arrived (bounded by `rounds` polls of `timeoutMs`). */
export async function pollN(
  consumer: Consumer,
  count: number,
  rounds = 50,
  timeoutMs = 200,
): Promise<TransportRecord[]> {
  const out: TransportRecord[] = [];
  for (let i = 0; i < rounds && out.length < count; i++) {
    out.push(...await consumer.poll(count - out.length, timeoutMs));
  }
  return out;
}

async function values(
  t: Transport,
  topic: string,
  partition: number,
  n: number,
  prefix = "v",
): Promise<void> {
  await t.send(
    Array.from({ length: n }, (_, i) => ({
      topic,
      partition,
      key: bytes(`k${i}`),
      value: bytes(`${prefix}${i}`),
    })),
  );
}

/**
 * Register `Deno.test` cases checking a driver against the Transport contract.
 *
 * @param name Driver label used in the test names, e.g. `"local://"`.
 * @param make Makes a started transport and its cleanup.
 */
export function transportConformance(
  name: string,
  make: () => Promise<ConformanceSubject>,
): void {
  function test(
    title: string,
    fn: (t: Transport, s: ConformanceSubject) => Promise<void>,
  ): void {
    Deno.test(`${name} Transport ${title}`, async () => {
      const subject = await make();
      try {
        await fn(subject.transport, subject);
      } finally {
        await subject.cleanup();
      }
    });
  }

  test("send() and read() round-trip key, value, headers, timestamp and offsets", async (t) => {
    await t.createTopic({ name: "rt", partitions: 2 });
    const meta = await t.send([
      {
        topic: "rt",
        partition: 1,
        key: bytes("a"),
        value: bytes("1"),
        headers: { h: bytes("x") },
        timestamp: 1000,
      },
      { topic: "rt", partition: 1, key: null, value: null, timestamp: 2000 },
      { topic: "rt", partition: 0, key: bytes("b"), value: bytes("2") },
      {
        topic: "rt",
        partition: 1,
        key: bytes("c"),
        value: new Uint8Array(0),
        headers: { e: new Uint8Array(0) },
      },
    ]);
    assert.deepEqual(meta.map((m) => [m.topic, m.partition, m.offset]), [
      ["rt", 1, 0],
      ["rt", 1, 1],
      ["rt", 0, 0],
      ["rt", 1, 2],
    ]);
    assert.equal(meta[0]!.timestamp, 1000);
    assert.ok(Math.abs(meta[2]!.timestamp - Date.now()) < 60_000);
    const recs = await t.read({ topic: "rt", partition: 1 }, 0, 10);
    assert.deepEqual(
      recs.map((
        r,
      ) => [r.topic, r.partition, r.offset, text(r.key), text(r.value)]),
      [
        ["rt", 1, 0, "a", "1"],
        ["rt", 1, 1, null, null],
        ["rt", 1, 2, "c", ""],
      ],
    );
    assert.equal(text(recs[0]!.headers["h"] ?? null), "x");
    assert.deepEqual(Object.keys(recs[1]!.headers), []);
    assert.equal(recs[2]!.headers["e"]?.byteLength, 0);
    assert.deepEqual(recs.slice(0, 2).map((r) => r.timestamp), [1000, 2000]);
    assert.deepEqual(
      (await t.read({ topic: "rt", partition: 1 }, 1, 1)).map((r) => r.offset),
      [1],
    );
    assert.deepEqual(await t.read({ topic: "rt", partition: 1 }, 3, 10), []);
    const second = await t.send([{
      topic: "rt",
      partition: 1,
      key: null,
      value: bytes("n"),
    }]);
    assert.equal(second[0]!.offset, 3);
  });

  test("highWatermark() and lowWatermark() follow appends", async (t) => {
    await t.createTopic({ name: "wm", partitions: 1 });
    const tp = { topic: "wm", partition: 0 };
    assert.equal(await t.highWatermark(tp), 0);
    assert.equal(await t.lowWatermark(tp), 0);
    await values(t, "wm", 0, 5);
    assert.equal(await t.highWatermark(tp), 5);
    assert.equal(await t.lowWatermark(tp), 0);
  });

  test("createTopic() stores partitions and rejects a different count", async (t) => {
    await t.createTopic({ name: "ct", partitions: 4, compacting: true });
    await t.createTopic({ name: "ct", partitions: 4 });
    assert.equal(await t.partitionCount("ct"), 4);
    assert.equal(await t.partitionCount("nope"), undefined);
    await assert.rejects(
      t.createTopic({ name: "ct", partitions: 2 }),
      (e: Error) => {
        assert.equal(e.name, "ConfigError");
        assert.match(e.message, /"ct"/);
        assert.match(e.message, /4/);
        assert.match(e.message, /2/);
        return true;
      },
    );
  });

  test("send() auto-creates an unknown topic", async (t, s) => {
    await t.send([{
      topic: "auto",
      partition: 0,
      key: null,
      value: bytes("x"),
    }]);
    const n = await t.partitionCount("auto");
    assert.ok(n !== undefined && n >= 1);
    if (s.defaultPartitions !== undefined) assert.equal(n, s.defaultPartitions);
    assert.equal(
      (await t.read({ topic: "auto", partition: 0 }, 0, 5)).length,
      1,
    );
  });

  test("send() rejects a partition the topic does not have", async (t) => {
    await t.createTopic({ name: "few", partitions: 2 });
    await assert.rejects(
      t.send([{ topic: "few", partition: 2, key: null, value: bytes("x") }]),
    );
    assert.equal(await t.highWatermark({ topic: "few", partition: 0 }), 0);
  });

  test("deleteTopic() removes a topic and ignores a missing one", async (t) => {
    await t.createTopic({ name: "del", partitions: 1 });
    await values(t, "del", 0, 3);
    await t.deleteTopic("del");
    await t.deleteTopic("never-there");
    assert.equal(await t.partitionCount("del"), undefined);
  });

  test("Consumer gets every partition and polls them in offset order", async (t) => {
    await t.createTopic({ name: "ca", partitions: 3 });
    await t.createTopic({ name: "cb", partitions: 1 });
    for (let p = 0; p < 3; p++) await values(t, "ca", p, 20, `p${p}-`);
    await values(t, "cb", 0, 5);
    const listener = recordingListener();
    const c = t.createConsumer({ groupId: "g-all", listener });
    try {
      await c.subscribe(["ca", "cb"]);
      const expected = ["ca/0", "ca/1", "ca/2", "cb/0"];
      assert.deepEqual(sortTps(c.assignment()), expected);
      assert.deepEqual(sortTps(listener.assigned.flat()), expected);
      const recs = await pollN(c, 65);
      assert.equal(recs.length, 65);
      for (const key of expected) {
        const offsets = recs.filter((r) => `${r.topic}/${r.partition}` === key)
          .map((r) => r.offset);
        assert.deepEqual(
          offsets,
          Array.from({ length: key === "cb/0" ? 5 : 20 }, (_, i) => i),
        );
      }
      assert.equal(
        text(recs.find((r) => r.topic === "ca" && r.partition === 2)!.value),
        "p2-0",
      );
      assert.deepEqual(await c.poll(10, 50), []);
    } finally {
      await c.close();
    }
  });

  test("Consumer.commit() stores offsets that committed() and a new consumer resume from", async (t) => {
    await t.createTopic({ name: "cm", partitions: 2 });
    await values(t, "cm", 0, 10);
    const tp0 = { topic: "cm", partition: 0 };
    const tp1 = { topic: "cm", partition: 1 };
    const c1 = t.createConsumer({
      groupId: "g-commit",
      listener: recordingListener(),
    });
    await c1.subscribe(["cm"]);
    assert.equal((await pollN(c1, 10)).length, 10);
    await c1.commit([{ ...tp0, offset: 6 }]);
    const committed = await c1.committed([tp0, tp1]);
    assert.equal(committed.get(tpKey(tp0)), 6);
    assert.equal(committed.has(tpKey(tp1)), false);
    await c1.close();
    const c2 = t.createConsumer({
      groupId: "g-commit",
      listener: recordingListener(),
    });
    try {
      await c2.subscribe(["cm"]);
      const recs = await pollN(c2, 4);
      assert.deepEqual(recs.map((r) => r.offset), [6, 7, 8, 9]);
    } finally {
      await c2.close();
    }
  });

  test("Consumer.seek() moves the read position", async (t) => {
    await t.createTopic({ name: "sk", partitions: 1 });
    await values(t, "sk", 0, 5);
    const c = t.createConsumer({
      groupId: "g-seek",
      listener: recordingListener(),
    });
    try {
      await c.subscribe(["sk"]);
      assert.equal((await pollN(c, 5)).length, 5);
      c.seek({ topic: "sk", partition: 0 }, 3);
      assert.deepEqual((await pollN(c, 2)).map((r) => r.offset), [3, 4]);
      c.seek({ topic: "sk", partition: 0 }, 1);
      assert.deepEqual((await c.poll(1, 1000)).map((r) => r.offset), [1]);
    } finally {
      await c.close();
    }
  });

  test("Consumer.pause() and resume() stop and restart a partition", async (t) => {
    await t.createTopic({ name: "pr", partitions: 2 });
    await values(t, "pr", 0, 3);
    await values(t, "pr", 1, 3);
    const c = t.createConsumer({
      groupId: "g-pause",
      listener: recordingListener(),
    });
    try {
      await c.subscribe(["pr"]);
      c.pause([{ topic: "pr", partition: 0 }]);
      const first = await pollN(c, 3);
      assert.deepEqual(first.map((r) => r.partition), [1, 1, 1]);
      assert.deepEqual(await c.poll(10, 50), []);
      c.resume([{ topic: "pr", partition: 0 }]);
      const second = await pollN(c, 3);
      assert.deepEqual(second.map((r) => [r.partition, r.offset]), [[0, 0], [
        0,
        1,
      ], [0, 2]]);
    } finally {
      await c.close();
    }
  });

  test("Consumer.poll() wakes on a new send", async (t) => {
    await t.createTopic({ name: "wake", partitions: 1 });
    const c = t.createConsumer({
      groupId: "g-wake",
      listener: recordingListener(),
    });
    try {
      await c.subscribe(["wake"]);
      const started = performance.now();
      const pending = c.poll(10, 10_000);
      await new Promise((r) => setTimeout(r, 30));
      await values(t, "wake", 0, 1);
      const recs = await pending;
      assert.equal(recs.length, 1);
      assert.ok(
        performance.now() - started < 5000,
        "woken by the send, well before the 10 s poll ends",
      );
    } finally {
      await c.close();
    }
  });

  test("Consumer.poll() returns [] on timeout and on abort", async (t) => {
    await t.createTopic({ name: "idle", partitions: 1 });
    const c = t.createConsumer({
      groupId: "g-idle",
      listener: recordingListener(),
    });
    try {
      await c.subscribe(["idle"]);
      let started = performance.now();
      assert.deepEqual(await c.poll(10, 100), []);
      const took = performance.now() - started;
      assert.ok(took >= 90 && took < 2000, `timeout took ${took} ms`);
      const ac = new AbortController();
      started = performance.now();
      setTimeout(() => ac.abort(), 30);
      assert.deepEqual(await c.poll(10, 10_000, ac.signal), []);
      assert.ok(performance.now() - started < 2000, "the abort ended poll()");
      started = performance.now();
      assert.deepEqual(await c.poll(10, 10_000, ac.signal), []);
      assert.ok(
        performance.now() - started < 2000,
        "an aborted signal: poll() returns at once",
      );
    } finally {
      await c.close();
    }
  });

  test("Consumer with autoOffsetReset latest skips earlier records", async (t) => {
    await t.createTopic({ name: "late", partitions: 1 });
    await values(t, "late", 0, 3);
    const c = t.createConsumer({
      groupId: "g-late",
      listener: recordingListener(),
      autoOffsetReset: "latest",
    });
    try {
      await c.subscribe(["late"]);
      await values(t, "late", 0, 1, "new");
      const recs = await pollN(c, 1);
      assert.deepEqual(recs.map((r) => [r.offset, text(r.value)]), [[
        3,
        "new0",
      ]]);
    } finally {
      await c.close();
    }
  });

  test("Consumer.subscribe() again assigns added topics and revokes removed ones", async (t) => {
    await t.createTopic({ name: "s1", partitions: 1 });
    await t.createTopic({ name: "s2", partitions: 2 });
    const listener = recordingListener();
    const c = t.createConsumer({ groupId: "g-resub", listener });
    try {
      await c.subscribe(["s1"]);
      assert.deepEqual(sortTps(c.assignment()), ["s1/0"]);
      await c.subscribe(["s1", "s2"]);
      assert.deepEqual(sortTps(c.assignment()), ["s1/0", "s2/0", "s2/1"]);
      assert.ok(sortTps(listener.assigned.at(-1)!).includes("s2/1"));
      await c.subscribe(["s2"]);
      assert.deepEqual(sortTps(c.assignment()), ["s2/0", "s2/1"]);
      assert.ok(sortTps(listener.revoked.flat()).includes("s1/0"));
    } finally {
      await c.close();
    }
  });

  test("Consumer picks up a subscribed topic created later", async (t) => {
    const listener = recordingListener();
    const c = t.createConsumer({ groupId: "g-later", listener });
    try {
      await c.subscribe(["later"]);
      const pending = pollN(c, 1, 20, 250);
      await new Promise((r) => setTimeout(r, 30));
      await t.send([{
        topic: "later",
        partition: 0,
        key: null,
        value: bytes("hi"),
      }]);
      const recs = await pending;
      assert.deepEqual(recs.map((r) => text(r.value)), ["hi"]);
      assert.ok(sortTps(c.assignment()).includes("later/0"));
      assert.ok(sortTps(listener.assigned.flat()).includes("later/0"));
    } finally {
      await c.close();
    }
  });
}
