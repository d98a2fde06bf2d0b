import assert from "node:assert/strict";
import { tpKey } from "../../src/util/types.ts";
import type { KafkaTransport } from "../../src/transport/kafka.ts";
import {
  bytes,
  pollN,
  RecordingListener,
  sortTps,
  startTransport,
  text,
  unique,
  waitFor,
} from "./_helpers.ts";

async function fill(
  t: KafkaTransport,
  topic: string,
  partitions: number,
  perPartition: number,
): Promise<void> {
  const records = [];
  for (let i = 0; i < perPartition; i++) {
    for (let p = 0; p < partitions; p++) {
      records.push({
        topic,
        partition: p,
        key: bytes(`k${p}`),
        value: bytes(`${p}:${i}`),
      });
    }
  }
  await t.send(records);
}

Deno.test("KafkaConsumer gets all partitions, polls in order, commits and resumes from the commit", async () => {
  const t = await startTransport();
  const topic = unique("group");
  const groupId = unique("g");
  try {
    await t.createTopic({ name: topic, partitions: 3 });
    await fill(t, topic, 3, 10);
    const listener = new RecordingListener();
    const c1 = t.createConsumer({ groupId, listener });
    await c1.subscribe([topic]);
    assert.deepEqual(
      sortTps(c1.assignment()),
      [0, 1, 2].map((partition) => ({ topic, partition })),
    );
    assert.deepEqual(listener.calls.map((c) => c[0]), ["assigned"]);
    const got = await pollN(c1, 30);
    assert.equal(got.length, 30);
    for (let p = 0; p < 3; p++) {
      const offsets = got.filter((r) => r.partition === p).map((r) => r.offset);
      assert.deepEqual(offsets, [...Array(10).keys()]);
      assert.equal(
        text(got.find((r) => r.partition === p && r.offset === 4)!.value),
        `${p}:4`,
      );
    }
    // Commit the first 5 of each partition; nothing else arrives.
    await c1.commit(
      [0, 1, 2].map((partition) => ({ topic, partition, offset: 5 })),
    );
    assert.deepEqual(await c1.poll(10, 300), []);
    const committed = await c1.committed(
      [0, 1, 2, 3].map((partition) => ({ topic, partition })),
    );
    assert.deepEqual([...committed.values()], [5, 5, 5]);
    assert.equal(committed.has(tpKey({ topic, partition: 3 })), false);
    await assert.rejects(
      c1.commit([{ topic: "other", partition: 0, offset: 1 }]),
      /not assigned/,
    );
    await c1.close();

    const c2 = t.createConsumer({ groupId, listener: new RecordingListener() });
    await c2.subscribe([topic]);
    const again = await pollN(c2, 15);
    assert.equal(again.length, 15);
    assert.ok(again.every((r) => r.offset >= 5));
    await c2.close();
  } finally {
    await t.deleteTopic(topic);
    await t.stop();
  }
});

Deno.test("KafkaConsumer.pause() hides partitions until resume()", async () => {
  const t = await startTransport();
  const topic = unique("pause");
  try {
    await t.createTopic({ name: topic, partitions: 2 });
    const c = t.createConsumer({
      groupId: unique("g"),
      listener: new RecordingListener(),
    });
    await c.subscribe([topic]);
    c.pause([{ topic, partition: 0 }]);
    await fill(t, topic, 2, 5);
    const first = await pollN(c, 5, 10_000);
    assert.equal(first.length, 5);
    assert.ok(first.every((r) => r.partition === 1));
    assert.deepEqual(await c.poll(10, 1_000), []);
    c.resume([{ topic, partition: 0 }]);
    const rest = await pollN(c, 5, 10_000);
    assert.deepEqual(
      rest.map((r) => [r.partition, r.offset]),
      [0, 1, 2, 3, 4].map((o) => [0, o]),
    );
    await c.close();
  } finally {
    await t.deleteTopic(topic);
    await t.stop();
  }
});

