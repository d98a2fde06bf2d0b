import assert from "node:assert/strict";
import { LocalTransport } from "../../../src/transport/local.ts";
import type { ProduceRecord } from "../../../src/transport/transport.ts";
import { pollN, recordingListener } from "../conformance.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const HOUR = 3_600_000;

async function withTransport(
  query: string,
  fn: (t: LocalTransport) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "faust-local-ret-" });
  const t = new LocalTransport(`local://${dir}${query}`, {
    defaultPartitions: 1,
    datadir: dir,
    clientId: "t",
  });
  await t.start();
  try {
    await fn(t);
  } finally {
    await t.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

function rec(
  topic: string,
  key: string | null,
  value: string | null,
  timestamp?: number,
): ProduceRecord {
  return {
    topic,
    partition: 0,
    key: key === null ? null : enc.encode(key),
    value: value === null ? null : enc.encode(value),
    ...(timestamp === undefined ? {} : { timestamp }),
  };
}

Deno.test("LocalTransport.maintain() removes records older than retention from the start only", async () => {
  await withTransport("", async (t) => {
    const now = Date.now();
    await t.createTopic({ name: "r", partitions: 1, retentionMs: HOUR });
    await t.createTopic({ name: "keep", partitions: 1 });
    await t.send(
      [0, 1, 2, 3, 4].map((i) => rec("r", `k${i}`, "old", now - 2 * HOUR)),
    );
    await t.send([
      rec("r", "n0", "new"),
      rec("r", "n1", "new"),
      rec("r", "o", "old-again", now - 2 * HOUR),
    ]);
    await t.send([rec("keep", "a", "x", now - 100 * HOUR)]);
    const report = await t.maintain();
    assert.deepEqual(report, { retained: 5, compacted: 0, tombstones: 0 });
    const tp = { topic: "r", partition: 0 };
    assert.equal(await t.lowWatermark(tp), 5);
    assert.equal(await t.highWatermark(tp), 8);
    assert.deepEqual((await t.read(tp, 0, 10)).map((r) => r.offset), [5, 6, 7]);
    assert.equal(
      (await t.read({ topic: "keep", partition: 0 }, 0, 10)).length,
      1,
    );
    assert.deepEqual(await t.maintain(), {
      retained: 0,
      compacted: 0,
      tombstones: 0,
    });
    const [next] = await t.send([rec("r", "z", "z")]);
    assert.equal(next!.offset, 8);
  });
});

Deno.test("LocalTransport.maintain() compacts to the latest value per key and drops old tombstones", async () => {
  await withTransport("?tombstoneDelay=1h", async (t) => {
    const now = Date.now();
    await t.createTopic({
      name: "c",
      partitions: 1,
      compacting: true,
      retentionMs: 1,
    });
    await t.send([
      rec("c", "k1", "a"), // 0: superseded by 2
      rec("c", "k2", "b"), // 1: superseded by tombstone 4
      rec("c", "k1", "c"), // 2: latest k1
      rec("c", "k3", null, now - 2 * HOUR), // 3: old tombstone, goes
      rec("c", "k2", null), // 4: fresh tombstone, stays
      rec("c", null, "no-key"), // 5: null key, kept
    ]);
    const report = await t.maintain();
    assert.deepEqual(report, { retained: 0, compacted: 2, tombstones: 1 });
    const tp = { topic: "c", partition: 0 };
    const recs = await t.read(tp, 0, 10);
    assert.deepEqual(
      recs.map((
        r,
      ) => [r.offset, r.value === null ? null : dec.decode(r.value)]),
      [
        [2, "c"],
        [4, null],
        [5, "no-key"],
      ],
    );
    assert.equal(await t.lowWatermark(tp), 2);
    assert.equal(await t.highWatermark(tp), 6);
    assert.equal((await t.send([rec("c", "k1", "d")]))[0]!.offset, 6);
    const c = t.createConsumer({ groupId: "g", listener: recordingListener() });
    try {
      await c.subscribe(["c"]);
      assert.deepEqual((await pollN(c, 4)).map((r) => r.offset), [2, 4, 5, 6]);
    } finally {
      await c.close();
    }
    await t.maintain();
    assert.deepEqual((await t.read(tp, 0, 10)).map((r) => r.offset), [4, 5, 6]);
  });
});

Deno.test("LocalTransport.maintain() compacts across many chunks and reads skip the gaps", async () => {
  await withTransport("", async (t) => {
    await t.createTopic({ name: "big", partitions: 1, compacting: true });
    for (let b = 0; b < 6; b++) {
      await t.send(
        Array.from(
          { length: 500 },
          (_, i) => rec("big", `k${(b * 500 + i) % 100}`, String(b * 500 + i)),
        ),
      );
    }
    const report = await t.maintain();
    assert.equal(report?.compacted, 2900);
    const tp = { topic: "big", partition: 0 };
    const seen: number[] = [];
    for (let offset = 0, i = 0; i < 100; i++) {
      const recs = await t.read(tp, offset, 7);
      if (recs.length === 0) break;
      seen.push(...recs.map((r) => r.offset));
      offset = recs.at(-1)!.offset + 1;
    }
    assert.deepEqual(seen, Array.from({ length: 100 }, (_, i) => 2900 + i));
    assert.equal(await t.lowWatermark(tp), 2900);
  });
});

Deno.test("LocalTransport runs maintenance in the background of the consumer process", async () => {
  await withTransport("?maintenanceInterval=50ms", async (t) => {
    await t.createTopic({ name: "bg", partitions: 1, retentionMs: 1000 });
    await t.send([
      rec("bg", "a", "old", Date.now() - 5000),
      rec("bg", "b", "new"),
    ]);
    const tp = { topic: "bg", partition: 0 };
    assert.equal(await t.lowWatermark(tp), 0);
    const c = t.createConsumer({ groupId: "g", listener: recordingListener() });
    try {
      for (let i = 0; i < 100 && await t.lowWatermark(tp) === 0; i++) {
        await new Promise((r) => setTimeout(r, 30));
      }
      assert.equal(await t.lowWatermark(tp), 1);
    } finally {
      await c.close();
    }
  });
});