Deno.test("KafkaConsumer.seek() moves the read position", async () => {
  const t = await startTransport();
  const topic = unique("seek");
  try {
    await t.createTopic({ name: topic, partitions: 1 });
    await fill(t, topic, 1, 10);
    const c = t.createConsumer({
      groupId: unique("g"),
      listener: new RecordingListener(),
    });
    await c.subscribe([topic]);
    assert.equal((await pollN(c, 10)).length, 10);
    c.seek({ topic, partition: 0 }, 7);
    const again = await pollN(c, 3);
    assert.deepEqual(again.map((r) => r.offset), [7, 8, 9]);
    assert.throws(() => c.seek({ topic, partition: 5 }, 0), /not assigned/);
    await c.close();
  } finally {
    await t.deleteTopic(topic);
    await t.stop();
  }
});

Deno.test("KafkaConsumer back-pressure: a small buffer still delivers every record", async () => {
  const t = await startTransport({ consumerMaxBufferedRecords: 5 });
  const topic = unique("backpressure");
  try {
    await t.createTopic({ name: topic, partitions: 2 });
    await fill(t, topic, 2, 200);
    const c = t.createConsumer({
      groupId: unique("g"),
      listener: new RecordingListener(),
    });
    await c.subscribe([topic]);
    await new Promise((r) => setTimeout(r, 1_500)); // let the fetcher fill the buffer and wait
    const got = [];
    const deadline = Date.now() + 30_000;
    while (got.length < 400 && Date.now() < deadline) {
      got.push(...await c.poll(7, 500));
    }
    assert.equal(got.length, 400);
    for (const p of [0, 1]) {
      assert.deepEqual(
        got.filter((r) => r.partition === p).map((r) => r.offset),
        [...Array(200).keys()],
      );
    }
    await c.close();
  } finally {
    await t.deleteTopic(topic);
    await t.stop();
  }
});

Deno.test("KafkaConsumer: two members split the partitions and the listener sees revocations", async () => {
  const t = await startTransport();
  const topic = unique("split");
  const groupId = unique("g");
  try {
    await t.createTopic({ name: topic, partitions: 4 });
    const l1 = new RecordingListener();
    const l2 = new RecordingListener();
    const c1 = t.createConsumer({ groupId, listener: l1 });
    await c1.subscribe([topic]);
    assert.equal(c1.assignment().length, 4);
    // c1 must keep polling (its fetch loop sees the rebalance) while c2 joins.
    let stop = false;
    const c1Records: number[] = [];
    const loop = (async () => {
      while (!stop) {
        c1Records.push(...(await c1.poll(100, 200)).map((r) => r.partition));
      }
    })();
    const c2 = t.createConsumer({ groupId, listener: l2 });
    await c2.subscribe([topic]);
    await waitFor(
      () => c1.assignment().length === 2 && c2.assignment().length === 2,
      "2 + 2 partitions",
    );
    stop = true;
    await loop;
    const all = sortTps([...c1.assignment(), ...c2.assignment()]);
    assert.deepEqual(
      all,
      [0, 1, 2, 3].map((partition) => ({ topic, partition })),
    );
    assert.deepEqual(l1.calls.map((c) => c[0]), [
      "assigned",
      "revoked",
      "assigned",
    ]);
    assert.equal(l1.calls[1]![1].length, 4);
    assert.deepEqual(l2.calls.map((c) => c[0]), ["assigned"]);
    // Records go to the owner.
    await fill(t, topic, 4, 3);
    const [r1, r2] = await Promise.all([
      pollN(c1, 6, 15_000),
      pollN(c2, 6, 15_000),
    ]);
    assert.deepEqual(
      new Set(r1.map((r) => r.partition)),
      new Set(c1.assignment().map((tp) => tp.partition)),
    );
    assert.deepEqual(
      new Set(r2.map((r) => r.partition)),
      new Set(c2.assignment().map((tp) => tp.partition)),
    );
    await c2.close();
    await c1.close();
  } finally {
    await t.deleteTopic(topic);
    await t.stop();
  }
});

Deno.test("KafkaConsumer.subscribe() with a new topic list rebalances onto it", async () => {
  const t = await startTransport();
  const a = unique("suba");
  const b = unique("subb");
  try {
    await t.createTopic({ name: a, partitions: 1 });
    await t.createTopic({ name: b, partitions: 2 });
    const l = new RecordingListener();
    const c = t.createConsumer({ groupId: unique("g"), listener: l });
    await c.subscribe([a]);
    await c.subscribe([a, b]);
    assert.equal(c.assignment().length, 3);
    await c.subscribe([b]);
    assert.deepEqual(sortTps(c.assignment()).map((tp) => tp.topic), [b, b]);
    assert.deepEqual(l.calls.map((x) => x[0]), [
      "assigned",
      "revoked",
      "assigned",
      "revoked",
      "assigned",
    ]);
    await c.close();
  } finally {
    await t.deleteTopic(a);
    await t.deleteTopic(b);
    await t.stop();
  }
});

Deno.test("KafkaConsumer.subscribe() to a missing topic rejects with the broker's error, and close() after it leaves nothing unhandled", async () => {
  // Before: close() rejected the join waiter of the failed subscribe, which
  // nothing awaited: the process ended on that unhandled ClosedError and
  // the error that caused the stop was never seen.
  const t = await startTransport();
  try {
    const c = t.createConsumer({
      groupId: unique("g"),
      listener: new RecordingListener(),
    });
    await assert.rejects(
      c.subscribe([unique("missing")]),
      /does not host this topic-partition/,
    );
    await c.close();
    // An unhandled rejection would surface within a turn or two.
    await new Promise((r) => setTimeout(r, 50));
  } finally {
    await t.stop();
  }
});

Deno.test("KafkaConsumer: offsets committed on revocation are accepted (before the member rejoins), so the next owner starts after them", async () => {
  const t = await startTransport();
  const topic = unique("revoke-commit");
  const groupId = unique("g");
  try {
    await t.createTopic({ name: topic, partitions: 4 });
    await fill(t, topic, 4, 25);
    const l1 = new RecordingListener();
    const c1 = t.createConsumer({ groupId, listener: l1 });
    const read = new Map<number, number>();
    const revokeErrors: string[] = [];
    // What a worker does on revocation: finish the events in hand and flush
    // (here: 500 ms), then commit what it processed.
    l1.onRevoke = async (tps) => {
      await new Promise((r) => setTimeout(r, 500));
      const offsets = tps.filter((tp) => read.has(tp.partition)).map((tp) => ({
        ...tp,
        offset: read.get(tp.partition)! + 1,
      }));
      await c1.commit(offsets).catch((e) => revokeErrors.push(String(e)));
    };
    await c1.subscribe([topic]);
    for (const r of await pollN(c1, 100)) read.set(r.partition, r.offset);
    assert.equal([...read.values()].reduce((a, b) => a + b + 1, 0), 100);
    // c1 keeps polling (its fetch loop sees the rebalance) while c2 joins.
    let stop = false;
    const loop = (async () => {
      while (!stop) await c1.poll(100, 200);
    })();
    const l2 = new RecordingListener();
    const c2 = t.createConsumer({ groupId, listener: l2 });
    await c2.subscribe([topic]);
    await waitFor(() => l1.calls.length >= 3, "c1 revoked and reassigned");
    stop = true;
    await loop;
    assert.deepEqual(revokeErrors, [], "the commit on revocation succeeds");
    const committed = await c2.committed(
      [0, 1, 2, 3].map((partition) => ({ topic, partition })),
    );
    for (let p = 0; p < 4; p++) {
      assert.equal(committed.get(tpKey({ topic, partition: p })), 25);
    }
    // c2 reads nothing c1 already processed.
    assert.deepEqual(await c2.poll(100, 1500), []);
    await c2.close();
    await c1.close();
  } finally {
    await t.deleteTopic(topic);
    await t.stop();
  }
});
